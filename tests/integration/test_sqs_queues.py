"""The SQS adapters and the queue worker against moto's SQS, with the FIFO queues template.yaml declares.

The adapters: what lands on the queue (body, message group, deduplication), and that a failed send is a
TransientError. The worker (``queue_handler``): real SQS event records, as Lambda's poller builds them
from received messages, through Powertools' batch processor: partial failures, a whole batch failing,
and a platform's ``Retry-After`` becoming the message's visibility timeout.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from fulfillment.adapters.sqs import SqsFetchQueue, SqsStoreNotifier
from fulfillment.bootstrap import Container
from fulfillment.edge.queue import queue_handler
from fulfillment.errors import TransientError
from fulfillment.model.inbound import FetchRequest
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.settings import Settings
from local.lambdas import LambdaContext
from local.queues import local_queue_attributes
from local.template import ACCOUNT, REGION, LocalTemplate
from tests.conftest import ROOT


@dataclass
class Queues:
    sqs: Any
    urls: dict[str, str]  # by logical id

    @property
    def fetch(self) -> str:
        return self.urls["FetchQueue"]

    @property
    def write_back(self) -> str:
        return self.urls["WriteBackQueue"]

    def receive(self, url: str, visibility: int = 30) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:  # until the queue answers nothing (what was received stays hidden for ``visibility`` s)
            page = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility, AttributeNames=["All"]
            ).get("Messages", [])
            messages += page
            if not page or not visibility:
                return messages

    def send(self, url: str, body: str, group: str = "g") -> None:
        self.sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=str(time.time_ns())
        )


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        template = LocalTemplate(ROOT)
        sqs = boto3.client("sqs")
        urls: dict[str, str] = {}
        for queue in sorted(template.queues(), key=lambda spec: "RedrivePolicy" in spec.properties):
            attributes = local_queue_attributes(template.resolve(queue.properties), visibility_seconds=30)
            urls[queue.logical_id] = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        yield Queues(sqs, urls)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def fetch_request(**overrides: Any) -> FetchRequest:
    fields: dict[str, Any] = {
        "platform": "bigcommerce",
        "store_id": "bc-shop",
        "external_order_id": "1187",
        "topic": "store/order/created",
        "event_id": "evt-1",
    }
    return FetchRequest(**(fields | overrides))


class TestFetchQueue:
    def test_a_request_is_queued_as_its_json_in_the_orders_group(self, queues: Queues) -> None:
        request = fetch_request()

        SqsFetchQueue(queues.fetch, queues.sqs).enqueue(request)

        [message] = queues.receive(queues.fetch)
        assert FetchRequest.model_validate_json(message["Body"]) == request
        assert message["Attributes"]["MessageGroupId"] == sha256("bc-shop:1187")[:128]
        assert message["Attributes"]["MessageDeduplicationId"] == sha256("bigcommerce:bc-shop:evt-1")

    def test_a_redelivered_webhook_queues_nothing_new_but_a_new_event_does(self, queues: Queues) -> None:
        fetches = SqsFetchQueue(queues.fetch, queues.sqs)

        fetches.enqueue(fetch_request())
        fetches.enqueue(fetch_request())  # the platform retried the same delivery
        fetches.enqueue(fetch_request(event_id="evt-2", topic="store/order/statusUpdated"))

        messages = queues.receive(queues.fetch)
        assert [FetchRequest.model_validate_json(m["Body"]).event_id for m in messages] == ["evt-1", "evt-2"]
        assert len({m["Attributes"]["MessageGroupId"] for m in messages}) == 1  # one order: one group, in order

    def test_without_an_event_id_the_order_id_deduplicates(self, queues: Queues) -> None:
        fetches = SqsFetchQueue(queues.fetch, queues.sqs)

        fetches.enqueue(fetch_request(event_id=None))
        fetches.enqueue(fetch_request(event_id=None, topic="store/order/updated"))
        fetches.enqueue(fetch_request(event_id=None, external_order_id="1188"))

        messages = queues.receive(queues.fetch)
        assert sorted(FetchRequest.model_validate_json(m["Body"]).external_order_id for m in messages) == [
            "1187",
            "1188",
        ]
        assert {m["Attributes"]["MessageDeduplicationId"] for m in messages} == {
            sha256("bigcommerce:bc-shop:1187"),
            sha256("bigcommerce:bc-shop:1188"),
        }

    def test_a_send_sqs_refuses_is_a_transient_error(self, queues: Queues) -> None:
        missing = queues.fetch.rsplit("/", 1)[0] + "/NoSuchQueue.fifo"

        with pytest.raises(TransientError, match="SQS "):
            SqsFetchQueue(missing, queues.sqs).enqueue(fetch_request())

        assert queues.receive(queues.fetch) == []


class TestStoreNotifier:
    def test_an_orders_updates_share_a_group_and_keep_their_order(self, queues: Queues) -> None:
        notifier = SqsStoreNotifier(queues.write_back, queues.sqs)
        shipped = WriteBackRequest(order_key="kaffeekontor:4711", kind=UpdateKind.SHIPPED)
        completed = WriteBackRequest(order_key="kaffeekontor:4711", kind=UpdateKind.COMPLETED)
        other = WriteBackRequest(order_key="kaffeekontor:4712", kind=UpdateKind.SHIPPED)

        for request in (shipped, other, completed):
            notifier.notify(request)

        messages = queues.receive(queues.write_back)
        by_group: dict[str, list[WriteBackRequest]] = {}
        for message in messages:
            by_group.setdefault(message["Attributes"]["MessageGroupId"], []).append(
                WriteBackRequest.model_validate_json(message["Body"])
            )
        assert by_group == {sha256("kaffeekontor:4711"): [shipped, completed], sha256("kaffeekontor:4712"): [other]}

    def test_a_retried_step_sends_once_but_two_refunds_are_two_messages(self, queues: Queues) -> None:
        notifier = SqsStoreNotifier(queues.write_back, queues.sqs)
        first = WriteBackRequest(order_key="kaffeekontor:4711", kind=UpdateKind.REFUNDED, amount_minor=1450)
        second = first.model_copy(update={"amount_minor": 2900})

        notifier.notify(first)
        notifier.notify(first)  # the step was retried
        notifier.notify(second)

        messages = queues.receive(queues.write_back)
        assert [WriteBackRequest.model_validate_json(m["Body"]).amount_minor for m in messages] == [1450, 2900]
        assert [m["Attributes"]["MessageDeduplicationId"] for m in messages] == [
            sha256(first.dedupe_id),
            sha256(second.dedupe_id),
        ]

    def test_a_send_sqs_refuses_is_a_transient_error(self, queues: Queues) -> None:
        missing = queues.write_back.rsplit("/", 1)[0] + "/NoSuchQueue.fifo"
        request = WriteBackRequest(order_key="kaffeekontor:4711", kind=UpdateKind.SHIPPED)

        with pytest.raises(TransientError, match="SQS "):
            SqsStoreNotifier(missing, queues.sqs).notify(request)

        assert queues.receive(queues.write_back) == []


# --- the queue worker ---------------------------------------------------------------------------------
@dataclass
class Worker:
    """What the handler's service call saw, and how it should answer each message (by order id)."""

    seen: list[tuple[FetchRequest, Container]] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)

    def run(self, message: FetchRequest, deps: Container) -> str:
        self.seen.append((message, deps))
        if message.external_order_id in self.failures:
            raise self.failures[message.external_order_id]
        return "recorded"


