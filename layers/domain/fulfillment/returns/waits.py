"""The return's waits: for the goods, then their inspection, answered by the warehouse's signed reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from fulfillment.aggregates import load_return, retry_on_conflict
from fulfillment.errors import ReturnInvalid
from fulfillment.model.limits import BoundedId, BoundedKey
from fulfillment.model.returns import Return, ReturnStatus, split_return_key
from fulfillment.ports import ReturnDeps

S = ReturnStatus


ReturnWait = Literal["goods", "inspection"]


def park_return_wait(key: str, token: str, kind: ReturnWait, deps: ReturnDeps) -> None:
    """Keep the task token on the return; announce the RMA to the warehouse when waiting for the goods."""

    def attempt() -> Return | None:
        ret = load_return(deps.returns, key)
        if _wait_answered(ret, kind):
            return None
        ret.wait.park(token, kind)
        deps.returns.save(ret)
        return ret

    parked = retry_on_conflict(attempt, f"return {key}")
    if parked is None:
        deps.workflow.resume(token, {"return_key": key})  # the warehouse was faster than us
    elif kind == "goods":
        deps.warehouse.expect_return(parked)  # keyed on the RMA at the warehouse: a re-announcement is one RMA


def _wait_answered(ret: Return, kind: ReturnWait) -> bool:
    if kind == "goods":
        return ret.status is not S.AUTHORIZED
    return all(line.result is not None for line in ret.lines)


class ReturnLineReport(BaseModel):
    line_id: BoundedId
    result: Literal["passed", "failed"]
    resellable: bool = True
    notes: str = Field(default="", max_length=2000)


class ReturnReport(BaseModel):
    """The warehouse's signed callback about an RMA: the goods arrived, or their inspection per line."""

    return_key: BoundedKey
    rma: BoundedId
    event: Literal["received", "inspected"]
    lines: list[ReturnLineReport] = Field(default_factory=list, max_length=1000)
    inspector: BoundedId = ""


def record_return_report(report: ReturnReport, deps: ReturnDeps) -> Return:
    """Apply the warehouse's report once and answer the wait it ends (a duplicate changes nothing)."""
    try:
        split_return_key(report.return_key)
    except ValueError as error:
        raise ReturnInvalid(str(error)) from error
    ret = load_return(deps.returns, report.return_key)
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
    def attempt() -> tuple[Return, str | None]:
        ret = load_return(deps.returns, key)
        token = ret.wait.token if ret.wait.kind == kind else None
        change(ret)
        if token:
            ret.wait.answer(datetime.now(UTC))
        deps.returns.save(ret)
        return ret, token

    ret, token = retry_on_conflict(attempt, f"return {key}")
    if token:
        deps.workflow.resume(token, {"return_key": key})
    elif ret.wait.answered_token and ret.wait.kind is None and _wait_answered(ret, kind):
        deps.workflow.resume(
            ret.wait.answered_token, {"return_key": key}
        )  # a redelivery: resend (a spent token: no-op)
    return ret
