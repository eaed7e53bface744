"""Complete payment: capture on delivery, or collect cash on delivery; prepaid orders need nothing.

When the money is taken is one rule, ``model.payment.payment_due_at``: the ship step captures when it says
``SHIPPED``, this step takes whatever it says is due at ``DELIVERED``. Where the money is decides through whom:
an authorization held by the store platform is captured through the platform (``PlatformPayments``, as far as
its ``PaymentCapabilities`` allow, else an operator task and an alert), one held by our gateway at the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fulfillment.adapters.platforms.registry import payment_capabilities
from fulfillment.model import Order, OrderStatus
from fulfillment.model.payment import (
    CAPTURE_MARGIN,
    CapturePoint,
    PaymentMethod,
    amount_to_collect,
    capture_deadline,
    capture_key,
    capture_point,
    cash_key,
    payment_due_at,
    payment_method,
)
from fulfillment.model.store import StoreCredentials
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance

CAPTURE_BY_OPERATOR_ALERT = "capture_by_operator"  # the alert (and metric dimension) of a capture we cannot make


def due_at(order: Order, deps: StepDeps, *, now: datetime | None = None) -> OrderStatus | None:
    """The status at which this order's money is ours to take, by its method and the store's capture point, and
    earlier (at shipment) when the authorization would lapse before the parcel can be delivered."""
    store = deps.stores.get(order.store_id)
    method = payment_method(order)
    point = capture_point(store) if store else CapturePoint.DELIVERY
    if method is PaymentMethod.PLATFORM_AUTHORIZED and payment_capabilities(order.platform).capture_before_shipment:
        point = CapturePoint.SHIPMENT  # the platform captures by the invoice it wants before the shipment
    due = payment_due_at(method, point)
    deadline = capture_deadline(order, store)
    if due is OrderStatus.DELIVERED and deadline is not None and deadline - CAPTURE_MARGIN <= (now or _now()):
        return OrderStatus.SHIPPED  # capture early: a lapsed authorization pays nobody
    return due


def capture(order: Order, deps: StepDeps) -> str:
    """Capture the authorization once (the key makes a retry charge nothing) and record it on the order."""
    if payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED:
        return _capture_on_platform(order, deps)
    result = deps.payments.capture(order, amount_to_collect(order), capture_key(order))
    order.payment.method = str(PaymentMethod.AUTHORIZED)
    order.payment.captured, order.payment.reference = result.amount, result.reference
    return str(result.amount)


def _capture_on_platform(order: Order, deps: StepDeps) -> str:
    amount = order.payment.authorized or amount_to_collect(order)
    capabilities = payment_capabilities(order.platform)
    client = deps.platform_payments.get(order.platform)
    gateway_captures = not capabilities.captures_on_status or order.payment.gateway in capabilities.captures_on_status
    store = deps.stores.get(order.store_id)
    if not capabilities.can_capture or client is None or not gateway_captures or store is None:
        return _operator_capture(order, amount, deps)
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    result = client.capture(store, credentials, order, amount, capture_key(order))
    order.payment.reference = result.reference
    order.payment.capture_pending = result.status == "pending"  # accepted, not settled: asked again at delivery
    order.payment.captured = None if order.payment.capture_pending else result.amount
    return str(result.amount) + (" (capture pending)" if order.payment.capture_pending else "")


def _operator_capture(order: Order, amount: Any, deps: StepDeps) -> str:
    """The platform's API cannot capture this authorization: a person must, in the platform's admin, before it
    lapses. Said on the order (``payment.capture_task``), on its timeline as an alert, never taken as captured."""
    deadline = capture_deadline(order, deps.stores.get(order.store_id))
    by = f" before {deadline:%Y-%m-%d %H:%M} UTC" if deadline else ""
    gateway = f" ({order.payment.gateway})" if order.payment.gateway else ""
    task = f"capture {amount} on {order.platform}{gateway} for order {order.number}{by}: its API cannot"
    if order.payment.capture_task != task:
        order.payment.capture_task = task
        order.note(f"alert: {task}", alert=CAPTURE_BY_OPERATOR_ALERT, amount=str(amount))
    return f"operator task: {task}"


def complete_payment(key: str, deps: StepDeps) -> Order:
    def settle(order: Order) -> dict[str, Any]:
        method = payment_method(order)
        order.payment.method = order.payment.method or str(method)
        if order.payment.capture_pending:  # asked at shipment: settled by now, or still pending on the platform
            return {"method": str(method), "amount": capture(order, deps)}
        done = order.payment.captured or order.payment.collected or order.payment.capture_task
        if due_at(order, deps) is None or done:
            return {"method": str(method), "amount": str(order.payment.captured or order.totals.grand_total)}
        if method is PaymentMethod.CASH_ON_DELIVERY:
            result = deps.payments.collect_cash(order, amount_to_collect(order), cash_key(order))
            order.payment.collected, order.payment.reference = result.amount, result.reference
            return {"method": str(method), "amount": str(result.amount)}
        return {"method": str(method), "amount": capture(order, deps)}  # due at delivery, or missed at shipment

    return advance(deps, key, OrderStatus.PAYMENT_COMPLETED, "payment complete", settle)


def _now() -> datetime:
    return datetime.now(UTC)
