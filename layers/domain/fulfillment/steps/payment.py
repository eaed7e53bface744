"""Complete payment: capture on delivery, or record cash on delivery."""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.model.payment import (
    PaymentMethod,
    amount_to_collect,
    capture_key,
    cash_key,
    payment_method,
)
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def capture(order: Order, deps: StepDeps) -> str:
    amount = amount_to_collect(order)
    result = deps.payments.capture(order, amount, capture_key(order))  # the key makes a retry charge nothing
    order.payment |= {
        "method": str(PaymentMethod.AUTHORIZED),
        "captured_minor": str(result.amount.minor),
        "reference": result.reference,
    }
    return str(result.amount)


def complete_payment(key: str, deps: StepDeps) -> Order:
    def settle(order: Order) -> dict[str, Any]:
        method = payment_method(order)
        if method is PaymentMethod.CASH_ON_DELIVERY:
            result = deps.payments.collect_cash(order, amount_to_collect(order), cash_key(order))
            order.payment |= {
                "method": str(method),
                "collected_minor": str(result.amount.minor),
                "reference": result.reference,
            }
            return {"method": str(method), "amount": str(result.amount)}
        if method is PaymentMethod.AUTHORIZED and "captured_minor" not in order.payment:
            return {"method": str(method), "amount": capture(order, deps)}
        order.payment.setdefault("method", str(method))
        return {"method": str(method), "amount": str(order.totals.grand_total)}

    return advance(deps, key, OrderStatus.PAYMENT_COMPLETED, "payment complete", settle)
