"""An operator's re-run of a failed order (``fulfillment.steps.rerun``), over the fakes and the ASL-walking driver.

Each test fails an order the way the state machine would (``run_happy_path`` with a fault), ends its
execution, re-runs it, runs the new (or redriven) execution, and checks every side effect happened once
for the attempt that completed.
"""

from __future__ import annotations

import pytest

from fulfillment.errors import RerunRefused
from fulfillment.model import OrderStatus
from fulfillment.model.payment import capture_key, void_key
from fulfillment.steps.rerun import order_executions, rerun, rerun_execution_name
from tests.fakes import FulfillmentWorld, make_order
from tests.fakes_platform_payments import FakePlatformPayments
from tests.unit.services.test_fault_injection import HAPPY_PATH, Fault, broken, run_happy_path

S = OrderStatus
SKU = "MUG-CC-BLU"
STOCK = 10
UNITS = 2
BASE = "kaffeekontor_4711"
AUTHORIZED = {"payment_method": "authorized"}


@pytest.fixture
def world() -> FulfillmentWorld:
    # A store whose gateway cannot refund through the API: a failed order's money is owed (a refund due), not yet
    # paid back, so an operator may fulfil it again instead (a paid-back order cannot be: test below).
    return FulfillmentWorld(platform_payments={"woocommerce": FakePlatformPayments(refunds_online=False)})


def started(world: FulfillmentWorld, **overrides: object) -> str:
    key = world.order_at(S.RECEIVED, stock=STOCK, **overrides)  # type: ignore[arg-type]
    assert world.workflow.start(world.stored(key))
    return key


def execution_ends(world: FulfillmentWorld, name: str, status: str = "FAILED", error: str | None = None) -> None:
    """The execution stopped; the tokens it handed out die with it (the driver reuses their names)."""
    world.workflow.statuses[name] = status
    if error:
        world.workflow.errors[name] = error
    world.workflow.resumed.clear()
    world.workflow.failed.clear()


def fails_for_good_at(world: FulfillmentWorld, key: str, call: str) -> None:
    run = run_happy_path(world, key, [Fault(call, times=None, error=broken)])
    assert run.end == "Fulfillment failed", run.path
    execution_ends(world, BASE)


class TestReopeningAFailedOrder:
    def test_it_goes_back_to_received_as_a_new_attempt_and_completes_with_each_side_effect_once(
        self, world: FulfillmentWorld
    ) -> None:
        key = started(world)
        fails_for_good_at(world, key, "carrier.buy")
        assert world.stored(key).status is S.FAILED

        result = rerun(key, world.orders, world.workflow, by="ops-lead", reason="carrier API fixed")

        assert (result.action, result.execution_name, result.attempt) == ("reopened", f"{BASE}-rerun1", 1)
        reopened = world.stored(key)
        assert (reopened.status, reopened.attempt, reopened.failure) == (S.RECEIVED, 1, None)
        event = world.last_event(key)
        assert (event.previous_status, event.status) == (S.FAILED, S.RECEIVED)
        assert "reopened by ops-lead: carrier API fixed" in event.reason
        assert event.detail["previous_failure"]["error"] == "RuntimeError"
        assert world.workflow.started == [BASE, f"{BASE}-rerun1"]

        run = run_happy_path(world, key)

        assert run.path == HAPPY_PATH
        assert world.stored(key).status is S.COMPLETED
        assert world.inventory.reservation(key).status == "released"  # the failed attempt's
        assert world.inventory.reservation(f"{key}:a1").status == "consumed"
        assert world.level(SKU).on_hand == STOCK - UNITS and world.level(SKU).reserved == 0
        assert len(world.carrier.active(key)) == 1

    def test_a_lost_parcel_reopened_ships_a_new_label_and_the_cancelled_one_stays_cancelled(
        self, world: FulfillmentWorld
    ) -> None:
        key = started(world)
        run = run_happy_path(world, key, answers={"Wait for delivery confirmation": _carrier_loses_it})
        assert world.stored(key).status is S.FAILED, run.path
        execution_ends(world, BASE)
        first_label = world.carrier.bought(key)

        rerun(key, world.orders, world.workflow, by="ops")
        run_happy_path(world, key)

        assert world.stored(key).status is S.COMPLETED
        latest = world.carrier.bought(key)  # the lost parcel's label was used: it is not refunded
        assert first_label is not None and latest is not None and latest.tracking_number != first_label.tracking_number
        assert world.stored(key).tracking_number == latest.tracking_number
        assert world.carrier.refunds == []

    def test_an_authorization_voided_by_compensation_is_refused_the_customer_must_pay_again(
        self, world: FulfillmentWorld
    ) -> None:
        key = started(world, platform_refs=AUTHORIZED)
        fails_for_good_at(world, key, "carrier.buy")

        with pytest.raises(RerunRefused, match=r"payment voided.*pay again"):
            rerun(key, world.orders, world.workflow, by="ops")

        assert world.stored(key).status is S.FAILED
        assert world.workflow.started == [BASE]

    def test_cash_on_delivery_closed_by_compensation_is_refused_too(self, world: FulfillmentWorld) -> None:
        key = started(world, platform_refs={"payment_method": "cod"})
        fails_for_good_at(world, key, "carrier.buy")

        with pytest.raises(RerunRefused, match="cash_on_delivery payment was voided"):
            rerun(key, world.orders, world.workflow, by="ops")

    def test_the_new_attempt_uses_new_payment_keys_and_the_first_attempt_keeps_its_old_ones(self) -> None:
        first, later = make_order(), make_order(attempt=2)

        assert (capture_key(first), void_key(first)) == ("capture:kaffeekontor:4711", "void:kaffeekontor:4711")
        assert (capture_key(later), void_key(later)) == ("capture:kaffeekontor:4711:a2", "void:kaffeekontor:4711:a2")

    def test_a_second_reopen_counts_attempts_and_reruns_on(self, world: FulfillmentWorld) -> None:
        key = started(world)
        fails_for_good_at(world, key, "carrier.buy")
        rerun(key, world.orders, world.workflow, by="ops")
        run_happy_path(world, key, [Fault("carrier.buy", times=None, error=broken)])
        execution_ends(world, f"{BASE}-rerun1")

        result = rerun(key, world.orders, world.workflow, by="ops")

        assert (result.execution_name, result.attempt) == (f"{BASE}-rerun2", 2)
        assert run_happy_path(world, key).path == HAPPY_PATH
        assert world.level(SKU).on_hand == STOCK - UNITS


class TestRerunningAnExecutionThatFailedWithoutCompensating:
    def failed_mid_way(self, world: FulfillmentWorld) -> str:
        """The carrier was down at "Ship order", and compensation broke too: the order is left PACKAGED."""
        faults = [Fault(call, times=None, error=broken) for call in ("carrier.buy", "inventory.release")]
        run = run_happy_path(world, key := started(world), faults)
        assert (run.end, world.stored(key).status) == ("Fulfillment failed", S.PACKAGED), run.path
        execution_ends(world, BASE)
        return key

    def test_on_aws_the_failed_execution_is_redriven_and_the_request_noted(self, world: FulfillmentWorld) -> None:
        key = self.failed_mid_way(world)
        world.workflow.errors[BASE] = "States.Runtime"  # it stopped mid-step, short of the Fail state

        result = rerun(key, world.orders, world.workflow, by="ops-lead", reason="states runtime error")

        assert (result.action, result.execution_name) == ("redriven", BASE)
        assert world.workflow.redriven == [BASE]
        assert world.last_event(key).reason == "re-run requested by ops-lead: states runtime error"
        assert world.stored(key).status is S.PACKAGED

    def test_where_the_engine_cannot_redrive_a_new_execution_resumes_at_the_failed_step(
        self, world: FulfillmentWorld
    ) -> None:
        world.workflow.can_redrive = False
        key = self.failed_mid_way(world)

        result = rerun(key, world.orders, world.workflow, by="ops")

        assert (result.action, result.execution_name) == ("restarted", f"{BASE}-rerun1")
        run = run_happy_path(world, key)
        assert run.path == HAPPY_PATH
        assert world.stored(key).status is S.COMPLETED
        assert len(world.carrier.active(key)) == 1
        assert world.inventory.reservation(key).status == "consumed"  # the reservation it already held
        assert world.level(SKU).on_hand == STOCK - UNITS

    def test_an_execution_that_ended_in_the_fail_state_is_not_redriven_it_would_only_fail_again(
        self, world: FulfillmentWorld
    ) -> None:
        key = self.failed_mid_way(world)
        world.workflow.errors[BASE] = "FulfillmentFailed"

        result = rerun(key, world.orders, world.workflow, by="ops")

        assert (result.action, result.execution_name, world.workflow.redriven) == ("restarted", f"{BASE}-rerun1", [])

    def test_each_rerun_gets_the_next_number(self, world: FulfillmentWorld) -> None:
        world.workflow.can_redrive = False
        key = self.failed_mid_way(world)
        rerun(key, world.orders, world.workflow, by="ops")
        execution_ends(world, f"{BASE}-rerun1", "ABORTED")

        assert rerun(key, world.orders, world.workflow, by="ops").execution_name == f"{BASE}-rerun2"


class TestRefusals:
    def test_a_running_order_is_refused(self, world: FulfillmentWorld) -> None:
        key = started(world)

        with pytest.raises(RerunRefused, match="still running"):
            rerun(key, world.orders, world.workflow, by="ops")

    @pytest.mark.parametrize("status", [S.CANCELLED, S.COMPLETED])
    def test_a_cancelled_or_completed_order_is_refused(self, world: FulfillmentWorld, status: OrderStatus) -> None:
        key = world.order_at(status)
        world.workflow.start(world.stored(key))
        execution_ends(world, BASE, "SUCCEEDED")

        with pytest.raises(RerunRefused, match=str(status)):
            rerun(key, world.orders, world.workflow, by="ops")

    def test_an_unpaid_order_is_refused(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.PENDING_PAYMENT)

        with pytest.raises(RerunRefused, match="not paid"):
            rerun(key, world.orders, world.workflow, by="ops")


class TestExecutionNames:
    def test_a_long_name_stays_within_80_characters_and_unique_to_its_order(self) -> None:
        first, second = "a" * 69 + "-0123456789", "a" * 69 + "-9876543210"

        names = {rerun_execution_name(first, 12), rerun_execution_name(second, 12)}

        assert len(names) == 2 and all(len(name) <= 80 and name.endswith("-rerun12") for name in names)

    def test_the_order_executions_are_found_oldest_first(self, world: FulfillmentWorld) -> None:
        key = started(world)
        order = world.stored(key)
        world.workflow.start_named(order, f"{BASE}-rerun1")

        assert [e.name for e in order_executions(order, world.workflow)] == [BASE, f"{BASE}-rerun1"]


def _carrier_loses_it(deps: object, world: FulfillmentWorld, key: str) -> object:
    from fulfillment.steps.tracking import TrackingEvent, record_tracking_event
    from tests.unit.services.test_fault_injection import DELIVERED_AT

    [shipment_id] = [package.shipment_id or "" for package in world.stored(key).packages]
    event = TrackingEvent(
        event_id=f"lost-{shipment_id}",
        shipment_id=shipment_id,
        status="failure",
        status_detail="lost",
        occurred_at=DELIVERED_AT,
    )
    return record_tracking_event(world.carrier.name, event, deps)  # type: ignore[arg-type]
