"""Cancellation before delivery, by an operator or the store."""

from __future__ import annotations

from fulfillment.aggregates import load_order, update_order
from fulfillment.errors import CancellationRefused, OrderCancelled
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import TERMINAL
from fulfillment.model.order import WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.compensation import compensate
from fulfillment.steps.waits import answer_wait


def request_cancellation(key: str, reason: str, deps: StepDeps) -> Order:
    """Cancel before delivery: the waiting execution is failed with OrderCancelled (it compensates), a running
    step sees the request at its next save, and an order with no execution is compensated here."""
    order = load_order(deps.orders, key)
    if has_reached(order.status, OrderStatus.DELIVERED):  # COMPLETED included
        raise CancellationRefused(f"order {key} was delivered; start a return instead (fulfillment returns start)")
    if order.status in TERMINAL:
        return order
    if order.wait.token:
        return answer_wait(
            key,
            WaitKind(order.wait.kind or "operator"),
            deps,
            failure=(OrderCancelled.__name__, reason),
            note=f"cancellation requested: {reason}",
            change=lambda o: setattr(o, "cancel_requested", reason),
        )
    if order.status is OrderStatus.PENDING_PAYMENT:
        return compensate(key, "cancelled", {"Error": OrderCancelled.__name__, "Cause": reason}, deps)

    def mark(current: Order) -> None:
        current.cancel_requested = reason
        current.note(f"cancellation requested: {reason}")

    update_order(deps.orders, key, mark)
    return load_order(deps.orders, key)
