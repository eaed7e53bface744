"""The fulfillment workflow's steps, waits, decisions and compensations.

Every function is safe to run again: a Step Functions retry, a re-run from the failed step or a
duplicate callback finds the order already where the step would take it and does nothing twice.
Side effects carry keys derived from the order (label, reservation, capture, refund), so even a
step that crashed between its side effect and its save repeats nothing when it runs again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

from fulfillment.errors import (
    AwaitingStock,
    CancellationRefused,
    NothingToDecide,
    OrderCancelled,
    OrderNotFound,
    OutOfStock,
    UnknownShipment,
    VersionConflict,
)
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.inventory import OutOfStockPolicy, out_of_stock_policy
from fulfillment.model.lifecycle import FULFILLED, TERMINAL, ensure_transition
from fulfillment.model.order import REPLACES_REF
from fulfillment.model.payment import (
    CapturePoint,
    PaymentMethod,
    amount_to_collect,
    capture_key,
    capture_point,
    cash_key,
    payment_method,
    void_key,
)
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import OrderRepository, StepDeps

CONFLICT_ATTEMPTS = 8
INSPECTION_ATTEMPTS = 3  # a failed unit is swapped and re-inspected this many times before a person looks
DEFAULT_REVIEW_THRESHOLD_MINOR = 100_000  # orders above 1,000.00 wait for a person unless the store says otherwise


class WaitKind(StrEnum):
    APPROVAL = "approval"
    INSPECTION = "inspection"
    DELIVERY = "delivery"
    OPERATOR = "operator"


# --- helpers ------------------------------------------------------------------------------------
def load(orders: OrderRepository, key: str) -> Order:
    order = orders.get(key)
    if order is None:
        raise OrderNotFound(f"no order {key}")
    return order


def _retrying[T](orders: OrderRepository, key: str, change: Callable[[Order], T]) -> T:
    """Load, change, save; on a concurrent save, reload and change again."""
    for _ in range(CONFLICT_ATTEMPTS):
        order = load(orders, key)
        result = change(order)
        try:
            orders.save(order)
        except VersionConflict:
            continue
        return result
    raise VersionConflict(f"order {key} kept changing")


def _advance(
    deps: StepDeps, key: str, target: OrderStatus, reason: str, act: Callable[[Order], dict[str, Any]] | None = None
) -> Order:
    """Run one step: nothing if the order already got there, else act and record (refusing a cancelled order)."""
    order = load(deps.orders, key)
    if has_reached(order.status, target):
        return order
    if order.cancel_requested:
        raise OrderCancelled(order.cancel_requested)
    ensure_transition(order.status, target)  # before acting: a failed order must not buy a label
    detail = act(order) if act else {}
    order.transition_to(target, reason, **detail)
    deps.orders.save(order)
    return order


# --- steps --------------------------------------------------------------------------------------
def review_reasons(order: Order, threshold_minor: int) -> list[str]:
    reasons = []
    if order.totals.grand_total.minor > threshold_minor:
        reasons.append(f"high value: {order.totals.grand_total}")
    billing, shipping = order.billing_address.country, order.shipping_address.country
    if billing and shipping and billing != shipping:
        reasons.append(f"billing country {billing} differs from shipping country {shipping}")
    if order.platform_refs.get(REPLACES_REF):
        return []  # a replacement for a return: the original order was reviewed, and it costs the customer nothing
    if order.platform_refs.get("flagged"):
        reasons.append(f"flagged by the store: {order.platform_refs['flagged']}")
    return reasons


def validate_order(key: str, deps: StepDeps) -> dict[str, Any]:
    def check(order: Order) -> dict[str, Any]:
        order.ensure_fulfillable()
        store = deps.stores.get(order.store_id)
        threshold = int((store.options if store else {}).get("review_above_minor", DEFAULT_REVIEW_THRESHOLD_MINOR))
        return {"lines": len(order.lines), "review": review_reasons(order, threshold)}

    order = _advance(deps, key, OrderStatus.VALIDATED, "address, lines, totals and payment checked", check)
    validated = next((e for e in reversed(deps.orders.timeline(key)) if e.status is OrderStatus.VALIDATED), None)
    reasons = list(validated.detail.get("review", [])) if validated else []
    return {"order_key": order.key, "needs_review": bool(reasons), "review_reasons": reasons}


def reserve_inventory(key: str, deps: StepDeps) -> Order:
    def reserve(order: Order) -> dict[str, Any]:
        store = deps.stores.get(order.store_id)
        policy = out_of_stock_policy(store) if store else OutOfStockPolicy.WAIT
        outcome = deps.inventory.reserve(order, policy)  # idempotent per order
        if outcome.reservation is None:
            raise AwaitingStock(f"short of {outcome.short}")
        order.short = dict(outcome.short)
        return {"policy": str(policy), "short": dict(outcome.short)}

    try:
        return _advance(deps, key, OrderStatus.RESERVED, "stock reserved", reserve)
    except OutOfStock as error:
        if error.policy == OutOfStockPolicy.WAIT:
            raise AwaitingStock(str(error)) from error  # the state machine retries this one hourly
        raise


def package_order(key: str, deps: StepDeps) -> Order:
    def pack(order: Order) -> dict[str, Any]:
        packages = deps.packer(order)
        order.packages = packages
        return {"packages": len(packages), "weight_g": sum(int(p.get("weight_g", 0)) for p in packages)}

    return _advance(deps, key, OrderStatus.PACKAGED, "goods packed", pack)


def ship_order(key: str, deps: StepDeps) -> Order:
    def ship(order: Order) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        store = deps.stores.get(order.store_id)
        capture_now = store is not None and capture_point(store) is CapturePoint.SHIPMENT
        if capture_now and payment_method(order) is PaymentMethod.AUTHORIZED:
            detail["captured"] = _capture(order, deps)  # first: a declined card ships nothing and takes no stock
        label = deps.carrier.create_label(order)  # keyed on the order: a retry gets the same label
        order.carrier, order.tracking_number = label.carrier, label.tracking_number
        return detail | {"carrier": label.carrier, "tracking_number": label.tracking_number}

    order = _advance(deps, key, OrderStatus.SHIPPED, "handed to the carrier", ship)
    # After the save, on every run: units leave the shelf only once the order has shipped (a ship step that
    # fails before its save leaves the reservation for compensation to release), and consuming is idempotent.
    deps.inventory.consume(order.attempt_ref())
    deps.notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.SHIPPED))  # also on a re-run: deduped
    return order


def _capture(order: Order, deps: StepDeps) -> str:
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
            return {"method": str(method), "amount": _capture(order, deps)}
        order.payment.setdefault("method", str(method))
        return {"method": str(method), "amount": str(order.totals.grand_total)}

    return _advance(deps, key, OrderStatus.PAYMENT_COMPLETED, "payment complete", settle)


def complete_order(key: str, deps: StepDeps) -> Order:
    order = _advance(deps, key, OrderStatus.COMPLETED, "delivered and paid")
    deps.notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.COMPLETED))
    return order


# --- waits and their answers --------------------------------------------------------------------
def park_task_token(key: str, token: str, kind: WaitKind, deps: StepDeps) -> None:
    """Keep the execution's task token on the order until someone answers (a callback step)."""

    def decide_wait(current: Order) -> str:
        # Decided on every attempt: a cancellation or a delivery may land while we park.
        if current.cancel_requested:
            return "cancelled"
        if kind in (WaitKind.DELIVERY, WaitKind.OPERATOR) and has_reached(current.status, OrderStatus.DELIVERED):
            # The carrier was faster than us; or, for the overdue-delivery operator wait, the delivery was
            # recorded but its resume never arrived: the alert path heals itself instead of paging a person.
            return "answered"
        if kind is WaitKind.INSPECTION and has_reached(current.status, OrderStatus.INSPECTED):
            return "answered"  # a re-run after the inspection passed
        if kind is WaitKind.APPROVAL and has_reached(current.status, OrderStatus.RESERVED):
            return "answered"  # a re-run after the approval was given and acted on
        return "parked"

    for _ in range(CONFLICT_ATTEMPTS):
        current = load(deps.orders, key)
        outcome = decide_wait(current)
        if outcome != "parked":
            break
        current.task_token, current.waiting_for = token, str(kind)
        current.waiting_since = datetime.now(UTC)
        try:
            deps.orders.save(current)
        except VersionConflict:
            continue
        break
    else:
        raise VersionConflict(f"order {key} kept changing while parking its task token")
    order = load(deps.orders, key)
    if outcome == "cancelled":
        deps.workflow.fail(token, "OrderCancelled", order.cancel_requested or "cancelled")
    elif outcome == "answered":
        deps.workflow.resume(token, {"order_key": key})
    elif kind is WaitKind.INSPECTION:
        deps.warehouse.request_inspection(order, attempt=order.inspection_attempts + 1)


