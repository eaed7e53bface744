"""An operator re-runs a failed order (``fulfillment orders rerun ORDER``).

What a re-run does depends on what compensation did:

- The execution failed (FAILED, TIMED_OUT, ABORTED) but the order was never compensated: it is not
  FAILED or CANCELLED (compensation itself broke, or the engine failed with ``States.Runtime``).
  The execution is redriven from the state that failed where the engine can (AWS) and where that helps
  (not when it ended in the Fail state); otherwise (the local engine has no ``RedriveExecution``) a new
  execution ``<name>-rerun<N>`` starts with the same input. Every step skips work the order already
  has, so either way fulfillment resumes at the step that failed.
- The order is FAILED (compensated: label cancelled, reservation released, store told): it is
  reopened as a new attempt — back to RECEIVED, ``attempt`` counted up so every side effect gets a
  new idempotency key (``Order.attempt_ref``) — and a new execution starts. Refused for payments we
  collect ourselves (an authorization, cash on delivery): compensation voided them at the gateway, which
  then takes nothing more, so the customer must pay again, which is a new order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from fulfillment.aggregates import load_order, update_order
from fulfillment.errors import OrderInvalid, RerunRefused
from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.lifecycle import TERMINAL
from fulfillment.model.order import Wait
from fulfillment.model.payment import PaymentMethod, payment_method
from fulfillment.ports import Execution, Executions, OrderRepository

RERUNNABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


FAIL_STATE_ERROR = "FulfillmentFailed"


_STILL_RUNNING = frozenset({"RUNNING", "PENDING_REDRIVE"})


_MAX_EXECUTION_NAME = 80


_PAYMENT_GIVEN_BACK = ("payment voided", "payment refunded")  # what ``compensate`` lists in ``undone``


@dataclass(frozen=True)
class RerunResult:
    order_key: str
    action: Literal["redriven", "restarted", "reopened"]
    execution_name: str
    attempt: int


def rerun(key: str, orders: OrderRepository, executions: Executions, *, by: str, reason: str = "") -> RerunResult:
    """Re-run a failed order from where it stopped; raises ``RerunRefused`` with the reason when it must not."""
    order = load_order(orders, key)
    history = order_executions(order, executions)
    latest = history[-1] if history else None
    if latest is not None and latest.status in _STILL_RUNNING:
        raise RerunRefused(f"order {key} is still running ({latest.name}): wait for it, or cancel it")
    if order.status is OrderStatus.FAILED:
        return _reopen(order, len(history), orders, executions, by=by, reason=reason)
    if order.status in TERMINAL:
        raise RerunRefused(f"order {key} is {order.status}: there is nothing to re-run")
    if order.status is OrderStatus.PENDING_PAYMENT:
        raise RerunRefused(f"order {key} is not paid: fulfillment starts when the store reports the payment")
    if latest is not None and latest.status not in RERUNNABLE:
        raise RerunRefused(f"order {key}'s execution {latest.name} is {latest.status}, not failed")
    update_order(orders, key, lambda current: current.note(f"re-run requested by {by}{_why(reason)}"))
    # A reopened order whose new execution never started still has only the old attempt's execution, which
    # ended in "Fulfillment failed": redriving it would fail again at once, so it gets a new execution instead.
    reopened_without_execution = order.attempt > 0 and order.status is OrderStatus.RECEIVED
    redrivable = latest is not None and latest.error != FAIL_STATE_ERROR and not reopened_without_execution
    if latest is not None and redrivable and executions.redrive(latest.name):
        return RerunResult(key, "redriven", latest.name, order.attempt)
    name = rerun_execution_name(order.execution_name(), len(history)) if history else order.execution_name()
    _start(executions, order, name)
    return RerunResult(key, "restarted", name, order.attempt)


def order_executions(order: Order, executions: Executions) -> list[Execution]:
    """The order's executions, oldest first: its own name, then each ``-rerun<N>`` until one is missing."""
    found: list[Execution] = []
    name = order.execution_name()
    while (execution := executions.execution(name)) is not None:
        found.append(execution)
        name = rerun_execution_name(order.execution_name(), len(found))
    return found


def rerun_execution_name(base: str, number: int) -> str:
    """``<base>-rerun<number>``, within Step Functions' 80 characters and still unique to the order."""
    suffix = f"-rerun{number}"
    if len(base) + len(suffix) <= _MAX_EXECUTION_NAME:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:10]  # the cut may remove the base's own hash
    return f"{base[: _MAX_EXECUTION_NAME - len(suffix) - 11]}-{digest}{suffix}"


def _reopen(
    order: Order, executions_so_far: int, orders: OrderRepository, executions: Executions, *, by: str, reason: str
) -> RerunResult:
    closed = payment_closed(order, orders.timeline(order.key))
    if closed:
        raise RerunRefused(
            f"order {order.key} cannot be reopened: when it failed, its {closed}; "
            "the customer must pay again (a new order in the store)"
        )
    reopened = update_order(orders, order.key, lambda current: _start_new_attempt(current, by, reason))
    name = rerun_execution_name(order.execution_name(), executions_so_far)
    _start(executions, reopened, name)
    return RerunResult(order.key, "reopened", name, reopened.attempt)


def payment_closed(order: Order, timeline: list[TimelineEvent]) -> str | None:
    """Why the order's payment can take nothing more, if it cannot: compensation voids every payment we collect
    ourselves (cancel-or-refund, even with nothing held), and records "payment voided (…)" or "payment refunded
    (…)" when money went back. Money the platform holds is closed only where compensation gave it back."""
    try:
        method = payment_method(order)
    except OrderInvalid:
        return None
    failed = next((event for event in reversed(timeline) if event.status is OrderStatus.FAILED), None)
    undone = [str(step) for step in (failed.detail.get("undone", []) if failed else [])]
    given_back = next((step for step in undone if step.startswith(_PAYMENT_GIVEN_BACK)), None)
    if method in (PaymentMethod.PREPAID, PaymentMethod.PLATFORM_AUTHORIZED):
        return given_back  # the platform's money: closed only if compensation gave it back (or owes it back)
    return given_back or f"{method} payment was voided"


def _start_new_attempt(order: Order, by: str, reason: str) -> Order:
    """FAILED → RECEIVED, the one use of that transition: a fresh attempt with nothing of the compensated one."""
    if order.status is not OrderStatus.FAILED:
        raise RerunRefused(f"order {order.key} changed meanwhile (now {order.status}); look again")
    previous_failure = order.failure.model_dump() if order.failure else {}
    order.attempt += 1
    order.failure = None
    order.inspection_attempts = 0
    order.wait = Wait()
    order.carrier = order.tracking_number = None
    for due in order.payment.outstanding_refunds:  # owed back while failed; fulfilled again instead
        order.note(f"refund of {due.amount} withdrawn: the order is fulfilled again", refund_key=due.key)
    order.packages, order.short, order.payment = [], {}, order.payment.as_told()
    order.transition_to(
        OrderStatus.RECEIVED,
        f"reopened by {by}{_why(reason)}: fulfillment attempt {order.attempt + 1}",
        attempt=order.attempt,
        previous_failure=previous_failure,
    )
    return order


def _start(executions: Executions, order: Order, name: str) -> None:
    if not executions.start_named(order, name):
        raise RerunRefused(f"an execution named {name} exists already: someone else re-ran order {order.key}")


def _why(reason: str) -> str:
    return f": {reason}" if reason else ""
