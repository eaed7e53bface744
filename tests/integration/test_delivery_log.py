"""DynamoDeliveryLog against moto: a redelivery is recognised, and a first delivery whose write answer was lost
(the SDK retried the same PutItem, which then fails its own condition) is still first — never dropped."""

from __future__ import annotations

from typing import Any

import pytest

from fulfillment.adapters.dynamodb import DynamoDeliveryLog
from tests.integration.conftest import AwsStack


@pytest.fixture
def log(aws: AwsStack) -> DynamoDeliveryLog:
    return DynamoDeliveryLog(aws.table_name, aws.dynamodb)


def test_a_delivery_id_is_first_seen_once(log: DynamoDeliveryLog) -> None:
    assert log.first_seen("shopify", "kaffee-shopify", "evt-1") is True
    assert log.first_seen("shopify", "kaffee-shopify", "evt-1") is False  # the platform's retry
    assert log.first_seen("shopify", "kaffee-shopify", "evt-2") is True
    assert log.first_seen("bigcommerce", "kaffee-shopify", "evt-1") is True  # ids are per platform and store


def test_forget_lets_the_retry_of_a_failed_delivery_through(log: DynamoDeliveryLog) -> None:
    assert log.first_seen("ecwid", "kaffee-ecwid", "evt-1")
    log.forget("ecwid", "kaffee-ecwid", "evt-1")
    assert log.first_seen("ecwid", "kaffee-ecwid", "evt-1") is True


def test_a_first_write_whose_answer_was_lost_is_still_first(log: DynamoDeliveryLog, aws: AwsStack) -> None:
    # GIVEN the PutItem succeeds but its answer is lost once: botocore's retry handler is told to retry it,
    # exactly as it does after a read timeout or a 500, so the same request runs a second time.
    calls: list[str] = []

    def lose_the_first_answer(attempts: int, **_: Any) -> int | None:
        calls.append("put")
        return 0 if attempts == 1 else None  # retry at once after the first attempt; then botocore decides

    events = aws.dynamodb.meta.events
    events.register_first("needs-retry.dynamodb.PutItem", lose_the_first_answer)
    try:
        # WHEN a new delivery is recorded
        first = log.first_seen("bigcommerce", "kaffee-bc", "hook-1")
    finally:
        events.unregister("needs-retry.dynamodb.PutItem", lose_the_first_answer)

    # THEN the retry failed its own condition, recognised its token, and the delivery counts as new
    assert len(calls) == 2 and first is True
    # … while a genuine redelivery afterwards is still a duplicate
    assert log.first_seen("bigcommerce", "kaffee-bc", "hook-1") is False