def context() -> LambdaContext:
    return LambdaContext(
        function_name="FetchOrderFunction",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:FetchOrderFunction",
        aws_request_id="req-1",
        deadline=time.monotonic() + 30,
    )


def sqs_event(queues: Queues, url: str, visibility: int = 30) -> dict[str, Any]:
    """Receive what is on the queue and hand it over as Lambda's SQS event source mapping does."""
    name = url.rsplit("/", 1)[1]
    records = [
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message["Attributes"],
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "awsRegion": REGION,
        }
        for message in queues.receive(url, visibility=visibility)
    ]
    return {"Records": records}


def enqueue(queues: Queues, *order_ids: str) -> list[FetchRequest]:
    fetches = SqsFetchQueue(queues.fetch, queues.sqs)
    requests = [fetch_request(external_order_id=order_id, event_id=f"evt-{order_id}") for order_id in order_ids]
    for request in requests:
        fetches.enqueue(request)
    return requests


def worker_deps(queues: Queues, *, configured: bool = True) -> Container:
    urls = {"fetch_queue_url": queues.fetch, "write_back_queue_url": queues.write_back} if configured else {}
    return Container(Settings(table_name="FulfillmentTable", **urls), session=boto3.session.Session())


def invisible(queues: Queues, url: str) -> int:
    attributes = queues.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


