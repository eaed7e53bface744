"""Dispose return: restock what passed, write off or send back the rest."""

from __future__ import annotations

from fulfillment.aggregates import load_return, update_return
from fulfillment.model import Order
from fulfillment.model.returns import FailedInspectionPolicy, Return, ReturnLine, ReturnPolicy, ReturnStatus
from fulfillment.ports import ReturnDeps

S = ReturnStatus


def dispose_return(key: str, deps: ReturnDeps) -> Return:
    """Passed and resellable → back on the shelf (once per line); passed but damaged → written off; failed →
    by the store's policy, sent back to the customer or kept and written off."""
    ret = load_return(deps.returns, key)
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

    update_return(deps, key, record)
    return load_return(deps.returns, key)


def _disposition(line: ReturnLine, policy: ReturnPolicy) -> str:
    if line.passed:
        return "restock" if line.resellable else "write_off"
    if policy.failed_inspection is FailedInspectionPolicy.RETURN_TO_CUSTOMER:
        return "return_to_customer"
    return "write_off"