def answer_wait(
    key: str,
    kind: WaitKind,
    deps: StepDeps,
    *,
    success: dict[str, Any] | None = None,
    failure: tuple[str, str] | None = None,
    note: str | None,
    change: Callable[[Order], None] | None = None,
    resend: bool = False,
) -> Order:
    """Answer what the execution waits for, once: resume (or fail) its token, then clear it with the save."""
    order = load(deps.orders, key)
    token = order.task_token
    if token is None or order.waiting_for != str(kind):
        if resend and order.answered_token and order.answered_wait == str(kind):
            # A partner redelivering after our save's answer was lost: send again (a spent token does nothing).
            _send(deps, order.answered_token, failure, success or {"order_key": key})
            return order
        raise NothingToDecide(f"order {key} is not waiting for {kind} (waiting for: {order.waiting_for or 'nothing'})")
    recorded = len(order.pending_events)
    if change:
        change(order)
    if failure:  # kept on the order too: Step Functions carries the cause, the local engine drops it
        order.failure = {"error": failure[0], "cause": failure[1]}
    if note and len(order.pending_events) == recorded:  # the change recorded no status: say what happened
        order.note(note)
    order.answered_token, order.answered_wait = token, order.waiting_for
    if order.waiting_since is not None:  # the resumed step emits it (CallbackWaitSeconds), then clears it
        seconds = (datetime.now(UTC) - order.waiting_since).total_seconds()
        # Seconds as a decimal string: the order is stored in DynamoDB, which takes no floats.
        order.last_wait = {"kind": str(order.waiting_for), "seconds": f"{max(seconds, 0.0):.3f}"}
    order.task_token, order.waiting_for, order.waiting_since = None, None, None
    # Saved before the answer is sent, so the step that resumes sees it; conditional on the version, so a
    # concurrent answer loses here.
    deps.orders.save(order)
    try:
        _send(deps, token, failure, success or {"order_key": key})
    except Exception:  # not sent: give the token back, so the caller's retry answers again
        _retrying(deps.orders, key, lambda o: _repark(o, token, kind))
        raise
    return order