Handler = Callable[..., dict[str, Any]]


class TestQueueWorker:
    @pytest.fixture
    def worker(self) -> Worker:
        return Worker()

    @pytest.fixture
    def handler(self, worker: Worker) -> Handler:
        return queue_handler(FetchRequest, worker.run)

    def test_every_message_is_parsed_and_handled_with_the_containers_deps(
        self, queues: Queues, worker: Worker, handler: Handler
    ) -> None:
        sent = enqueue(queues, "1187", "1188")
        deps = worker_deps(queues)

        answer = handler(sqs_event(queues, queues.fetch), context(), deps)

        assert answer == {"batchItemFailures": []}
        assert sorted((m for m, _ in worker.seen), key=lambda m: m.external_order_id) == sent
        assert all(seen is deps for _, seen in worker.seen)

    def test_only_the_messages_that_failed_are_reported_back(
        self, queues: Queues, worker: Worker, handler: Handler
    ) -> None:
        enqueue(queues, "1187", "1188", "1189")
        worker.failures["1188"] = RuntimeError("platform API broke")
        event = sqs_event(queues, queues.fetch)
        failed_id = next(r["messageId"] for r in event["Records"] if '"1188"' in r["body"])

        answer = handler(event, context(), worker_deps(queues))

        assert answer == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
        assert sorted(message.external_order_id for message, _ in worker.seen) == ["1187", "1188", "1189"]

    def test_a_body_that_is_not_the_message_model_fails_only_that_message(
        self, queues: Queues, worker: Worker, handler: Handler
    ) -> None:
        enqueue(queues, "1187")
        queues.send(queues.fetch, json.dumps({"platform": "bigcommerce"}), group="broken")
        event = sqs_event(queues, queues.fetch)
        broken = next(r["messageId"] for r in event["Records"] if "1187" not in r["body"])

        answer = handler(event, context(), worker_deps(queues))

        assert answer == {"batchItemFailures": [{"itemIdentifier": broken}]}
        assert [message.external_order_id for message, _ in worker.seen] == ["1187"]

    def test_a_batch_where_everything_failed_is_returned_whole(
        self, queues: Queues, worker: Worker, handler: Handler
    ) -> None:
        enqueue(queues, "1187", "1188")
        worker.failures = {"1187": RuntimeError("down"), "1188": TransientError("down too")}

        with pytest.raises(BatchProcessingError):
            handler(sqs_event(queues, queues.fetch), context(), worker_deps(queues))

        assert len(worker.seen) == 2

    @pytest.mark.parametrize("configured", [True, False], ids=["configured-queue-url", "url-from-the-arn"])
    def test_a_retry_after_hides_the_message_for_exactly_that_long(
        self, queues: Queues, worker: Worker, handler: Handler, configured: bool
    ) -> None:
        enqueue(queues, "1187", "1188")
        worker.failures["1187"] = TransientError("429 from the platform", retry_after=120)
        event = sqs_event(queues, queues.fetch, visibility=0)  # received, but visible again at once
        assert invisible(queues, queues.fetch) == 0

        answer = handler(event, context(), worker_deps(queues, configured=configured))

        [failure] = answer["batchItemFailures"]
        assert failure["itemIdentifier"] == next(r["messageId"] for r in event["Records"] if '"1187"' in r["body"])
        assert invisible(queues, queues.fetch) == 1  # the other message is visible: it was handled
        visible = queues.receive(queues.fetch)
        assert [FetchRequest.model_validate_json(m["Body"]).external_order_id for m in visible] == ["1188"]

    def test_a_transient_error_without_retry_after_leaves_the_visibility_alone(
        self, queues: Queues, worker: Worker, handler: Handler
    ) -> None:
        enqueue(queues, "1187", "1188")
        worker.failures["1187"] = TransientError("platform timed out")
        event = sqs_event(queues, queues.fetch, visibility=0)

        answer = handler(event, context(), worker_deps(queues))

        assert len(answer["batchItemFailures"]) == 1
        assert invisible(queues, queues.fetch) == 0  # comes back after the queue's own visibility timeout
