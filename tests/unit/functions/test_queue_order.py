"""The FIFO consumers keep each order's messages in order under partial batch failures (one group per order)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from fulfillment.edge.queue import queue_handler
from local.lambdas import LambdaContext

ARN = "arn:aws:sqs:us-east-1:123456789012:WriteBackQueue.fifo"


class Note(BaseModel):
    order_key: str
    kind: str


def record(message_id: str, group: str, kind: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": Note(order_key=group, kind=kind).model_dump_json(),
        "attributes": {"MessageGroupId": group, "SequenceNumber": message_id, "MessageDeduplicationId": message_id},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


def test_a_failed_message_holds_back_the_rest_of_its_order_and_only_that() -> None:
    # GIVEN a batch with two orders' write-backs, and the store refusing order A's "shipped" for now
    applied: list[tuple[str, str]] = []

    def tell_the_store(note: Note, _: Any) -> None:
        if (note.order_key, note.kind) == ("A", "shipped"):
            raise RuntimeError("store unavailable")
        applied.append((note.order_key, note.kind))

    handler = queue_handler(Note, tell_the_store)
    batch = [record("1", "A", "shipped"), record("2", "B", "shipped"), record("3", "A", "completed")]
    context = LambdaContext(
        "WriteBackFunction", 256, "arn:aws:lambda:us-east-1:1:function:W", "r", time.monotonic() + 9
    )

    # WHEN the batch is consumed
    answer = handler({"Records": batch}, context, deps=object())

    # THEN order A's "completed" was not told before its failed "shipped": both come back, in order; B went on
    assert applied == [("B", "shipped")]
    assert [item["itemIdentifier"] for item in answer["batchItemFailures"]] == ["1", "3"]
