"""Waits: the execution's task token parked on the order, and the one way to answer it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fulfillment.aggregates import load_order, retry_on_conflict, update_order
from fulfillment.errors import NothingToDecide, OrderCancelled
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.order import Failure, WaitKind, WaitTime
from fulfillment.ports import OrderRepository, StepDeps


def park_task_token(key: str, token: str, kind: WaitKind, deps: StepDeps) -> None:
    """Keep the execution's task token on the order until someone answers (a callback step)."""

    def decide_wait(current: Order) -> str:
        # Decided on every attempt: a cancellation or a delivery may land while we park.
        if current.cancel_requested:
            return "cancelled"
        if kind in (WaitKind.DELIVERY, WaitKind.OPERATOR) and current.wait.early_failure:
            return "failed"  # the carrier reported the parcel lost (or returned) before we parked
        if kind in (WaitKind.DELIVERY, WaitKind.OPERATOR) and has_reached(current.status, OrderStatus.DELIVERED):
            # The carrier was faster than us; or, for the overdue-delivery operator wait, the delivery was
            # recorded but its resume never arrived: the alert path heals itself instead of paging a person.
            return "answered"
        if kind is WaitKind.INSPECTION and has_reached(current.status, OrderStatus.INSPECTED):
            return "answered"  # a re-run after the inspection passed
        if kind is WaitKind.APPROVAL and has_reached(current.status, OrderStatus.RESERVED):
            return "answered"  # a re-run after the approval was given and acted on
        return "parked"

    def park(current: Order) -> str:
        outcome = decide_wait(current)
        if outcome == "parked":
            current.wait.park(token, str(kind), at=datetime.now(UTC))
        elif outcome == "failed":  # kept as the order's failure: the local engine drops a task failure's cause
            current.failure, current.wait.early_failure = current.wait.early_failure, None
        return outcome

    outcome = update_order(deps.orders, key, park)
    order = load_order(deps.orders, key)
    if outcome == "cancelled":
        deps.workflow.fail(token, OrderCancelled.__name__, order.cancel_requested or "cancelled")
    elif outcome == "failed" and order.failure:
        deps.workflow.fail(token, order.failure.error, order.failure.cause)
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
    """Answer what the execution waits for, once: clear its token with a conditional save, then resume (or fail)
    it. A concurrent save makes the answer look again (retried): if someone else answered meanwhile, the token is
    gone and this raises ``NothingToDecide``; any other change (a note, a metric) no longer fails the answer."""

    def clear() -> tuple[Order, str | None]:
        order = load_order(deps.orders, key)
        token = order.wait.token
        if token is None or order.wait.kind != str(kind):
            if resend and order.wait.answered_token and order.wait.answered_kind == str(kind):
                return order, None  # a partner redelivering after our answer was lost: send it again
            waiting = order.wait.kind or "nothing"
            raise NothingToDecide(f"order {key} is not waiting for {kind} (waiting for: {waiting})")
        recorded = len(order.pending_events)
        if change:
            change(order)
        if failure:  # kept on the order too: Step Functions carries the cause, the local engine drops it
            order.failure = Failure(error=failure[0], cause=failure[1])
        if note and len(order.pending_events) == recorded:  # the change recorded no status: say what happened
            order.note(note)
        order.wait.answer(datetime.now(UTC))  # how long it took stays for the resumed step's CallbackWaitSeconds
        deps.orders.save(order)  # before the answer is sent, so the step that resumes sees it
        return order, token

    order, token = retry_on_conflict(clear, f"order {key}")
    if token is None:  # resending: a spent token does nothing
        _send(deps, order.wait.answered_token or "", failure, success or {"order_key": key})
        return order
    try:
        _send(deps, token, failure, success or {"order_key": key})
    except Exception:  # not sent: give the token back, so the caller's retry answers again
        update_order(deps.orders, key, lambda o: _repark(o, token, kind))
        raise
    return order


def take_last_wait(orders: OrderRepository, key: str) -> WaitTime | None:
    """The wait answered last and how long it took, cleared on the order so it is taken once; None if none."""

    def take(order: Order) -> WaitTime | None:
        wait, order.wait.last = order.wait.last, None
        return wait

    if load_order(orders, key).wait.last is None:
        return None  # nothing to take: no write
    return update_order(orders, key, take)


def _send(deps: StepDeps, token: str, failure: tuple[str, str] | None, success: dict[str, Any]) -> None:
    if failure:
        deps.workflow.fail(token, *failure)
    else:
        deps.workflow.resume(token, success)


def _repark(order: Order, token: str, kind: WaitKind) -> None:
    if order.wait.token is None:
        order.wait.park(token, str(kind))
