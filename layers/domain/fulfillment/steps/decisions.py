"""An operator's decision on a waiting order: approval, a stuck inspection, an overdue delivery."""

from __future__ import annotations

from enum import StrEnum

from fulfillment.aggregates import load_order
from fulfillment.errors import ApprovalRejected, DeliveryFailed, InspectionRejected, NothingToDecide
from fulfillment.model import Order, OrderStatus
from fulfillment.model.order import WaitKind
from fulfillment.ports import StepDeps
from fulfillment.steps.inspection import mark_inspected
from fulfillment.steps.tracking import mark_delivered
from fulfillment.steps.waits import answer_wait


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    PASS = "pass"  # noqa: S105 - an inspection verdict
    FAIL = "fail"
    DELIVERED = "delivered"
    LOST = "lost"


def decide(key: str, decision: Decision, deps: StepDeps, *, by: str, reason: str = "") -> Order:
    """An operator's decision on a waiting order (approval, a stuck inspection, an overdue delivery)."""
    order = load_order(deps.orders, key)
    why = f" ({reason})" if reason else ""
    if decision in (Decision.APPROVE, Decision.REJECT):
        failure = (ApprovalRejected.__name__, reason or "rejected") if decision is Decision.REJECT else None
        verb = "approved" if decision is Decision.APPROVE else "rejected"
        return answer_wait(key, WaitKind.APPROVAL, deps, failure=failure, note=f"{verb} by {by}{why}")
    inspection_stuck = order.wait.kind == str(WaitKind.OPERATOR) and order.status in (
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
                change=lambda o: mark_inspected(o, by),
            )
        return answer_wait(
            key,
            WaitKind.OPERATOR,
            deps,
            failure=(InspectionRejected.__name__, reason or "rejected"),
            note=f"inspection failed by {by}{why}",
        )
    if decision is Decision.DELIVERED:
        kind = WaitKind(order.wait.kind) if order.wait.kind in ("delivery", "operator") else WaitKind.DELIVERY
        return answer_wait(
            key,
            kind,
            deps,
            note=f"delivery confirmed by {by}{why}",
            change=lambda o: mark_delivered(o, f"delivery confirmed by {by}"),
        )
    if decision is Decision.LOST:
        kind = WaitKind(order.wait.kind) if order.wait.kind in ("delivery", "operator") else WaitKind.DELIVERY
        return answer_wait(
            key, kind, deps, failure=(DeliveryFailed.__name__, f"lost{why}"), note=f"reported lost by {by}"
        )
    raise NothingToDecide(f"{decision} does not answer what order {key} waits for ({order.wait.kind})")
