"""Compensation: undo what the order's stage did, and nothing more, then record the outcome."""

from __future__ import annotations

import json
from typing import Literal

from fulfillment.aggregates import load_order, update_order
from fulfillment.errors import DomainError, OrderCancelled
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import FULFILLED, TERMINAL
from fulfillment.model.order import Failure
from fulfillment.model.payment import void_key
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import StepDeps
from fulfillment.refunds import GivenBack, give_back, refundable, tell_store_refund_due
from fulfillment.refunds import record as record_given_back
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
    given = None
    if started:
        # Everything held goes back, keyed on the order (``refunds.give_back``): a gateway's cancel-or-refund, a
        # platform's void of its authorization or refund of what was captured (a capture whose answer was lost
        # included), or a refund due where the platform cannot pay it.
        given = _give_back_or_owe(order, _cause(error), deps)
        if given.status != "nothing":
            undone.append(given.describe())
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
        if given is not None:
            record_given_back(current, given, void_key(current), "order cancelled")
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
    if given is not None:
        tell_store_refund_due(order, given, void_key(order), deps)
    _tell_store(key, error, deps)
    return load_order(deps.orders, key)


def _give_back_or_owe(order: Order, cause: str, deps: StepDeps) -> GivenBack:
    """Everything held goes back; if the platform or gateway cannot be reached even after the step's retries, the
    money is owed (a refund due, with its alert) rather than the compensation failing with the money kept."""
    try:
        return give_back(order, None, void_key(order), f"order cancelled: {cause}"[:200], deps)
    except (DomainError, LookupError, OSError, RuntimeError) as error:
        if isinstance(error, OrderCancelled):
            raise
        owed = refundable(order)
        return GivenBack(status="due" if owed.minor else "nothing", amount=owed, why=f"could not give it back: {error}")


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
