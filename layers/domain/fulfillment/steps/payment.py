"""Complete payment: capture on delivery, or collect cash on delivery; prepaid orders need nothing.

When the money is taken is one rule, ``model.payment.payment_due_at``: the ship step captures when it says
``SHIPPED``, this step takes whatever it says is due at ``DELIVERED``.
"""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.model.payment import (
    CapturePoint,
    PaymentMethod,
    amount_to_collect,
    capture_key,
    capture_point,
    cash_key,
    payment_due_at,
    payment_method,
)
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def due_at(order: Order, deps: StepDeps) -> OrderStatus | None:
    """The status at which this order's money is ours to take, by its method and the store's capture point."""
    store = deps.stores.get(order.store_id)
    return payment_due_at(payment_method(order), capture_point(store) if store else CapturePoint.DELIVERY)


def capture(order: Order, deps: StepDeps) -> str:
    """Capture the authorization once (the key makes a retry charge nothing) and record it on the order."""
    result = deps.payments.capture(order, amount_to_collect(order), capture_key(order))
    order.payment.method = str(PaymentMethod.AUTHORIZED)
    order.payment.captured, order.payment.reference = result.amount, result.reference
    return str(result.amount)


def complete_payment(key: str, deps: StepDeps) -> Order:
    def settle(order: Order) -> dict[str, Any]:
        method = payment_method(order)
        order.payment.method = order.payment.method or str(method)
        if due_at(order, deps) is None or order.payment.captured or order.payment.collected:
            return {"method": str(method), "amount": str(order.payment.captured or order.totals.grand_total)}
        if method is PaymentMethod.CASH_ON_DELIVERY:
            result = deps.payments.collect_cash(order, amount_to_collect(order), cash_key(order))
            order.payment.collected, order.payment.reference = result.amount, result.reference
            return {"method": str(method), "amount": str(result.amount)}
        return {"method": str(method), "amount": capture(order, deps)}  # due at delivery, or missed at shipment

    return advance(deps, key, OrderStatus.PAYMENT_COMPLETED, "payment complete", settle)
