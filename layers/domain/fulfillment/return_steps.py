"""The return workflow: request → authorize (RMA) → goods received → inspected → disposed → refunded or
replaced (or refused) → closed.

Like the fulfillment steps, every function is safe to run again: each finds the return where it
would take it and does nothing twice; money (refund keyed on the return), stock (restock keyed on
the returned line) and the replacement order (named after the return) carry their own keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.errors import NothingToDecide, OrderNotFound, ReturnInvalid, ReturnNotAllowed, VersionConflict
from fulfillment.model import Money, Order, OrderStatus
from fulfillment.model.lifecycle import FULFILLED
from fulfillment.model.order import REPLACES_REF, RETURN_REF, Totals
from fulfillment.model.payment import PAYMENT_METHOD_REF, PaymentMethod, payment_method
from fulfillment.model.returns import (
    RETURN_TERMINAL,
    FailedInspectionPolicy,
    Resolution,
    Return,
    ReturnLine,
    ReturnPolicy,
    ReturnSource,
    ReturnStatus,
    delivered_quantities,
    replacement_external_id,
    returnable_quantities,
    split_return_key,
)
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import OpenReturnDeps, ReturnDeps

CONFLICT_ATTEMPTS = 8
S = ReturnStatus


# --- requests -----------------------------------------------------------------------------------
class ReturnLineRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str | None = None  # the order line; or name its SKU
    sku: str | None = None
    quantity: int = Field(gt=0)


class ReturnRequest(BaseModel):
    """A return asked for by ops or customer service (the CLI) or reported by the store."""

    order_key: str = Field(min_length=3)
    lines: list[ReturnLineRequest] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=200)
    resolution: Resolution = Resolution.REFUND
    source: ReturnSource = ReturnSource.OPERATOR
    requested_by: str = ""
    external_id: str | None = None  # the store's return/refund id: a redelivery opens nothing new
    refunded_by_store_minor: int | None = None  # the store already gave this much back


def request_return(request: ReturnRequest, deps: OpenReturnDeps) -> Return:
    """Open a return and start its execution. Bad input raises and writes nothing; the store's policy is
    applied by the workflow's first step, so a refusal by policy is recorded and visible to ops."""
    for _ in range(CONFLICT_ATTEMPTS):
        order = deps.orders.get(request.order_key)
        if order is None:
            raise OrderNotFound(f"no order {request.order_key}")
        if request.external_id and request.external_id in order.store_returns:
            existing = deps.returns.get(f"{order.key}:R{order.store_returns[request.external_id]}")
            if existing is not None:
                deps.workflow.start_return(existing)  # a start that failed last time gets another chance
                return existing
        ret = _new_return(order, request)
        order.returns_opened = ret.number
        if request.external_id:
            order.store_returns[request.external_id] = ret.number
        order.note(f"return R{ret.number} requested ({request.source}): {request.reason}", return_key=ret.key)
        try:
            deps.returns.create(ret, order)
        except VersionConflict:
            continue
        deps.workflow.start_return(ret)
        return ret
    raise VersionConflict(f"order {request.order_key} kept changing while opening a return")


def _new_return(order: Order, request: ReturnRequest) -> Return:
    if order.status not in FULFILLED:
        raise ReturnNotAllowed(
            f"order {order.key} is {order.status}: returns are taken once an order is delivered and complete"
        )
    lines = _requested_lines(order, request.lines)
    refunded = (
        Money(minor=request.refunded_by_store_minor, currency=order.currency)
        if request.refunded_by_store_minor
        else None
    )
    ret = Return(
        order_key=order.key,
        number=order.returns_opened + 1,
        store_id=order.store_id,
        platform=order.platform,
        external_order_id=order.external_id,
        source=request.source,
        external_id=request.external_id,
        reason=request.reason,
        resolution=request.resolution,
        lines=tuple(lines),
        requested_by=request.requested_by,
        requested_at=datetime.now(UTC),
        refunded_by_store=refunded,
    )
    units = sum(line.quantity for line in lines)
    ret.record_request(f"requested by {request.requested_by or request.source}: {units} unit(s), {request.reason}")
    return ret


def _requested_lines(order: Order, requested: list[ReturnLineRequest]) -> list[ReturnLine]:
    by_id = {line.line_id: line for line in order.lines}
    by_sku = {line.sku: line for line in order.lines}
    quantities: dict[str, int] = {}
    for want in requested:
        line = by_id.get(want.line_id or "") or (by_sku.get(want.sku or "") if not want.line_id else None)
        if line is None:
            raise ReturnInvalid(f"order {order.key} has no line {want.line_id or want.sku!r}")
        quantities[line.line_id] = quantities.get(line.line_id, 0) + want.quantity
    return [
        ReturnLine(line_id=line_id, sku=by_id[line_id].sku, quantity=qty, unit_price=by_id[line_id].unit_price)
        for line_id, qty in quantities.items()
    ]