def take_last_wait(orders: OrderRepository, key: str) -> dict[str, str] | None:
    """The wait answered last ({"kind", "seconds"}), cleared on the order so it is taken once; None if none."""

    def take(order: Order) -> dict[str, str] | None:
        wait, order.last_wait = order.last_wait, None
        return wait

    if load(orders, key).last_wait is None:
        return None  # nothing to take: no write
    return _retrying(orders, key, take)


def _send(deps: StepDeps, token: str, failure: tuple[str, str] | None, success: dict[str, Any]) -> None:
    if failure:
        deps.workflow.fail(token, *failure)
    else:
        deps.workflow.resume(token, success)


def _repark(order: Order, token: str, kind: WaitKind) -> None:
    if order.task_token is None:
        order.task_token, order.waiting_for = token, str(kind)


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    PASS = "pass"  # noqa: S105 - an inspection verdict
    FAIL = "fail"
    DELIVERED = "delivered"
    LOST = "lost"


def decide(key: str, decision: Decision, deps: StepDeps, *, by: str, reason: str = "") -> Order:
    """An operator's decision on a waiting order (approval, a stuck inspection, an overdue delivery)."""
    order = load(deps.orders, key)
    why = f" ({reason})" if reason else ""
    if decision in (Decision.APPROVE, Decision.REJECT):
        failure = ("ApprovalRejected", reason or "rejected") if decision is Decision.REJECT else None
        verb = "approved" if decision is Decision.APPROVE else "rejected"
        return answer_wait(key, WaitKind.APPROVAL, deps, failure=failure, note=f"{verb} by {by}{why}")
    inspection_stuck = order.waiting_for == str(WaitKind.OPERATOR) and order.status in (
        OrderStatus.RESERVED,
        OrderStatus.INSPECTED,  # packing found an item it cannot pack
    )
    if inspection_stuck:
        if decision not in (Decision.PASS, Decision.FAIL):
            raise NothingToDecide(f"order {key} waits for an inspection decision (pass or fail), not {decision}")
        if decision is Decision.PASS:
            return answer_wait(
                key,
                WaitKind.OPERATOR,
                deps,
                note=f"inspection passed by {by}{why}",
                change=lambda o: _mark_inspected(o, by),
            )
        return answer_wait(
            key,
            WaitKind.OPERATOR,
            deps,
            failure=("InspectionRejected", reason or "rejected"),
            note=f"inspection failed by {by}{why}",
        )
    if decision is Decision.DELIVERED:
        kind = WaitKind(order.waiting_for) if order.waiting_for in ("delivery", "operator") else WaitKind.DELIVERY
        return answer_wait(
            key,
            kind,
            deps,
            note=f"delivery confirmed by {by}{why}",
            change=lambda o: _mark_delivered(o, f"delivery confirmed by {by}"),
        )
    if decision is Decision.LOST:
        kind = WaitKind(order.waiting_for) if order.waiting_for in ("delivery", "operator") else WaitKind.DELIVERY
        return answer_wait(key, kind, deps, failure=("DeliveryFailed", f"lost{why}"), note=f"reported lost by {by}")
    raise NothingToDecide(f"{decision} does not answer what order {key} waits for ({order.waiting_for})")


