"""Carrier tracking: per-package tracker statuses; the last package delivered resumes the wait, a parcel lost,
returned to sender or cancelled by the carrier fails it; pre-transit and tracker errors are only recorded (no news
for the heartbeat period brings a person in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fulfillment.aggregates import load_order, retry_on_conflict, update_order
from fulfillment.errors import DeliveryFailed, NothingToDecide, UnknownShipment, VersionConflict
from fulfillment.model import Order, OrderStatus
from fulfillment.model.limits import BoundedId
from fulfillment.model.order import Failure, WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.waits import answer_wait


def mark_delivered(order: Order, reason: str, at: datetime | None = None, **detail: Any) -> None:
    if order.status is OrderStatus.SHIPPED:
        order.transition_to(OrderStatus.DELIVERED, reason, at=at, **detail)


# EasyPost ``Tracker.status`` (docs.easypost.com/docs/trackers): every value it documents.
TrackerStatus = Literal[
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "cancelled",
    "error",
]
# Still moving towards the customer: a heartbeat for the delivery wait (a parcel waiting at a pickup point after a
# failed attempt too: the customer may still collect it).
_MOVING = frozenset({"in_transit", "out_for_delivery", "available_for_pickup"})
# The parcel will not reach the customer: the delivery-exception path (payment given back, store told).
_FAILING = frozenset({"return_to_sender", "failure", "cancelled"})
_FINAL = _FAILING | {"delivered"}


class TrackingEvent(BaseModel):
    """One tracker update for one package, read from the carrier's event (``adapters`` map EasyPost's)."""

    event_id: BoundedId
    shipment_id: BoundedId  # the carrier's shipment the tracker follows: names the order and the package
    tracking_number: str = Field(default="", max_length=200)
    status: TrackerStatus
    status_detail: str = Field(default="", max_length=200)  # EasyPost ``status_detail``: lost, arrived_at_facility …
    occurred_at: datetime
    description: str = Field(default="", max_length=2000)  # goes into the timeline and a failed wait's cause

    @property
    def exception(self) -> str:
        """Why a failing status fails the delivery, in the words the timeline and the failure use."""
        if self.status == "return_to_sender":
            return "returned_to_sender"
        return self.status_detail if self.status == "failure" and self.status_detail else self.status


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


def _record_package_status(key: str, event: TrackingEvent, deps: StepDeps) -> Order:
    """Keep the package's last status in its parcel item (not the order item: an order's parcels report at once,
    and the ship step may still be saving the order); a delivered or failed parcel keeps its final status (late
    scans). The order as it now reads, with every parcel's status."""
    written = deps.orders.record_parcel_status(key, event.shipment_id, event.status, unless=_FINAL)
    if written and event.status in ("available_for_pickup", "error"):
        what = "waits at a pickup point" if event.status == "available_for_pickup" else "has no tracking"

        def note(order: Order) -> None:
            number = next(
                (n for n, package in enumerate(order.packages, 1) if package.shipment_id == event.shipment_id), 0
            )
            order.note(f"package {number} {what}: {event.description or event.status_detail}"[:500])

        update_order(deps.orders, key, note)
    return load_order(deps.orders, key)


def record_tracking_event(carrier: str, event: TrackingEvent, deps: StepDeps) -> str:
    """Apply a carrier tracking event to its package and the order. A duplicate or late event changes nothing.
    The order is delivered once every package is. Returns the order key."""
    key = deps.orders.find_by_tracking(carrier, event.shipment_id)
    if key is None:
        raise UnknownShipment(f"no shipment {event.shipment_id} with {carrier}")
    if event.status in ("unknown", "pre_transit"):
        return key  # a label exists, the carrier has nothing yet: what a bought package already says (no write)
    order = _record_package_status(key, event, deps)
    waiting = order.wait.kind == str(WaitKind.DELIVERY) and order.wait.token is not None
    if event.status == "delivered" and all(package.tracking_status == "delivered" for package in order.packages):
        _deliver(key, carrier, event, deps)
        return key
    if event.status in _FAILING:
        _fail_delivery(key, carrier, event, deps)
        return key
    if waiting and order.wait.token and event.status in _MOVING | {"delivered"}:
        deps.workflow.heartbeat(order.wait.token)  # moving, or one of several parcels delivered: still on its way
    return key
