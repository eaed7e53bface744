"""An authorization held by the store platform is captured through the platform, or is an operator task with
an alert: never taken at our payment gateway, never reported captured when nobody captured it (issue #11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from fulfillment.model import OrderStatus
from fulfillment.model.order import PaymentRecord
from fulfillment.model.payment import PaymentMethod
from fulfillment.steps.compensation import compensate
from fulfillment.steps.payment import CAPTURE_BY_OPERATOR_ALERT, complete_payment, due_at
from fulfillment.steps.ship import ship_order
from tests.fakes import FulfillmentWorld, money


def _authorized(gateway: str = "woocommerce_payments", **fields: Any) -> PaymentRecord:
    return PaymentRecord(method=PaymentMethod.PLATFORM_AUTHORIZED, gateway=gateway, authorized=money("34.90"), **fields)


class TestOperatorCapture:
    def test_a_gateway_that_does_not_capture_on_the_status_change_is_an_operator_task_with_an_alert(self) -> None:
        world = FulfillmentWorld()
        world.store_options(capture_on="shipment")
        key = world.order_at(OrderStatus.PACKAGED, payment=_authorized())

        order = ship_order(key, world)

        assert order.status is OrderStatus.SHIPPED
        assert world.payments.charges == []  # never at our gateway: the platform holds the authorization
        assert order.payment.captured is None
        assert order.payment.capture_task is not None and "34.90 EUR" in order.payment.capture_task
        alerts = [e for e in world.timeline(key) if e.detail.get("alert") == CAPTURE_BY_OPERATOR_ALERT]
        assert len(alerts) == 1 and order.number in alerts[0].reason

    def test_the_task_is_raised_once_however_often_the_step_runs(self) -> None:
        world = FulfillmentWorld()
        key = world.order_at(OrderStatus.DELIVERED, payment=_authorized())

        complete_payment(key, world)
        complete_payment(key, world)  # a retry after the save finds the status reached

        alerts = [e for e in world.timeline(key) if e.detail.get("alert") == CAPTURE_BY_OPERATOR_ALERT]
        assert len(alerts) == 1
        assert world.stored(key).status is OrderStatus.PAYMENT_COMPLETED
        assert world.payments.charges == []


class TestDeadline:
    def test_an_authorization_expiring_before_delivery_is_captured_at_shipment(self) -> None:
        world = FulfillmentWorld()
        now = datetime(2025, 6, 5, tzinfo=UTC)
        soon = _authorized(authorization_expires_at=now + timedelta(days=1))
        later = _authorized(authorization_expires_at=now + timedelta(days=6))

        assert due_at(world.stored(world.order_at(OrderStatus.PACKAGED, payment=soon)), world, now=now) is (
            OrderStatus.SHIPPED
        )
        key = world.order_at(OrderStatus.PACKAGED, external_id="4712", payment=later)
        assert due_at(world.stored(key), world, now=now) is OrderStatus.DELIVERED

    def test_the_stores_authorization_days_set_the_deadline_where_the_platform_tells_none(self) -> None:
        world = FulfillmentWorld()
        world.store_options(authorization_days="7")
        key = world.order_at(OrderStatus.PACKAGED, payment=_authorized())
        placed = world.stored(key).placed_at

        assert due_at(world.stored(key), world, now=placed + timedelta(days=2)) is OrderStatus.DELIVERED
        assert due_at(world.stored(key), world, now=placed + timedelta(days=6)) is OrderStatus.SHIPPED

    def test_prepaid_orders_have_no_deadline(self) -> None:
        world = FulfillmentWorld()
        key = world.order_at(OrderStatus.PACKAGED)
        assert due_at(world.stored(key), world) is None


class TestAPendingCaptureGivenBack:
    """A capture the platform accepted but has not settled (BigCommerce's "capture pending") cannot be refunded
    yet, nor voided: a lost parcel first asks where it stands, refunds it once settled, else owes it."""

    LOST: ClassVar[dict[str, str | None]] = {"Error": "DeliveryFailed", "Cause": "lost: parcel news"}

    def _pending(self, world: FulfillmentWorld) -> str:
        key = world.order_at(OrderStatus.SHIPPED, payment=_authorized("stripe", capture_pending=True))
        world.platform_payments["woocommerce"].pending[key] = 3490
        return key

    def test_settled_by_now_it_is_refunded_once(self) -> None:
        world = FulfillmentWorld()
        key = self._pending(world)

        compensate(key, "failed", self.LOST, world)
        compensate(key, "failed", self.LOST, world)  # a re-run moves nothing more

        platform = world.platform_payments["woocommerce"]
        assert [(m.kind, m.amount) for m in platform.moved(key)] == [("capture", 3490), ("refund", 3490)]
        order = world.stored(key)
        assert (order.payment.captured, order.payment.capture_pending) == (money("34.90"), False)
        assert order.payment.refunded == money("34.90") and order.payment.outstanding_refunds == []

    def test_still_pending_it_is_owed_never_reported_refunded(self) -> None:
        world = FulfillmentWorld()
        key = self._pending(world)
        world.platform_payments["woocommerce"].settles = False

        compensate(key, "failed", self.LOST, world)

        assert world.platform_payments["woocommerce"].moved(key) == []  # neither refunded nor voided
        order = world.stored(key)
        [due] = order.payment.outstanding_refunds
        assert due.amount == money("34.90") and order.payment.refunded is None
        assert any("not settled the capture" in e.reason for e in world.timeline(key))
