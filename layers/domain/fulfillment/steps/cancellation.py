"""Cancellation before delivery, by an operator or the store."""

from __future__ import annotations

from fulfillment.aggregates import load_order, update_order
from fulfillment.errors import CancellationRefused, NothingToDecide, OrderCancelled
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import TERMINAL
from fulfillment.model.order import WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.compensation import compensate
from fulfillment.steps.waits import answer_wait

# How often a cancellation looks again when the wait it read moved on before it answered: a wait ends (answered,
# or timed out into the operator's wait) at most once per step, so a few looks settle it.
LOOKS = 5


def request_cancellation(key: str, reason: str, deps: StepDeps) -> Order:
    """Cancel before delivery: the waiting execution is failed with OrderCancelled (it compensates), a running
    step sees the request at its next save, and an order with no execution is compensated here.

    Whatever the execution waits for when the request lands is the wait it fails: an inspection that timed out
    into the operator's wait between our read and our answer is cancelled there, not refused."""
    for _ in range(LOOKS):
        order = load_order(deps.orders, key)
        if has_reached(order.status, OrderStatus.DELIVERED):  # COMPLETED included
            raise CancellationRefused(f"order {key} was delivered; start a return instead (fulfillment returns start)")
        if order.status in TERMINAL:
            return order
        if order.wait.token:
            try:
                return answer_wait(
                    key,
                    WaitKind(order.wait.kind or "operator"),
                    deps,
                    failure=(OrderCancelled.__name__, reason),
                    note=f"cancellation requested: {reason}",
                    change=lambda o: setattr(o, "cancel_requested", reason),
                )
            except NothingToDecide:
                continue  # that wait ended meanwhile: look at what the order does now
        if order.status is OrderStatus.PENDING_PAYMENT:
            return compensate(key, "cancelled", {"Error": OrderCancelled.__name__, "Cause": reason}, deps)
        if update_order(deps.orders, key, lambda current: _mark(current, reason)):
            return load_order(deps.orders, key)
    raise NothingToDecide(f"order {key} kept changing its wait; try the cancellation again")


def _mark(current: Order, reason: str) -> bool:
    """Ask the running step to stop at its next save; False if it parked a wait since we looked (answer that)."""
    if current.wait.token:
        return False
    current.cancel_requested = reason
    current.note(f"cancellation requested: {reason}")
    return True
