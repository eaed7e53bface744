"""Carrier tracking: a delivery resumes the wait; a loss or a return to sender fails it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fulfillment.aggregates import load_order, retry_on_conflict
from fulfillment.errors import DeliveryFailed, NothingToDecide, UnknownShipment, VersionConflict
from fulfillment.model import Order, OrderStatus
from fulfillment.model.limits import BoundedId
from fulfillment.model.order import Failure, WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.waits import answer_wait


def mark_delivered(order: Order, reason: str, at: datetime | None = None, **detail: Any) -> None:
    if order.status is OrderStatus.SHIPPED:
        order.transition_to(OrderStatus.DELIVERED, reason, at=at, **detail)


class TrackingEvent(BaseModel):
    event_id: BoundedId
    tracking_number: BoundedId
    status: Literal["in_transit", "out_for_delivery", "delivered", "exception"]
    occurred_at: datetime
    description: str = Field(default="", max_length=2000)  # goes into the timeline and a failed wait's cause
    exception: Literal["failed_attempt", "returned_to_sender", "lost"] | None = None


def _answered_delivery_wait(order: Order, deps: StepDeps, **answer: Any) -> bool:
    """Answer the order's delivery wait (or the overdue-delivery operator wait) if one is parked; False if none is.
    An answer that lost to another one raises ``VersionConflict``, so the caller's retry looks again."""
    if not (order.wait.token and order.wait.kind in (str(WaitKind.DELIVERY), str(WaitKind.OPERATOR))):
        return False
    try:
        answer_wait(order.key, WaitKind(order.wait.kind), deps, **answer)
    except NothingToDecide as error:
        raise VersionConflict(str(error)) from error
    return True


def _deliver(key: str, carrier: str, event: TrackingEvent, deps: StepDeps) -> None:
    """Record the delivery and resume the wait, whichever of the two lands first (a park may race us)."""

    def attempt() -> None:
        order = load_order(deps.orders, key)

        def delivered(answered: Order) -> None:
            mark_delivered(
                answered,
                f"{carrier} confirmed delivery",
                at=event.occurred_at,
                tracking_number=event.tracking_number,
                carrier_event=event.event_id,
            )

        note = None if order.status is not OrderStatus.SHIPPED else f"{carrier} tracking: delivered"
        if _answered_delivery_wait(order, deps, note=note, change=delivered):
            return
        if order.status is not OrderStatus.SHIPPED:
            if order.wait.answered_kind == str(WaitKind.DELIVERY) and order.wait.kind is None:
                answer_wait(key, WaitKind.DELIVERY, deps, note=None, resend=True)  # a spent token does nothing
            return  # already delivered (a duplicate event), or not ours to move
        mark_delivered(order, f"{carrier} confirmed delivery", at=event.occurred_at)
        deps.orders.save(order)  # no wait parked yet: parking will see DELIVERED and resume at once

    retry_on_conflict(attempt, f"order {key}")


def _fail_delivery(key: str, carrier: str, event: TrackingEvent, deps: StepDeps) -> None:
    """Fail the delivery wait; or, when the execution does not wait yet, keep the failure for the park to answer
    with at once (else the order would wait out the heartbeat and the alert for news that already came)."""
    failure = Failure(error=DeliveryFailed.__name__, cause=f"{event.exception}: {event.description}")

    def attempt() -> None:
        order = load_order(deps.orders, key)
        note = f"{carrier} tracking: {event.exception}"
        if _answered_delivery_wait(order, deps, failure=(failure.error, failure.cause), note=note):
            return
        if order.status is OrderStatus.SHIPPED and order.wait.early_failure is None:
            order.wait.early_failure = failure
            order.note(f"{carrier} tracking: {event.exception} (before the delivery wait began)")
            deps.orders.save(order)

    retry_on_conflict(attempt, f"order {key}")


def record_tracking_event(carrier: str, event: TrackingEvent, deps: StepDeps) -> str:
    """Apply a carrier tracking event. A duplicate or late event changes nothing. Returns the order key."""
    key = deps.orders.find_by_tracking(carrier, event.tracking_number)
    if key is None:
        raise UnknownShipment(f"no shipment {event.tracking_number} with {carrier}")
    order = load_order(deps.orders, key)
    waiting = order.wait.kind == str(WaitKind.DELIVERY) and order.wait.token is not None
    if event.status == "delivered":
        _deliver(key, carrier, event, deps)
        return key
    if event.status == "exception" and event.exception in ("returned_to_sender", "lost"):
        _fail_delivery(key, carrier, event, deps)
        return key
    if waiting and order.wait.token:
        deps.workflow.heartbeat(order.wait.token)  # in transit, out for delivery, a failed attempt: still moving
    return key
