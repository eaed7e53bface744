"""Compensation: undo what the order's stage did, and nothing more, then record the outcome."""

from __future__ import annotations

import json
from typing import Literal

from fulfillment.aggregates import load_order, update_order
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import FULFILLED, TERMINAL
from fulfillment.model.order import Failure
from fulfillment.model.payment import PaymentMethod, payment_method, void_key
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import StepDeps
from fulfillment.steps.labels import refund_labels


def compensate(
    key: str, outcome: Literal["cancelled", "failed"], error: dict[str, str | None], deps: StepDeps
) -> Order:
    """Undo what the order's stage did, and nothing more, then record the outcome. Safe to run again."""
    order = load_order(deps.orders, key)
    if order.status in TERMINAL:
        if order.status not in FULFILLED:
            _tell_store(key, error, deps)  # a re-run after the store could not be told: the outbox dedupes
        return order
    undone: list[str] = []
    started = order.status is not OrderStatus.PENDING_PAYMENT  # an unpaid order has nothing to undo but itself
    # By the shipment ids saved before buying: a ship step that crashed after buying a label never saved the
    # label, and it must not leak. A parcel the carrier already has is not refunded; the timeline says so.
    may_have_label = has_reached(order.status, OrderStatus.PACKAGED) and not has_reached(
        order.status, OrderStatus.DELIVERED
    )
    kept: list[str] = []
    if may_have_label:
        refunded, kept = refund_labels(order, deps)
        undone.extend(refunded)
    method = payment_method(order) if started else None
    if method in (PaymentMethod.AUTHORIZED, PaymentMethod.CASH_ON_DELIVERY):
        # Cancel-or-refund, keyed on the order: voids an authorization, refunds what was captured or collected,
        # including a capture whose answer was lost and never recorded on the order.
        result = deps.payments.void(order, void_key(order))
        if result.status != "already":
            undone.append(f"payment {result.status} ({result.amount})")
    # Stock last: if the inventory itself is down, the label and the money are already given back.
    if has_reached(order.status, OrderStatus.SHIPPED):
        deps.inventory.consume(
            order.attempt_ref()
        )  # the units left with the carrier (an intercepted parcel comes back as a return)
    elif started and deps.inventory.release(order.attempt_ref()):
        undone.append("reservation released")
    undone.append("store told")

    def record(current: Order) -> None:
        if current.status in TERMINAL:
            return
        known = current.failure
        cause = _cause(error) if error.get("Cause") or known is None else known.cause or _cause(error)
        current.wait.clear()
        if outcome == "failed":
            name = str(error.get("Error") or (known.error if known else "") or "Unknown")
            current.failure = Failure(error=name, cause=cause)
            current.transition_to(OrderStatus.FAILED, f"{name}: {cause}"[:500], undone=undone)
        else:
            current.transition_to(OrderStatus.CANCELLED, f"cancelled: {cause}"[:500], undone=undone)
        for reason in kept:  # after handover the parcel travels on; an intercept or return is a person's call
            current.note(reason)

    update_order(deps.orders, key, record)  # recorded before the store is told: an outbox outage hides nothing
    _tell_store(key, error, deps)
    return load_order(deps.orders, key)


def _tell_store(key: str, error: dict[str, str | None], deps: StepDeps) -> None:
    deps.notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.CANCELLED, reason=_cause(error)))


def _cause(error: dict[str, str | None]) -> str:
    """Lambda failures arrive as a JSON document; keep just its message."""
    cause = error.get("Cause") or error.get("Error") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:1000]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed)[:1000]
    return str(parsed)[:1000]