# --- helpers ------------------------------------------------------------------------------------
def load_return(deps: ReturnDeps, key: str) -> Return:
    ret = deps.returns.get(key)
    if ret is None:
        raise OrderNotFound(f"no return {key}")
    return ret


def _load_order(deps: ReturnDeps, key: str) -> Order:
    order = deps.orders.get(key)
    if order is None:
        raise OrderNotFound(f"no order {key}")
    return order


def _change[T](deps: ReturnDeps, key: str, change: Callable[[Return, Order], T]) -> T:
    """Load the return and its order, change both, save both in one transaction; retry on a concurrent save."""
    for _ in range(CONFLICT_ATTEMPTS):
        ret = load_return(deps, key)
        order = _load_order(deps, ret.order_key)
        result = change(ret, order)
        try:
            # The order is saved with the return whenever the change touched it (its counters move with an event).
            deps.returns.save(ret, order if order.pending_events else None)
        except VersionConflict:
            continue
        return result
    raise VersionConflict(f"return {key} kept changing")


def _add(counts: dict[str, int], more: dict[str, int], sign: int = 1) -> None:
    for line_id, units in more.items():
        counts[line_id] = max(0, counts.get(line_id, 0) + sign * units)


# --- authorize ----------------------------------------------------------------------------------
def policy_problems(ret: Return, order: Order, policy: ReturnPolicy) -> list[str]:
    # Reasons and the window are for returns asked of us; a return the store reports, it already accepted.
    problems = []
    if ret.source is ReturnSource.OPERATOR and ret.reason not in policy.reasons:
        problems.append(f"reason {ret.reason!r} is not one the store accepts ({', '.join(sorted(policy.reasons))})")
    delivered_at = order.delivered_at or order.placed_at
    if ret.source is ReturnSource.OPERATOR and ret.requested_at > policy.window_ends(delivered_at):
        problems.append(
            f"outside the {policy.window_days}-day return window (delivered {delivered_at:%Y-%m-%d}, "
            f"window closed {policy.window_ends(delivered_at):%Y-%m-%d})"
        )
    for line in ret.lines:
        if line.sku in policy.non_returnable_skus:
            problems.append(f"{line.sku} is not returnable")
    left = returnable_quantities(order)
    delivered = delivered_quantities(order)
    for line_id, units in ret.claimed().items():
        if units > left.get(line_id, 0):
            problems.append(
                f"line {line_id} asks to return {units} unit(s); {delivered.get(line_id, 0)} delivered, "
                f"{left.get(line_id, 0)} not yet returned"
            )
    return problems


def authorize_return(key: str, deps: ReturnDeps) -> dict[str, Any]:
    """Apply the store's policy: issue an RMA (claiming the units on the order) or reject with the reasons."""

    def decide(ret: Return, order: Order) -> None:
        if ret.status is not S.REQUESTED:
            return  # decided before (a retry)
        policy = ReturnPolicy.for_store(deps.stores.get(ret.store_id))
        problems = policy_problems(ret, order, policy)
        if problems:
            ret.rejection = "; ".join(problems)
            ret.transition_to(S.REJECTED, f"rejected: {ret.rejection}")
            order.note(f"return R{ret.number} rejected: {ret.rejection}", return_key=ret.key)
            return
        ret.rma = ret.rma_number()
        ret.transition_to(S.AUTHORIZED, f"authorized: RMA {ret.rma} issued", rma=ret.rma)
        _add(order.return_claims, ret.claimed())
        order.note(f"return R{ret.number} authorized: RMA {ret.rma}", return_key=ret.key, rma=ret.rma)

    _change(deps, key, decide)
    ret = load_return(deps, key)
    return {"return_key": key, "order_key": ret.order_key, "authorized": ret.status is not S.REJECTED}


# --- waits --------------------------------------------------------------------------------------
ReturnWait = Literal["goods", "inspection"]


