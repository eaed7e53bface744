"""Authorize return: the store's policy issues an RMA (claiming the units) or rejects it with reasons."""

from __future__ import annotations

from typing import Any

from fulfillment.aggregates import load_return, update_return
from fulfillment.model import Order
from fulfillment.model.returns import (
    Return,
    ReturnPolicy,
    ReturnSource,
    ReturnStatus,
    add_units,
    delivered_quantities,
    returnable_quantities,
)
from fulfillment.ports import ReturnDeps

S = ReturnStatus


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
        add_units(order.returns.claims, ret.claimed())
        order.note(f"return R{ret.number} authorized: RMA {ret.rma}", return_key=ret.key, rma=ret.rma)

    update_return(deps, key, decide)
    ret = load_return(deps.returns, key)
    return {
        "return_key": key,
        "order_key": ret.order_key,
        "authorized": ret.status is not S.REJECTED,
        # The state machine's goods wait lapses after this (``TimeoutSecondsPath``): the store's own setting.
        "receipt_timeout_seconds": ReturnPolicy.for_store(deps.stores.get(ret.store_id)).receipt_seconds,
    }