def _mark_inspected(order: Order, by: str) -> None:
    if order.status is OrderStatus.RESERVED:
        order.transition_to(OrderStatus.INSPECTED, f"inspection passed ({by})")


def _mark_delivered(order: Order, reason: str, at: datetime | None = None, **detail: Any) -> None:
    if order.status is OrderStatus.SHIPPED:
        order.transition_to(OrderStatus.DELIVERED, reason, at=at, **detail)


class InspectionReport(BaseModel):
    order_key: str
    attempt: int
    result: Literal["passed", "failed"]
    inspector: str = ""
    notes: str = ""


def record_inspection(report: InspectionReport, deps: StepDeps) -> Order:
    """The warehouse's callback: passed resumes; failed swaps the unit and re-inspects, up to a limit."""
    order = load(deps.orders, report.order_key)
    if report.result == "passed" and order.answered_wait == str(WaitKind.INSPECTION) and order.waiting_for is None:
        # Redelivered after our save's answer was lost: resend (a spent token does nothing).
        return answer_wait(report.order_key, WaitKind.INSPECTION, deps, note=None, resend=True)
    if order.waiting_for != str(WaitKind.INSPECTION) or report.attempt != order.inspection_attempts + 1:
        return order  # a duplicate or late report: the wait it answers is over
    if report.result == "passed":
        return answer_wait(
            report.order_key,
            WaitKind.INSPECTION,
            deps,
            note=f"inspection passed ({report.inspector})",
            change=lambda o: _mark_inspected(o, report.inspector or "warehouse"),
        )
    if report.attempt >= INSPECTION_ATTEMPTS:
        return answer_wait(
            report.order_key,
            WaitKind.INSPECTION,
            deps,
            failure=("InspectionFailed", f"failed {report.attempt} inspections: {report.notes}"),
            note=f"inspection failed {report.attempt} times: {report.notes}",
            change=lambda o: setattr(o, "inspection_attempts", report.attempt),
        )

    def swap(current: Order) -> None:
        current.inspection_attempts = report.attempt
        current.note(f"inspection {report.attempt} failed ({report.notes}); unit swapped, re-inspecting")

    _retrying(deps.orders, report.order_key, swap)
    token = order.task_token
    if token:
        deps.workflow.heartbeat(token)
    deps.warehouse.request_inspection(load(deps.orders, report.order_key), attempt=report.attempt + 1)
    return load(deps.orders, report.order_key)


class TrackingEvent(BaseModel):
    event_id: str
    tracking_number: str
    status: Literal["in_transit", "out_for_delivery", "delivered", "exception"]
    occurred_at: datetime
    description: str = ""
    exception: Literal["failed_attempt", "returned_to_sender", "lost"] | None = None


def _deliver(key: str, carrier: str, event: TrackingEvent, deps: StepDeps) -> None:
    """Record the delivery and resume the wait, whichever of the two lands first (a park may race us)."""
    for _ in range(CONFLICT_ATTEMPTS):
        order = load(deps.orders, key)
        if order.task_token and order.waiting_for in (str(WaitKind.DELIVERY), str(WaitKind.OPERATOR)):
            kind = WaitKind(order.waiting_for)
            try:
                answer_wait(
                    key,
                    kind,
                    deps,
                    note=None if order.status is not OrderStatus.SHIPPED else f"{carrier} tracking: delivered",
                    change=lambda o: _mark_delivered(
                        o,
                        f"{carrier} confirmed delivery",
                        at=event.occurred_at,
                        tracking_number=event.tracking_number,
                        carrier_event=event.event_id,
                    ),
                )
            except (VersionConflict, NothingToDecide):
                continue
            return
        if order.status is not OrderStatus.SHIPPED:
            if order.answered_wait == str(WaitKind.DELIVERY) and order.waiting_for is None:
                answer_wait(key, WaitKind.DELIVERY, deps, note=None, resend=True)  # a spent token does nothing
            return  # already delivered (a duplicate event), or not ours to move
        _mark_delivered(order, f"{carrier} confirmed delivery", at=event.occurred_at)
        try:
            deps.orders.save(order)  # no wait parked yet: parking will see DELIVERED and resume at once
        except VersionConflict:
            continue
        return
    raise VersionConflict(f"order {key} kept changing while recording its delivery")