def park_return_wait(key: str, token: str, kind: ReturnWait, deps: ReturnDeps) -> None:
    """Keep the task token on the return; announce the RMA to the warehouse when waiting for the goods."""
    for _ in range(CONFLICT_ATTEMPTS):
        ret = load_return(deps, key)
        if _wait_answered(ret, kind):
            deps.workflow.resume(token, {"return_key": key})  # the warehouse was faster than us
            return
        ret.task_token, ret.waiting_for = token, kind
        try:
            deps.returns.save(ret)
        except VersionConflict:
            continue
        break
    else:
        raise VersionConflict(f"return {key} kept changing while parking its task token")
    if kind == "goods":
        deps.warehouse.expect_return(ret)  # keyed on the RMA at the warehouse: a re-announcement is one RMA


def _wait_answered(ret: Return, kind: ReturnWait) -> bool:
    if kind == "goods":
        return ret.status is not S.AUTHORIZED
    return all(line.result is not None for line in ret.lines)


class ReturnLineReport(BaseModel):
    line_id: str
    result: Literal["passed", "failed"]
    resellable: bool = True
    notes: str = ""


class ReturnReport(BaseModel):
    """The warehouse's signed callback about an RMA: the goods arrived, or their inspection per line."""

    return_key: str
    rma: str
    event: Literal["received", "inspected"]
    lines: list[ReturnLineReport] = Field(default_factory=list)
    inspector: str = ""


def record_return_report(report: ReturnReport, deps: ReturnDeps) -> Return:
    """Apply the warehouse's report once and answer the wait it ends (a duplicate changes nothing)."""
    try:
        split_return_key(report.return_key)
    except ValueError as error:
        raise ReturnInvalid(str(error)) from error
    ret = load_return(deps, report.return_key)
    if ret.rma != report.rma:
        raise ReturnInvalid(f"RMA {report.rma} does not belong to return {report.return_key}")
    if report.event == "received":
        return _answer(deps, report.return_key, "goods", lambda r: _receive(r, report))
    unknown = {line.line_id for line in report.lines} - {line.line_id for line in ret.lines}
    if unknown or not report.lines:
        raise ReturnInvalid(f"inspection of {report.return_key} must cover its lines, not {sorted(unknown)}")
    return _answer(deps, report.return_key, "inspection", lambda r: _inspect(r, report))


def _receive(ret: Return, report: ReturnReport) -> None:
    if ret.status is S.AUTHORIZED:
        ret.transition_to(S.RECEIVED, f"goods received at the warehouse ({report.inspector or 'warehouse'})")
    elif ret.status is S.EXPIRED and not ret.late_goods:
        # Too late for the workflow: recorded (once) where customer service looks, nothing restocked or refunded.
        ret.late_goods = True
        ret.note(f"goods arrived after RMA {ret.rma} lapsed: held at the warehouse for customer service")


def _inspect(ret: Return, report: ReturnReport) -> None:
    if ret.status is not S.RECEIVED or all(line.result for line in ret.lines):
        return
    results = {line.line_id: line for line in report.lines}
    ret.lines = tuple(
        line.model_copy(
            update={
                "result": results[line.line_id].result,
                "resellable": results[line.line_id].resellable,
                "notes": results[line.line_id].notes,
            }
        )
        if line.line_id in results
        else line.model_copy(update={"result": "failed", "notes": "not in the inspection report"})
        for line in ret.lines
    )
    passed = sum(1 for line in ret.lines if line.passed)
    ret.note(f"inspected: {passed} of {len(ret.lines)} line(s) passed", by=report.inspector or "warehouse")


def _answer(deps: ReturnDeps, key: str, kind: ReturnWait, change: Callable[[Return], None]) -> Return:
    for _ in range(CONFLICT_ATTEMPTS):
        ret = load_return(deps, key)
        token = ret.task_token if ret.waiting_for == kind else None
        change(ret)
        if token:
            ret.answered_token, ret.task_token, ret.waiting_for = token, None, None
        try:
            deps.returns.save(ret)
        except VersionConflict:
            continue
        if token:
            deps.workflow.resume(token, {"return_key": key})
        elif ret.answered_token and ret.waiting_for is None and _wait_answered(ret, kind):
            deps.workflow.resume(
                ret.answered_token, {"return_key": key}
            )  # a redelivery: resend, a spent token is a no-op
        return ret
    raise VersionConflict(f"return {key} kept changing while recording the warehouse's report")


