"""Quality inspection: the warehouse's signed report resumes the wait, or swaps the unit and re-inspects."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fulfillment.aggregates import load_order, update_order
from fulfillment.errors import InspectionFailed
from fulfillment.model import Order, OrderStatus
from fulfillment.model.limits import BoundedId, BoundedKey
from fulfillment.model.order import WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.waits import answer_wait

INSPECTION_ATTEMPTS = 3  # a failed unit is swapped and re-inspected this many times before a person looks


def mark_inspected(order: Order, by: str) -> None:
    if order.status is OrderStatus.RESERVED:
        order.transition_to(OrderStatus.INSPECTED, f"inspection passed ({by})")


class InspectionReport(BaseModel):
    order_key: BoundedKey
    attempt: int = Field(ge=0, le=1000)  # 1, 2, …: the inspection this reports (INSPECTION_ATTEMPTS are asked for)
    result: Literal["passed", "failed"]
    inspector: BoundedId = ""
    notes: str = Field(default="", max_length=2000)  # goes into the timeline and a failed wait's cause


def record_inspection(report: InspectionReport, deps: StepDeps) -> Order:
    """The warehouse's callback: passed resumes; failed swaps the unit and re-inspects, up to a limit."""
    order = load_order(deps.orders, report.order_key)
    if report.result == "passed" and order.wait.answered_kind == str(WaitKind.INSPECTION) and order.wait.kind is None:
        # Redelivered after our save's answer was lost: resend (a spent token does nothing).
        return answer_wait(report.order_key, WaitKind.INSPECTION, deps, note=None, resend=True)
    if order.wait.kind != str(WaitKind.INSPECTION) or report.attempt != order.inspection_attempts + 1:
        return order  # a duplicate or late report: the wait it answers is over
    if report.result == "passed":
        return answer_wait(
            report.order_key,
            WaitKind.INSPECTION,
            deps,
            note=f"inspection passed ({report.inspector})",
            change=lambda o: mark_inspected(o, report.inspector or "warehouse"),
        )
    if report.attempt >= INSPECTION_ATTEMPTS:
        return answer_wait(
            report.order_key,
            WaitKind.INSPECTION,
            deps,
            failure=(InspectionFailed.__name__, f"failed {report.attempt} inspections: {report.notes}"),
            note=f"inspection failed {report.attempt} times: {report.notes}",
            change=lambda o: setattr(o, "inspection_attempts", report.attempt),
        )

    def swap(current: Order) -> None:
        current.inspection_attempts = report.attempt
        current.note(f"inspection {report.attempt} failed ({report.notes}); unit swapped, re-inspecting")

    update_order(deps.orders, report.order_key, swap)
    token = order.wait.token
    if token:
        deps.workflow.heartbeat(token)
    deps.warehouse.request_inspection(load_order(deps.orders, report.order_key), attempt=report.attempt + 1)
    return load_order(deps.orders, report.order_key)
