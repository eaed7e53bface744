"""The durable start against moto: the start queue's consumer and the sweep, through their real handlers.

Step Functions is moto's (executions are recorded, not run); a throttled StartExecution is injected by
``local.aws_calls`` for the consumer's calls only, as AWS would answer it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fulfillment.bootstrap import Container
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inbound import StartRequest
from fulfillment.settings import Settings
from functions.start_fulfillment.app import lambda_handler as start_fulfillment
from functions.start_sweep.app import lambda_handler as start_sweep
from local import aws_calls
from local.lambdas import LambdaContext
from local.template import ACCOUNT, REGION
from tests.fakes import make_order
from tests.integration.conftest import AwsStack

CONSUMER = "StartFulfillmentFunction"


@pytest.fixture
def start_queue(aws: AwsStack) -> Iterator[str]:
    aws_calls.install()  # before the handlers' sessions exist
    sqs = boto3.client("sqs")
    yield sqs.create_queue(QueueName="StartQueue", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]


def deps_for(aws: AwsStack, queue_url: str) -> Container:
    settings = Settings(table_name=aws.table_name, state_machine_arn=aws.state_machine_arn, start_queue_url=queue_url)
    return Container(settings, session=boto3.session.Session())


def context(function: str) -> LambdaContext:
    return LambdaContext(function, 256, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}", "req-1", 1e12)


def received(deps: Container, external_id: str) -> Order:
    order = make_order(external_id=external_id)
    order.record_receipt("placed and paid", at=order.placed_at)
    deps.orders.create(order)
    return order


def keys_of(event: dict[str, Any]) -> list[str]:
    return [StartRequest.model_validate_json(record["body"]).order_key for record in event["Records"]]


def pending_starts(queue_url: str, visibility: int = 0) -> dict[str, Any]:
    """What is visible on the start queue, as Lambda's event source mapping hands it over."""
    messages = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=visibility
    )
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:StartQueue",
                "awsRegion": REGION,
            }
            for message in messages.get("Messages", [])
        ]
    }


class TestStartConsumer:
    def test_starts_each_order_once_however_often_it_is_asked(self, aws: AwsStack, start_queue: str) -> None:
        deps = deps_for(aws, start_queue)
        order = received(deps, "7001")
        for _ in range(2):  # intake's deferral and a sweep both asked
            deps.starts.request(StartRequest(order_key=order.key))

        answer = start_fulfillment(pending_starts(start_queue), context(CONSUMER), deps)

        assert answer["batchItemFailures"] == []
        assert [e["name"] for e in aws.executions()] == [order.execution_name()]
        again = start_fulfillment({"Records": [_record(order.key)]}, context(CONSUMER), deps)
        assert again["batchItemFailures"] == []  # ExecutionAlreadyExists: done
        assert len(aws.executions()) == 1

    def test_a_throttled_start_fails_alone_and_backs_off(self, aws: AwsStack, start_queue: str) -> None:
        deps = deps_for(aws, start_queue)
        throttled, other = received(deps, "7002"), received(deps, "7003")
        for order in (throttled, other):
            deps.starts.request(StartRequest(order_key=order.key))
        event = pending_starts(start_queue)
        first = event["Records"][keys_of(event).index(throttled.key)]

        with (
            aws_calls.acting_as(CONSUMER),
            aws_calls.failing("states:StartExecution", "ThrottlingException", times=1, function=CONSUMER),
        ):
            answer = start_fulfillment(
                {"Records": [first, *(r for r in event["Records"] if r is not first)]}, context(CONSUMER), deps
            )

        assert answer["batchItemFailures"] == [{"itemIdentifier": first["messageId"]}]
        assert [e["name"] for e in aws.executions()] == [other.execution_name()]
        # The throttled one is hidden for its backoff; the started one stays until the poller deletes it.
        assert keys_of(pending_starts(start_queue)) == [other.key]


def _record(order_key: str) -> dict[str, Any]:
    return {
        "messageId": f"m-{order_key}",
        "receiptHandle": "r",
        "body": StartRequest(order_key=order_key).model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:StartQueue",
        "awsRegion": REGION,
    }


class TestSweep:
    def test_queues_every_order_left_received_and_nothing_else(self, aws: AwsStack, start_queue: str) -> None:
        deps = deps_for(aws, start_queue)
        waiting = [received(deps, "7101"), received(deps, "7102")]
        moved_on = received(deps, "7103")
        moved_on.transition_to(OrderStatus.VALIDATED, "validated")
        deps.orders.save(moved_on)

        answer = start_sweep({"grace_seconds": 0}, context("StartSweepFunction"), deps)

        assert (answer["waiting"], answer["queued"]) == (2, 2)
        assert answer["oldest_seconds"] >= 0
        assert sorted(keys_of(pending_starts(start_queue))) == sorted(order.key for order in waiting)

    def test_within_the_grace_period_nothing_is_queued(self, aws: AwsStack, start_queue: str) -> None:
        deps = deps_for(aws, start_queue)
        received(deps, "7201")

        answer = start_sweep({"grace_seconds": 600}, context("StartSweepFunction"), deps)

        assert (answer["waiting"], answer["queued"]) == (0, 0)
        assert pending_starts(start_queue)["Records"] == []
        assert json.dumps(answer)  # the schedule's invocation result is plain JSON
