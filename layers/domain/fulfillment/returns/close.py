"""Close return: closed, lapsed (the goods never came), or failed."""

from __future__ import annotations

from typing import Literal

from fulfillment.aggregates import load_return, update_return
from fulfillment.errors import NothingToDecide
from fulfillment.model import Order
from fulfillment.model.returns import RETURN_TERMINAL, Return, ReturnFailure, ReturnStatus, add_units
from fulfillment.ports import ReturnDeps

S = ReturnStatus


ReturnOutcome = Literal["closed", "expired", "failed"]


def close_return(
    key: str, outcome: ReturnOutcome, deps: ReturnDeps, error: dict[str, str | None] | None = None
) -> Return:
    """Close a resolved return; or record that the goods never came (the RMA lapses and the units are
    released), or why the return stopped (ops look at it)."""

    def close(ret: Return, order: Order) -> None:
        if ret.status in RETURN_TERMINAL:
            return
        if outcome == "closed" and ret.status is S.REFUND_DUE:
            return  # stays open on its refund: closed when a person confirms the payout (orders confirm-refund)
        if outcome == "closed":
            ret.transition_to(S.CLOSED, "closed")
        elif outcome == "expired":
            if ret.status is not S.AUTHORIZED:
                raise NothingToDecide(f"return {key} is {ret.status}: only an authorized return can lapse")
            ret.wait.clear()
            ret.transition_to(S.EXPIRED, f"the goods never arrived: RMA {ret.rma} lapsed")
            add_units(order.returns.claims, ret.claimed(), sign=-1)
            order.note(f"return R{ret.number} expired: the goods never arrived", return_key=ret.key)
        else:
            cause = str((error or {}).get("Cause") or (error or {}).get("Error") or "unknown")[:500]
            ret.wait.clear()
            name = str((error or {}).get("Error") or "Unknown")
            ret.failure = ReturnFailure(error=name, cause=cause, resume_at=ret.status)  # a re-run picks up there
            ret.transition_to(S.FAILED, f"{name}: {cause}")
            order.note(f"return R{ret.number} failed: {cause}", return_key=ret.key)

    update_return(deps, key, close)
    return load_return(deps.returns, key)