# --- disposition and resolution -----------------------------------------------------------------
def dispose_return(key: str, deps: ReturnDeps) -> Return:
    """Passed and resellable → back on the shelf (once per line); passed but damaged → written off; failed →
    by the store's policy, sent back to the customer or kept and written off."""
    ret = load_return(deps, key)
    if ret.status is not S.RECEIVED:
        return ret
    policy = ReturnPolicy.for_store(deps.stores.get(ret.store_id))
    for line in ret.lines:
        if line.passed and line.resellable:
            deps.inventory.restock_once(f"{key}:{line.line_id}", line.sku, line.quantity)

    def record(current: Return, order: Order) -> None:
        if current.status is not S.RECEIVED:
            return
        current.lines = tuple(
            line.model_copy(update={"disposition": _disposition(line, policy)}) for line in current.lines
        )
        summary = ", ".join(f"{line.sku} x{line.quantity}: {line.disposition}" for line in current.lines)
        current.transition_to(S.INSPECTED, f"disposed: {summary}")

    _change(deps, key, record)
    return load_return(deps, key)


def _disposition(line: ReturnLine, policy: ReturnPolicy) -> str:
    if line.passed:
        return "restock" if line.resellable else "write_off"
    if policy.failed_inspection is FailedInspectionPolicy.RETURN_TO_CUSTOMER:
        return "return_to_customer"
    return "write_off"


def resolve_return(key: str, deps: ReturnDeps) -> Return:
    """Refund the passed lines, or start a replacement order for them; refuse when nothing passed."""
    ret = load_return(deps, key)
    if ret.status is not S.INSPECTED:
        return ret
    order = _load_order(deps, ret.order_key)
    if not ret.passed_lines():
        _change(deps, key, _refuse)
    elif ret.resolution is Resolution.REPLACEMENT:
        replacement = _create_replacement(ret, order, deps)
        _change(deps, key, lambda r, o: _record_replacement(r, o, replacement))
        deps.workflow.start(replacement)  # named after the replacement: a retry starts nothing new
    else:
        _refund(ret, order, deps)
    return load_return(deps, key)


def _refuse(ret: Return, order: Order) -> None:
    if ret.status is not S.INSPECTED:
        return
    why = "no line passed inspection: " + "; ".join(f"{line.sku}: {line.notes or 'failed'}" for line in ret.lines)
    ret.transition_to(S.REFUSED, why)
    _settle_failed_lines(ret, order)
    order.note(f"return R{ret.number} refused: {why}", return_key=ret.key)


def _settle_failed_lines(ret: Return, order: Order) -> None:
    """Units sent back to the customer are theirs again (and may be returned again); written-off ones stay counted."""
    back = {line.line_id: line.quantity for line in ret.lines if line.disposition == "return_to_customer"}
    if back:
        _add(order.return_claims, back, sign=-1)


def _take_back(ret: Return, order: Order) -> None:
    """The passed units are returned for good: the order's status says how much of it came back."""
    _add(order.returned, {line.line_id: line.quantity for line in ret.passed_lines()})
    _settle_failed_lines(ret, order)
    delivered = delivered_quantities(order)
    everything = all(order.returned.get(line_id, 0) >= units for line_id, units in delivered.items())
    target = OrderStatus.RETURNED if everything else OrderStatus.PARTIALLY_RETURNED
    if order.status is not target:
        order.transition_to(target, f"return R{ret.number}: {_units(ret)} unit(s) taken back", return_key=ret.key)
    else:
        order.note(f"return R{ret.number}: {_units(ret)} more unit(s) taken back", return_key=ret.key)


def _units(ret: Return) -> int:
    return sum(line.quantity for line in ret.passed_lines())


def _refund(ret: Return, order: Order, deps: ReturnDeps) -> None:
    amount = ret.passed_value(order.currency)
    method = payment_method(order)
    notice: WriteBackRequest
    if ret.refunded_by_store is not None:
        reference, how = "store", f"refunded by the store ({ret.refunded_by_store})"
        notice = WriteBackRequest(order_key=order.key, kind=UpdateKind.RETURNED, reason=how, reference=ret.key)
    elif method is PaymentMethod.PREPAID:
        # The store holds the money: the write-back is the refund (keyed on the return, so it happens once).
        reference, how = "store write-back", f"refund of {amount} requested from {order.platform}"
        notice = WriteBackRequest(
            order_key=order.key,
            kind=UpdateKind.REFUNDED,
            amount_minor=amount.minor,
            reason=f"return R{ret.number}: {ret.reason}",
            reference=ret.key,
        )
    else:
        result = deps.payments.refund(order, amount, f"refund:{ret.key}")  # one refund per return, however retried
        reference, how = result.reference, f"refunded {result.amount} through the payment gateway"
        notice = WriteBackRequest(order_key=order.key, kind=UpdateKind.RETURNED, reason=how, reference=ret.key)

    def record(current: Return, current_order: Order) -> None:
        if current.status is not S.INSPECTED:
            return
        current.refund, current.refund_reference = amount, reference
        current.transition_to(S.REFUNDED, how, amount=str(amount), reference=reference)
        _take_back(current, current_order)

    _change(deps, ret.key, record)
    deps.notifier.notify(notice)  # deduped per return: a re-run tells the store nothing twice


