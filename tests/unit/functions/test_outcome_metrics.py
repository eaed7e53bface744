"""The EMF metrics the dashboard and alarms read, emitted at the step edge."""

from __future__ import annotations

import json

import pytest

from fulfillment.edge.task import AlertInput, StepInput, record_outcome_metrics
from fulfillment.model import OrderStatus
from tests.fakes import make_order


def emitted(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    lines = [line for line in lines if "_aws" in line]  # not the steps' JSON log lines
    return {metric["Name"]: line for line in lines for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrderFulfillment")


def test_a_completed_order_counts_and_times_its_fulfillment(capsys: pytest.CaptureFixture[str]) -> None:
    record_outcome_metrics(StepInput(order_key="kaffeekontor:1"), make_order(status=OrderStatus.COMPLETED))

    metrics = emitted(capsys)
    assert metrics["OrdersCompleted"]["platform"] == "woocommerce"
    assert metrics["FulfillmentDurationSeconds"]["FulfillmentDurationSeconds"][0] > 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "name"), [(OrderStatus.FAILED, "OrdersFailed"), (OrderStatus.CANCELLED, "OrdersCancelled")]
)
def test_failed_and_cancelled_orders_are_counted(
    capsys: pytest.CaptureFixture[str], status: OrderStatus, name: str
) -> None:
    record_outcome_metrics(StepInput(order_key="kaffeekontor:1"), make_order(status=status))

    assert set(emitted(capsys)) == {name}


def test_an_alert_step_counts_the_alert_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    record_outcome_metrics(AlertInput(order_key="kaffeekontor:1", alert="delivery_overdue"), None)

    assert emitted(capsys)["AlertsRaised"]["alert"] == "delivery_overdue"


def test_an_order_still_in_progress_emits_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    record_outcome_metrics(StepInput(order_key="kaffeekontor:1"), make_order(status=OrderStatus.PACKAGED))

    assert emitted(capsys) == {}


class TestWebhooksRefused:
    def test_a_refusal_counts_by_platform_and_reason(self, capsys: pytest.CaptureFixture[str]) -> None:
        from fulfillment.errors import InvalidSignature
        from functions.intake_webhook.app import record_refusal

        record_refusal("woocommerce", InvalidSignature("signature does not match the body"))

        refused = emitted(capsys)["WebhooksRefused"]
        assert (refused["platform"], refused["reason"], refused["WebhooksRefused"]) == (
            "woocommerce",
            "invalid_signature",
            [1.0],
        )

    def test_a_retry_later_answer_is_not_a_refusal(self, capsys: pytest.CaptureFixture[str]) -> None:
        from fulfillment.errors import TransientError
        from functions.intake_webhook.app import record_refusal

        record_refusal("woocommerce", TransientError("DynamoDB throttled"))

        assert "WebhooksRefused" not in emitted(capsys)


class TestCallbackWaitSeconds:
    """Parked → answered (here by an operator, in the CLI) → the step that resumes emits how long the wait took."""

    def test_the_step_after_an_answered_wait_times_it_once(self, capsys: pytest.CaptureFixture[str]) -> None:
        from datetime import UTC, datetime, timedelta

        from fulfillment.steps.decisions import Decision, decide
        from tests.fakes import FulfillmentWorld
        from tests.unit.functions.test_step_handlers import invoke

        world = FulfillmentWorld()
        key = world.order_at(OrderStatus.VALIDATED)
        invoke("await_callback", {"order_key": key, "task_token": "token-1", "waiting_for": "approval"}, world)
        parked = world.stored(key)
        assert parked.wait.since is not None
        parked.wait.since = datetime.now(UTC) - timedelta(seconds=90)  # a person took a minute and a half
        world.orders.save(parked)
        decide(key, Decision.APPROVE, world, by="ops")
        answered = world.stored(key)
        assert answered.wait.since is None and answered.wait.last is not None
        assert answered.wait.last.kind == "approval"
        capsys.readouterr()

        invoke("reserve_inventory", {"order_key": key}, world)

        metric = emitted(capsys)["CallbackWaitSeconds"]
        assert metric["wait"] == "approval"
        assert 90 <= metric["CallbackWaitSeconds"][0] < 100  # type: ignore[index]
        assert metric["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "CallbackWaitSeconds", "Unit": "Seconds"}]  # type: ignore[index]
        assert world.stored(key).wait.last is None
        from fulfillment.edge.task import record_wait_metric

        record_wait_metric(key, world.orders)  # a retried step, or the next one: nothing more to emit
        assert "CallbackWaitSeconds" not in emitted(capsys)

    def test_a_step_not_after_a_wait_emits_no_wait(self, capsys: pytest.CaptureFixture[str]) -> None:
        from tests.fakes import FulfillmentWorld
        from tests.unit.functions.test_step_handlers import invoke

        world = FulfillmentWorld()
        key = world.order_at(OrderStatus.VALIDATED)
        version = world.stored(key).version

        invoke("reserve_inventory", {"order_key": key}, world)

        assert "CallbackWaitSeconds" not in emitted(capsys)
        assert world.stored(key).version == version + 1  # the step's own save; no extra write