def record_tracking_event(carrier: str, event: TrackingEvent, deps: StepDeps) -> str:
    """Apply a carrier tracking event. A duplicate or late event changes nothing. Returns the order key."""
    key = deps.orders.find_by_tracking(carrier, event.tracking_number)
    if key is None:
        raise UnknownShipment(f"no shipment {event.tracking_number} with {carrier}")
    order = load(deps.orders, key)
    waiting = order.waiting_for == str(WaitKind.DELIVERY) and order.task_token is not None
    if event.status == "delivered":
        _deliver(key, carrier, event, deps)
        return key
    if event.status == "exception" and event.exception in ("returned_to_sender", "lost") and waiting:
        answer_wait(
            key,
            WaitKind.DELIVERY,
            deps,
            failure=("DeliveryFailed", f"{event.exception}: {event.description}"),
            note=f"{carrier} tracking: {event.exception}",
        )
        return key
    if waiting and order.task_token:
        deps.workflow.heartbeat(order.task_token)  # in transit, out for delivery, a failed attempt: still moving
    return key


# --- cancellation and compensation --------------------------------------------------------------
def request_cancellation(key: str, reason: str, deps: StepDeps) -> Order:
    """Cancel before delivery: the waiting execution is failed with OrderCancelled (it compensates), a running
    step sees the request at its next save, and an order with no execution is compensated here."""
    order = load(deps.orders, key)
    if has_reached(order.status, OrderStatus.DELIVERED):  # COMPLETED included
        raise CancellationRefused(f"order {key} was delivered; start a return instead (fulfillment returns start)")
    if order.status in TERMINAL:
        return order
    if order.task_token:
        return answer_wait(
            key,
            WaitKind(order.waiting_for or "operator"),
            deps,
            failure=("OrderCancelled", reason),
            note=f"cancellation requested: {reason}",
            change=lambda o: setattr(o, "cancel_requested", reason),
        )
    if order.status is OrderStatus.PENDING_PAYMENT:
        return compensate(key, "cancelled", {"Error": "OrderCancelled", "Cause": reason}, deps)

    def mark(current: Order) -> None:
        current.cancel_requested = reason
        current.note(f"cancellation requested: {reason}")

    _retrying(deps.orders, key, mark)
    return load(deps.orders, key)


def compensate(
    key: str, outcome: Literal["cancelled", "failed"], error: dict[str, str | None], deps: StepDeps
) -> Order:
    """Undo what the order's stage did, and nothing more, then record the outcome. Safe to run again."""
    order = load(deps.orders, key)
    if order.status in TERMINAL:
        if order.status not in FULFILLED:
            _tell_store(key, error, deps)  # a re-run after the store could not be told: the outbox dedupes
        return order
    undone: list[str] = []
    started = order.status is not OrderStatus.PENDING_PAYMENT  # an unpaid order has nothing to undo but itself
    # By the order's reference, not its tracking number: a ship step that crashed after buying the label
    # never saved the number, and its label must not leak.
    may_have_label = has_reached(order.status, OrderStatus.PACKAGED) and not has_reached(
        order.status, OrderStatus.DELIVERED
    )
    if may_have_label and deps.carrier.cancel_label(order):
        undone.append("label cancelled")
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
        known = current.failure or {}
        cause = _cause(error) if error.get("Cause") else known.get("cause") or _cause(error)
        current.task_token, current.waiting_for = None, None
        if outcome == "failed":
            current.failure = {"error": str(error.get("Error") or known.get("error") or "Unknown"), "cause": cause}
            current.transition_to(OrderStatus.FAILED, f"{current.failure['error']}: {cause}"[:500], undone=undone)
        else:
            current.transition_to(OrderStatus.CANCELLED, f"cancelled: {cause}"[:500], undone=undone)

    _retrying(deps.orders, key, record)  # recorded before the store is told: an outbox outage hides nothing
    _tell_store(key, error, deps)
    return load(deps.orders, key)


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


def raise_alert(key: str, alert: str, deps: StepDeps) -> Order:
    """Record an alert on the order; the metric it emits is what the CloudWatch alarm watches."""
    return _retrying(deps.orders, key, lambda o: (o.note(f"alert: {alert.replace('_', ' ')}", alert=alert), o)[1])
