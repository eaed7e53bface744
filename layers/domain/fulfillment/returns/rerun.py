"""An operator re-runs a failed return from the step that failed."""

from __future__ import annotations

from fulfillment.aggregates import load_return, update_return
from fulfillment.model import Order
from fulfillment.model.returns import Return
from fulfillment.ports import ReturnDeps


def rerun_return(key: str, deps: ReturnDeps, *, by: str, reason: str) -> Return:
    """Re-run a FAILED return from the step that failed: it goes back to the status it failed in and a new
    execution starts (``…-return<n>-rerun<k>``); every step skips what the return already did."""

    def reopen(ret: Return, order: Order) -> None:
        ret.reopen(f"re-run by {by}: {reason}")
        order.note(f"return R{ret.number} re-run by {by}: {reason}", return_key=ret.key)

    update_return(deps, key, reopen)
    ret = load_return(deps.returns, key)
    deps.workflow.start_return(ret)
    return ret
