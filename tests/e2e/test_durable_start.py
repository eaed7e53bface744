"""StartExecution failing at intake (throttled, timed out, unreachable): the order still completes, unasked.

WooCommerce never retries a delivery it got a 2xx for, so the start must happen without it: intake answers
202 once the order is recorded, the start queue's consumer starts it (here after one more throttled try,
so its backoff runs too), and the order goes to COMPLETED. Faults are injected before the call leaves the
function's client (``local.aws_calls``), as AWS would answer it.
"""

from __future__ import annotations

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from local import aws_calls
from local.client import send_woocommerce
from local.runtime import LocalRuntime
from tests.e2e.conftest import new_order_body
from tests.e2e.test_fulfillment import executions_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("failure", ["ThrottlingException", "ReadTimeout", "ConnectionError"])
def test_an_order_whose_start_fails_at_intake_completes_without_a_retry_from_the_store(
    runtime: LocalRuntime, woo_paid_body: bytes, failure: str
) -> None:
    paid, key = new_order_body(woo_paid_body)
    name = key.replace(":", "_")

    with (
        aws_calls.failing("states:StartExecution", failure, function="IntakeWebhookFunction") as at_intake,
        aws_calls.failing(
            "states:StartExecution", "ThrottlingException", times=1, function="StartFulfillmentFunction"
        ) as at_consumer,
    ):
        answer = send_woocommerce(runtime.api_url, "kaffeekontor", paid, "test-secret")
        assert (answer.status, answer.body["status"], answer.body["fulfillment_started"]) == (202, "RECEIVED", False)
        assert answer.body["start_queued"] is True
        execution = runtime.wait_for_execution(name, timeout=90)

    assert (at_intake.raised, at_consumer.raised) == (1, 1)  # the consumer's backoff ran before it started
    assert execution["status"] == "SUCCEEDED"
    assert len(executions_for(runtime, name)) == 1
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED


def test_an_order_whose_start_and_start_queue_both_fail_is_started_by_the_sweep(
    runtime: LocalRuntime, woo_paid_body: bytes
) -> None:
    paid, key = new_order_body(woo_paid_body)
    name = key.replace(":", "_")
    with (
        aws_calls.failing("states:StartExecution", "ThrottlingException", function="IntakeWebhookFunction"),
        aws_calls.failing(
            "sqs:SendMessage", "AWS.SimpleQueueService.ServiceUnavailable", function="IntakeWebhookFunction"
        ),
    ):
        answer = send_woocommerce(runtime.api_url, "kaffeekontor", paid, "test-secret")
    assert (answer.status, answer.body["start_queued"]) == (202, True)
    assert executions_for(runtime, name) == []  # nothing started it, nothing queued it

    # The schedule's own invocation, without waiting out its grace period (every order RECEIVED counts).
    swept = runtime.functions["StartSweepFunction"].invoke({"grace_seconds": 0})

    assert swept.error_type is None and swept.payload["queued"] >= 1
    execution = runtime.wait_for_execution(name, timeout=90)
    assert execution["status"] == "SUCCEEDED"
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED
