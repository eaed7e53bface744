"""The fulfillment steps the state machine runs: one status each, safe to re-run, failures named."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from fulfillment import services
from fulfillment.errors import (
    InspectionFailed,
    InvalidSignature,
    InvalidTransition,
    MalformedPayload,
    OrderInvalid,
    OrderNotFound,
    UnknownShipment,
    VersionConflict,
)
from fulfillment.model import Order, OrderStatus
from fulfillment.model.lifecycle import FULFILLMENT_PATH
from tests.fakes import (
    FakeCarrier,
    FakeWarehouse,
    InMemoryOrderRepository,
    RecordingNotifier,
    RecordingWorkflow,
    make_address,
    store_new_order,
)

S = OrderStatus
CARRIER = "simcarrier"
TRACKING = "TRK00000042"
TOKEN = "task-token-1"
DELIVERED_AT = datetime(2025, 6, 6, 10, 30, tzinfo=UTC)


@dataclass
class Fulfillment:
    orders: InMemoryOrderRepository = field(default_factory=InMemoryOrderRepository)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    carrier: FakeCarrier = field(default_factory=lambda: FakeCarrier(CARRIER))
    warehouse: FakeWarehouse = field(default_factory=FakeWarehouse)

    def order_at(self, status: OrderStatus, *, token: str | None = None, **overrides: Any) -> str:
        """Store an order and move it along the happy path (or off it) to ``status``."""
        order = store_new_order(self.orders, **overrides)
        path = FULFILLMENT_PATH[1 : FULFILLMENT_PATH.index(status) + 1] if status in FULFILLMENT_PATH else ()
        for target in path:
            if target is S.SHIPPED:
                order.carrier, order.tracking_number = CARRIER, TRACKING
            order.transition_to(target, f"given {target}")
        if status in (S.FAILED, S.CANCELLED):
            order.transition_to(status, f"given {status}")
        order.delivery_task_token = token
        self.orders.save(order)
        return order.key

    def stored(self, key: str) -> Order:
        order = self.orders.get(key)
        assert order is not None
        return order

    def tracking(
        self,
        status: Literal["in_transit", "out_for_delivery", "delivered", "exception"],
        *,
        event_id: str = "evt-1",
        tracking_number: str = TRACKING,
        carrier: str = CARRIER,
    ) -> str:
        event = services.TrackingEvent(
            event_id=event_id, tracking_number=tracking_number, status=status, occurred_at=DELIVERED_AT
        )
        return services.record_tracking_event(carrier, event, self.orders, self.workflow)


@pytest.fixture
def world() -> Fulfillment:
    return Fulfillment()


Step = Callable[[Fulfillment, str], Order]
STEPS: list[tuple[str, Step, OrderStatus, OrderStatus]] = [
    ("validate", lambda w, key: services.validate_order(key, w.orders), S.RECEIVED, S.VALIDATED),
    ("reserve", lambda w, key: services.reserve_inventory(key, w.orders), S.VALIDATED, S.RESERVED),
    ("inspect", lambda w, key: services.inspect_quality(key, w.orders, w.warehouse), S.RESERVED, S.INSPECTED),
    ("package", lambda w, key: services.package_order(key, w.orders), S.INSPECTED, S.PACKAGED),
    ("ship", lambda w, key: services.ship_order(key, w.orders, w.carrier, w.notifier), S.PACKAGED, S.SHIPPED),
    ("pay", lambda w, key: services.complete_payment(key, w.orders), S.DELIVERED, S.PAYMENT_COMPLETED),
    ("complete", lambda w, key: services.complete_order(key, w.orders, w.notifier), S.PAYMENT_COMPLETED, S.COMPLETED),
]
STEP_IDS = [name for name, *_ in STEPS]


class TestEachStep:
    @pytest.mark.parametrize(("name", "step", "before", "after"), STEPS, ids=STEP_IDS)
    def test_advances_exactly_one_status_with_one_event(
        self, world: Fulfillment, name: str, step: Step, before: OrderStatus, after: OrderStatus
    ) -> None:
        key = world.order_at(before)
        events_before = world.orders.timeline(key)
        version = world.stored(key).version

        returned = step(world, key)

        stored = world.stored(key)
        assert (returned.status, stored.status) == (after, after)
        assert stored.version == version + 1
        timeline = world.orders.timeline(key)
        assert timeline[:-1] == events_before
        new = timeline[-1]
        assert (new.seq, new.previous_status, new.status) == (len(events_before) + 1, before, after)

    @pytest.mark.parametrize(("name", "step", "before", "after"), STEPS, ids=STEP_IDS)
    @pytest.mark.parametrize("already", [None, S.COMPLETED])
    def test_does_nothing_on_an_order_already_past_it(
        self,
        world: Fulfillment,
        name: str,
        step: Step,
        before: OrderStatus,
        after: OrderStatus,
        already: OrderStatus | None,
    ) -> None:
        key = world.order_at(already or after)
        writes, timeline = world.orders.writes, world.orders.timeline(key)

        assert step(world, key).status is (already or after)
        assert world.orders.writes == writes
        assert world.orders.timeline(key) == timeline
        assert world.carrier.calls == []
        assert world.warehouse.inspected == []

    @pytest.mark.parametrize(("name", "step", "before", "after"), STEPS, ids=STEP_IDS)
    def test_refuses_an_unknown_order(
        self, world: Fulfillment, name: str, step: Step, before: OrderStatus, after: OrderStatus
    ) -> None:
        with pytest.raises(OrderNotFound):
            step(world, "kaffeekontor:404")

    def test_the_whole_path_records_a_gapless_timeline(self, world: Fulfillment) -> None:
        key = world.order_at(S.RECEIVED)
        for _, step, before, _after in STEPS:
            if before is S.DELIVERED:
                services.await_delivery(key, TOKEN, world.orders, world.workflow)
                world.tracking("delivered", tracking_number=world.stored(key).tracking_number or "")
            step(world, key)

        assert world.stored(key).status is S.COMPLETED
        timeline = world.orders.timeline(key)
        assert [event.status for event in timeline] == list(FULFILLMENT_PATH)
        assert [event.seq for event in timeline] == list(range(1, len(FULFILLMENT_PATH) + 1))

    def test_a_step_out_of_order_is_refused_and_saves_nothing(self, world: Fulfillment) -> None:
        key = world.order_at(S.RECEIVED)
        writes = world.orders.writes
        with pytest.raises(InvalidTransition):
            services.package_order(key, world.orders)
        assert world.orders.writes == writes
        assert world.stored(key).status is S.RECEIVED


class TestValidate:
    def test_records_what_was_checked(self, world: Fulfillment) -> None:
        key = world.order_at(S.RECEIVED)
        services.validate_order(key, world.orders)
        assert world.orders.timeline(key)[-1].detail == {"lines": 1, "units": 2}

    @pytest.mark.parametrize(
        ("overrides", "problem"),
        [
            ({"shipping_address": make_address(city="")}, "shipping address has no city"),
            ({"lines": ()}, "order has no lines"),
        ],
    )
    def test_refuses_an_unfulfillable_order(self, world: Fulfillment, overrides: dict[str, Any], problem: str) -> None:
        key = store_new_order(world.orders, **overrides).key
        status, writes = world.stored(key).status, world.orders.writes

        with pytest.raises(OrderInvalid, match=problem):
            services.validate_order(key, world.orders)

        assert world.stored(key).status is status
        assert world.orders.writes == writes
        assert len(world.orders.timeline(key)) == 1

    def test_an_unpaid_order_cannot_be_validated(self, world: Fulfillment) -> None:
        key = store_new_order(world.orders, paid=False).key
        writes = world.orders.writes

        with pytest.raises(InvalidTransition):
            services.validate_order(key, world.orders)

        assert world.stored(key).status is S.PENDING_PAYMENT
        assert world.orders.writes == writes


class TestReserve:
    def test_records_the_reserved_skus(self, world: Fulfillment) -> None:
        key = world.order_at(S.VALIDATED)
        services.reserve_inventory(key, world.orders)
        assert world.orders.timeline(key)[-1].detail == {"skus": {"MUG-CC-BLU": 2}}


class TestInspect:
    def test_records_the_inspector(self, world: Fulfillment) -> None:
        key = world.order_at(S.RESERVED)
        services.inspect_quality(key, world.orders, world.warehouse)
        assert world.orders.timeline(key)[-1].detail == {"inspector": "inspector-7"}
        assert world.warehouse.inspected == [key]

    @pytest.mark.parametrize(("notes", "message"), [("mug chipped", "mug chipped"), ("", "no notes")])
    def test_a_failed_inspection_stops_the_order_where_it_is(
        self, world: Fulfillment, notes: str, message: str
    ) -> None:
        world.warehouse = FakeWarehouse(passed=False, notes=notes)
        key = world.order_at(S.RESERVED)
        writes = world.orders.writes

        with pytest.raises(InspectionFailed, match=f"inspection failed: {message}"):
            services.inspect_quality(key, world.orders, world.warehouse)

        assert world.stored(key).status is S.RESERVED
        assert world.orders.writes == writes


class TestShip:
    def test_records_the_label_and_makes_the_shipment_trackable(self, world: Fulfillment) -> None:
        key = world.order_at(S.PACKAGED)

        services.ship_order(key, world.orders, world.carrier, world.notifier)

        order = world.stored(key)
        assert (order.carrier, order.tracking_number) == (CARRIER, "TRK00000001")
        assert world.orders.timeline(key)[-1].detail == {"carrier": CARRIER, "tracking_number": "TRK00000001"}
        assert world.orders.find_by_tracking(CARRIER, "TRK00000001") == key

    def test_shipping_twice_buys_one_label(self, world: Fulfillment) -> None:
        key = world.order_at(S.PACKAGED)

        services.ship_order(key, world.orders, world.carrier, world.notifier)
        services.ship_order(key, world.orders, world.carrier, world.notifier)

        assert world.carrier.calls == [key]
        assert [event.status for event in world.orders.timeline(key)].count(S.SHIPPED) == 1

    def test_a_retry_after_a_lost_save_gets_the_same_label(self, world: Fulfillment) -> None:
        key = world.order_at(S.PACKAGED)

        class LosingRepository(InMemoryOrderRepository):
            def save(self, order: Order) -> None:
                raise VersionConflict("lost")

        lost = LosingRepository()
        lost.create(world.stored(key))  # a copy whose saves are lost
        with pytest.raises(VersionConflict):
            services.ship_order(key, lost, world.carrier, world.notifier)
        services.ship_order(key, world.orders, world.carrier, world.notifier)

        assert world.stored(key).tracking_number == "TRK00000001"
        assert world.carrier.calls == [key, key]

    @pytest.mark.parametrize("status", [S.FAILED, S.CANCELLED])
    def test_buys_no_label_for_an_order_that_cannot_ship(self, world: Fulfillment, status: OrderStatus) -> None:
        key = world.order_at(status)

        with pytest.raises(InvalidTransition):
            services.ship_order(key, world.orders, world.carrier, world.notifier)

        assert world.carrier.calls == []


class TestCompletePayment:
    def test_records_the_amount(self, world: Fulfillment) -> None:
        key = world.order_at(S.DELIVERED)
        services.complete_payment(key, world.orders)
        assert world.orders.timeline(key)[-1].detail == {
            "amount": "34.90 EUR",
            "method": "captured by woocommerce at checkout",
        }


class TestAwaitDelivery:
    def test_parks_the_task_token_on_the_order(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED)
        events = world.orders.timeline(key)

        services.await_delivery(key, TOKEN, world.orders, world.workflow)

        order = world.stored(key)
        assert (order.status, order.delivery_task_token) == (S.SHIPPED, TOKEN)
        assert world.workflow.resumed == []
        assert world.orders.timeline(key) == events

    @pytest.mark.parametrize("status", [S.DELIVERED, S.PAYMENT_COMPLETED])
    def test_resumes_at_once_when_the_carrier_was_faster(self, world: Fulfillment, status: OrderStatus) -> None:
        key = world.order_at(status)
        writes = world.orders.writes

        services.await_delivery(key, TOKEN, world.orders, world.workflow)

        assert world.workflow.resumed == [(TOKEN, {"order_key": key})]
        assert world.stored(key).delivery_task_token is None
        assert world.orders.writes == writes

    def test_refuses_an_unknown_order(self, world: Fulfillment) -> None:
        with pytest.raises(OrderNotFound):
            services.await_delivery("kaffeekontor:404", TOKEN, world.orders, world.workflow)


class TestTrackingEvents:
    def test_delivery_moves_the_order_on_and_resumes_the_workflow_once(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED, token=TOKEN)

        assert world.tracking("delivered", event_id="evt-9") == key

        order = world.stored(key)
        assert (order.status, order.delivery_task_token) == (S.DELIVERED, None)
        assert world.workflow.resumed == [(TOKEN, {"order_key": key, "delivered_at": "2025-06-06T10:30:00+00:00"})]
        event = world.orders.timeline(key)[-1]
        assert (event.status, event.previous_status, event.at) == (S.DELIVERED, S.SHIPPED, DELIVERED_AT)
        assert event.reason == "simcarrier confirmed delivery"
        assert event.detail == {"tracking_number": TRACKING, "carrier_event": "evt-9"}

    def test_a_duplicate_delivery_event_does_nothing_more(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED, token=TOKEN)
        world.tracking("delivered")
        writes, timeline = world.orders.writes, world.orders.timeline(key)

        assert world.tracking("delivered") == key
        assert world.tracking("delivered", event_id="evt-2") == key

        assert len(world.workflow.resumed) == 1
        assert world.orders.timeline(key) == timeline
        assert world.orders.writes == writes

    def test_delivery_before_anyone_waits_is_recorded_and_resumed_later(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED)

        world.tracking("delivered")
        assert world.stored(key).status is S.DELIVERED
        assert world.workflow.resumed == []

        services.await_delivery(key, TOKEN, world.orders, world.workflow)
        assert world.workflow.resumed_tokens == [TOKEN]

    @pytest.mark.parametrize("status", ["in_transit", "out_for_delivery"])
    def test_progress_sends_a_heartbeat_to_the_waiting_execution(
        self, world: Fulfillment, status: Literal["in_transit", "out_for_delivery"]
    ) -> None:
        key = world.order_at(S.SHIPPED, token=TOKEN)
        writes = world.orders.writes

        assert world.tracking(status) == key

        assert world.workflow.heartbeats == [TOKEN]
        assert world.workflow.resumed == []
        assert world.stored(key).status is S.SHIPPED
        assert world.orders.writes == writes

    def test_progress_with_nobody_waiting_sends_no_heartbeat(self, world: Fulfillment) -> None:
        world.order_at(S.SHIPPED)
        world.tracking("in_transit")
        assert world.workflow.heartbeats == []

    def test_late_progress_after_delivery_sends_no_heartbeat(self, world: Fulfillment) -> None:
        world.order_at(S.SHIPPED, token=TOKEN)
        world.tracking("delivered")
        world.tracking("in_transit")
        assert world.workflow.heartbeats == []

    def test_a_resume_that_failed_is_retried_by_the_next_delivery_event(self, world: Fulfillment) -> None:
        class ThrottledWorkflow(RecordingWorkflow):
            throttled = True

            def resume(self, task_token: str, output: dict[str, Any]) -> bool:
                if self.throttled:
                    self.throttled = False
                    raise ConnectionError("Step Functions throttled")
                return super().resume(task_token, output)

        world.workflow = ThrottledWorkflow()
        key = world.order_at(S.SHIPPED, token=TOKEN)
        with pytest.raises(ConnectionError):
            world.tracking("delivered")
        assert (world.stored(key).status, world.stored(key).delivery_task_token) == (S.DELIVERED, TOKEN)

        world.tracking("in_transit")  # a late event for a delivered order: no heartbeat
        world.tracking("delivered")  # the carrier's retry

        assert world.workflow.heartbeats == []
        assert world.workflow.resumed_tokens == [TOKEN]
        assert world.stored(key).delivery_task_token is None
        assert [event.status for event in world.orders.timeline(key)].count(S.DELIVERED) == 1

    def test_an_exception_event_changes_nothing(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED, token=TOKEN)
        writes = world.orders.writes
        world.tracking("exception")
        assert world.stored(key).status is S.SHIPPED
        assert world.orders.writes == writes
        assert world.workflow.resumed == []

    @pytest.mark.parametrize(("carrier", "tracking_number"), [(CARRIER, "TRK-UNKNOWN"), ("othercarrier", TRACKING)])
    def test_refuses_an_unknown_shipment(self, world: Fulfillment, carrier: str, tracking_number: str) -> None:
        world.order_at(S.SHIPPED, token=TOKEN)
        with pytest.raises(UnknownShipment, match=tracking_number):
            world.tracking("delivered", carrier=carrier, tracking_number=tracking_number)
        assert world.workflow.resumed == []

    def test_a_token_parked_concurrently_is_still_resumed(self, world: Fulfillment) -> None:
        class ParkingRaceRepository(InMemoryOrderRepository):
            """Once armed, the next save loses to await_delivery parking its token at the same moment."""

            armed = False

            def save(self, order: Order) -> None:
                if self.armed:
                    self.armed = False
                    services.await_delivery(order.key, TOKEN, self, RecordingWorkflow())
                    raise VersionConflict("changed meanwhile")
                super().save(order)

        orders = world.orders = ParkingRaceRepository()
        key = world.order_at(S.SHIPPED)
        orders.armed = True

        world.tracking("delivered")

        assert orders.armed is False
        assert world.workflow.resumed_tokens == [TOKEN]
        assert (world.stored(key).status, world.stored(key).delivery_task_token) == (S.DELIVERED, None)
        assert [event.status for event in orders.timeline(key)].count(S.DELIVERED) == 1


class TestRecordFailure:
    def test_a_lambda_error_becomes_a_readable_failure(self, world: Fulfillment) -> None:
        key = world.order_at(S.VALIDATED)
        cause = json.dumps(
            {
                "errorMessage": "shipping address has no city",
                "errorType": "OrderInvalid",
                "requestId": "0f1e2d3c",
                "stackTrace": ['  File "/var/task/app.py", line 12, in handler\n'],
            }
        )

        order = services.record_failure(key, "OrderInvalid", cause, world.orders)

        assert order is not None
        stored = world.stored(key)
        assert stored.status is S.FAILED
        assert stored.failure == {"error": "OrderInvalid", "cause": "shipping address has no city"}
        event = world.orders.timeline(key)[-1]
        assert (event.status, event.previous_status) == (S.FAILED, S.VALIDATED)
        assert event.reason == "OrderInvalid: shipping address has no city"

    @pytest.mark.parametrize(
        ("cause", "readable"),
        [
            ("Task timed out after 30.00 seconds", "Task timed out after 30.00 seconds"),
            ("", ""),
            ('["a", "b"]', "['a', 'b']"),
            ('{"errorType": "Boom"}', "{'errorType': 'Boom'}"),
        ],
    )
    def test_keeps_other_causes_as_they_are(self, world: Fulfillment, cause: str, readable: str) -> None:
        key = world.order_at(S.RESERVED)
        services.record_failure(key, "States.Timeout", cause, world.orders)
        assert world.stored(key).failure == {"error": "States.Timeout", "cause": readable}

    def test_bounds_long_causes(self, world: Fulfillment) -> None:
        key = world.order_at(S.RESERVED)
        services.record_failure(key, "Boom", json.dumps({"errorMessage": "x" * 5000}), world.orders)
        failure = world.stored(key).failure
        assert failure is not None
        assert len(failure["cause"]) == 1000
        assert len(world.orders.timeline(key)[-1].reason) == 500

    def test_forgets_a_parked_task_token(self, world: Fulfillment) -> None:
        key = world.order_at(S.SHIPPED, token=TOKEN)
        services.record_failure(key, "States.Timeout", "no delivery in 30 days", world.orders)
        assert (world.stored(key).status, world.stored(key).delivery_task_token) == (S.FAILED, None)

    @pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.CANCELLED])
    def test_leaves_a_terminal_order_alone(self, world: Fulfillment, status: OrderStatus) -> None:
        key = world.order_at(status)
        before, writes = world.stored(key), world.orders.writes

        returned = services.record_failure(key, "Boom", "late failure", world.orders)

        assert returned == before
        assert world.stored(key) == before
        assert world.orders.writes == writes

    def test_an_unknown_order_is_nothing_to_record(self, world: Fulfillment) -> None:
        assert services.record_failure("kaffeekontor:404", "Boom", "x", world.orders) is None
        assert len(world.orders) == 0


def _sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class TestPartnerSignature:
    NOW = 1_750_000_000
    BODY = b'{"event_id":"evt-1","tracking_number":"TRK00000042","status":"delivered"}'

    def verify(self, secret: str, timestamp: str | None, signature: str | None, body: bytes = BODY) -> None:
        services.verify_partner_signature(secret, body, timestamp, signature, now=self.NOW)

    @pytest.mark.parametrize("prefix", ["", "sha256="])
    def test_accepts_a_fresh_valid_signature(self, prefix: str) -> None:
        timestamp = str(self.NOW)
        self.verify("carrier-secret", timestamp, prefix + _sign("carrier-secret", timestamp, self.BODY))

    def test_matches_the_documented_scheme(self) -> None:
        assert services.partner_signature("s", b"{}", "1") == _sign("s", "1", b"{}")

    def test_refuses_a_signature_made_with_another_secret(self) -> None:
        timestamp = str(self.NOW)
        with pytest.raises(InvalidSignature, match="does not match"):
            self.verify("carrier-secret", timestamp, _sign("other-secret", timestamp, self.BODY))

    def test_refuses_a_tampered_body(self) -> None:
        timestamp = str(self.NOW)
        signature = _sign("carrier-secret", timestamp, self.BODY)
        with pytest.raises(InvalidSignature, match="does not match"):
            self.verify("carrier-secret", timestamp, signature, body=self.BODY.replace(b"delivered", b"in_transit"))

    def test_refuses_a_signature_replayed_with_another_timestamp(self) -> None:
        signature = _sign("carrier-secret", str(self.NOW - 10), self.BODY)
        with pytest.raises(InvalidSignature, match="does not match"):
            self.verify("carrier-secret", str(self.NOW), signature)

    @pytest.mark.parametrize(("offset", "accepted"), [(-300, True), (300, True), (-301, False), (301, False)])
    def test_refuses_a_timestamp_outside_five_minutes(self, offset: int, accepted: bool) -> None:
        timestamp = str(self.NOW + offset)
        signature = _sign("carrier-secret", timestamp, self.BODY)
        if accepted:
            self.verify("carrier-secret", timestamp, signature)
        else:
            with pytest.raises(InvalidSignature, match="tolerance"):
                self.verify("carrier-secret", timestamp, signature)

    @pytest.mark.parametrize(
        ("timestamp", "signature"),
        [(None, "abc"), (str(NOW), None), ("", "abc"), (str(NOW), ""), ("1750000000.5", "abc"), ("-5", "abc")],
    )
    def test_refuses_missing_headers(self, timestamp: str | None, signature: str | None) -> None:
        with pytest.raises(InvalidSignature, match="missing"):
            self.verify("carrier-secret", timestamp, signature)


class TestPartnerEvents:
    def test_reads_a_tracking_event(self) -> None:
        body = b'{"event_id":"e","tracking_number":"T","status":"delivered","occurred_at":"2025-06-06T10:30:00Z"}'
        event = services.parse_partner_event(services.TrackingEvent, body)
        assert (event.status, event.occurred_at) == ("delivered", DELIVERED_AT)

    @pytest.mark.parametrize(
        "body", [b"nope", b"{}", b'{"event_id":"e","tracking_number":"T","status":"lost","occurred_at":"2025-06-06"}']
    )
    def test_refuses_what_is_not_a_tracking_event(self, body: bytes) -> None:
        with pytest.raises(MalformedPayload):
            services.parse_partner_event(services.TrackingEvent, body)