def _create_replacement(ret: Return, order: Order, deps: ReturnDeps) -> Order:
    """A new order for the passed lines, at no charge, linked to the original both ways."""
    external_id = replacement_external_id(order, ret.number)
    existing = deps.orders.get(f"{order.store_id}:{external_id}")
    if existing is not None:
        return existing  # created by an earlier attempt of this step
    zero = Money.zero(order.currency)
    lines = tuple(
        line.model_copy(update={"quantity": returned.quantity})
        for returned in ret.passed_lines()
        for line in order.lines
        if line.line_id == returned.line_id
    )
    items = sum((line.subtotal for line in lines), zero)
    now = datetime.now(UTC)
    refs = {k: v for k, v in order.platform_refs.items() if k != PAYMENT_METHOD_REF}
    # A new order carrying over only who and where: fulfillment state, payment and returns start afresh.
    replacement = Order(
        store_id=order.store_id,
        platform=order.platform,
        external_id=external_id,
        number=f"{order.number}-R{ret.number}",
        currency=order.currency,
        customer=order.customer,
        billing_address=order.billing_address,
        shipping_address=order.shipping_address,
        lines=lines,
        totals=Totals(items=items, shipping=zero, tax=zero, discount=items, grand_total=zero),
        placed_at=now,
        source_modified_at=now,
        paid=True,
        platform_refs=refs | {REPLACES_REF: order.key, RETURN_REF: ret.key},
    )
    replacement.record_receipt(f"replacement for return R{ret.number} of order {order.key}")
    try:
        deps.orders.create(replacement)
    except VersionConflict:
        return _load_order(deps, replacement.key)
    return replacement


def _record_replacement(ret: Return, order: Order, replacement: Order) -> None:
    if ret.status is not S.INSPECTED:
        return
    ret.replacement_order_key = replacement.key
    ret.transition_to(S.REPLACED, f"replacement order {replacement.key} started", replacement=replacement.key)
    if replacement.key not in order.replacement_orders:
        order.replacement_orders.append(replacement.key)
    _take_back(ret, order)
    order.note(f"replacement order {replacement.key} for return R{ret.number}", replacement=replacement.key)


# --- the end ------------------------------------------------------------------------------------
ReturnOutcome = Literal["closed", "expired", "failed"]


def close_return(
    key: str, outcome: ReturnOutcome, deps: ReturnDeps, error: dict[str, str | None] | None = None
) -> Return:
    """Close a resolved return; or record that the goods never came (the RMA lapses and the units are
    released), or why the return stopped (ops look at it)."""

    def close(ret: Return, order: Order) -> None:
        if ret.status in RETURN_TERMINAL:
            return
        if outcome == "closed":
            ret.transition_to(S.CLOSED, "closed")
        elif outcome == "expired":
            if ret.status is not S.AUTHORIZED:
                raise NothingToDecide(f"return {key} is {ret.status}: only an authorized return can lapse")
            ret.task_token, ret.waiting_for = None, None
            ret.transition_to(S.EXPIRED, f"the goods never arrived: RMA {ret.rma} lapsed")
            _add(order.return_claims, ret.claimed(), sign=-1)
            order.note(f"return R{ret.number} expired: the goods never arrived", return_key=ret.key)
        else:
            cause = str((error or {}).get("Cause") or (error or {}).get("Error") or "unknown")[:500]
            ret.task_token, ret.waiting_for = None, None
            ret.failure = {
                "error": str((error or {}).get("Error") or "Unknown"),
                "cause": cause,
                "resume_at": str(ret.status),  # where a re-run picks up
            }
            ret.transition_to(S.FAILED, f"{ret.failure['error']}: {cause}")
            order.note(f"return R{ret.number} failed: {cause}", return_key=ret.key)

    _change(deps, key, close)
    return load_return(deps, key)


def rerun_return(key: str, deps: ReturnDeps, *, by: str, reason: str) -> Return:
    """Re-run a FAILED return from the step that failed: it goes back to the status it failed in and a new
    execution starts (``…-return<n>-rerun<k>``); every step skips what the return already did."""

    def reopen(ret: Return, order: Order) -> None:
        ret.reopen(f"re-run by {by}: {reason}")
        order.note(f"return R{ret.number} re-run by {by}: {reason}", return_key=ret.key)

    _change(deps, key, reopen)
    ret = load_return(deps, key)
    deps.workflow.start_return(ret)
    return ret
