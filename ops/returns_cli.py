"""``fulfillment returns …`` (and ``orders start-return``): open a return, list and show returns.

A return started here goes through the same domain service as one the store reports: the input is
checked before anything is written, the store's policy is applied by the return workflow, and a
refusal by policy is recorded on the return and the order's timeline for ops to see.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ops.target import (
    Target,
    command,
    domain_deps,
    executions_of,
    positive_int,
    return_state_machine_arn,
    state_machine_arn,
    timeline_rows,
)

RESOLUTIONS = ("refund", "replacement")


def _return_deps(target: Target) -> Any:
    deps = domain_deps(target)
    deps.settings.return_state_machine_arn = return_state_machine_arn(target)
    if not deps.settings.state_machine_arn:
        deps.settings.state_machine_arn = state_machine_arn(target)
    return deps


def _parse_line(value: str) -> dict[str, Any]:
    """``LINE:QTY`` (an order line id, or a SKU) → a requested line."""
    ident, _, quantity = value.rpartition(":")
    if not ident or not quantity.isdigit() or int(quantity) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected LINE:QUANTITY, e.g. 301:1 or MUG-CC-BLU:2")
    return {"ident": ident, "quantity": int(quantity)}


def return_view(ret: Any) -> dict[str, Any]:
    return {
        "return_key": ret.key,
        "order_key": ret.order_key,
        "status": str(ret.status),
        "rma": ret.rma,
        "resolution": str(ret.resolution),
        "reason": ret.reason,
        "rejection": ret.rejection,
        "refund": str(ret.refund) if ret.refund else None,
        "replacement_order": ret.replacement_order_key,
        "failure": ret.failure.model_dump(mode="json") if ret.failure else None,
    }


def returns_start(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return

    deps = _return_deps(target)
    order = deps.orders.get(args.order)
    line_ids = {line.line_id for line in order.lines} if order else set()
    request = ReturnRequest(
        order_key=args.order,
        lines=[
            ReturnLineRequest(
                line_id=line["ident"] if line["ident"] in line_ids else None,
                sku=None if line["ident"] in line_ids else line["ident"],
                quantity=line["quantity"],
            )
            for line in args.line
        ],
        reason=args.reason,
        resolution=args.resolution,
        requested_by=args.by,
    )
    ret = request_return(request, deps)
    return {**return_view(ret), "execution": ret.execution_name()}


def returns_show(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    deps = _return_deps(target)
    ret = deps.returns.get(args.return_key)
    if ret is None:
        raise ValueError(f"no return {args.return_key}")
    timeline = timeline_rows(deps.returns.timeline(ret.key))
    lines = [
        {
            "line_id": line.line_id,
            "sku": line.sku,
            "quantity": line.quantity,
            "result": line.result,
            "disposition": line.disposition,
        }
        for line in ret.lines
    ]
    executions = executions_of(target, return_state_machine_arn(target), ret.execution_name())
    return {**return_view(ret), "lines": lines, "timeline": timeline, "executions": executions}


def returns_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    from fulfillment.model.returns import ReturnStatus

    deps = _return_deps(target)
    if args.order:
        found = deps.returns.for_order(args.order)
    elif args.status:
        found = deps.returns.list_by_status(ReturnStatus(args.status.upper()), limit=args.limit)
    else:
        raise ValueError("give --order or --status")
    return [return_view(ret) for ret in found]


def returns_rerun(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.returns.rerun import rerun_return

    deps = _return_deps(target)
    ret = rerun_return(args.return_key, deps, by=args.by, reason=args.reason)
    return {**return_view(ret), "execution": ret.execution_name()}


def add_start_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("order", help="the order key, <storeId>:<orderId>")
    command.add_argument(
        "--line",
        action="append",
        required=True,
        type=_parse_line,
        metavar="LINE:QTY",
        help="an order line id (or SKU) and how many units come back; repeatable",
    )
    command.add_argument("--reason", required=True, help="why: defective, damaged, wrong_item, not_as_described, …")
    command.add_argument("--resolution", choices=RESOLUTIONS, default="refund", help="refund (default) or replacement")
    command.add_argument("--by", default=os.environ.get("USER", "operator"), help="who asks (recorded)")
    command.set_defaults(run=returns_start)


def add_returns(returns: Any) -> None:
    """``returns start|show|list|rerun``."""
    add_start_arguments(
        command(returns, "start", "open a return for delivered goods (refund or replacement); starts its workflow")
    )
    show = command(returns, "show", "one return: status, lines with inspection and disposition, timeline, execution")
    show.add_argument("return_key", help="the return id, <storeId>:<orderId>:R<n>")
    show.set_defaults(run=returns_show)
    listing = command(returns, "list", "an order's returns, or returns in a status")
    listing.add_argument("--order", help="the order key")
    listing.add_argument("--status", help="e.g. AUTHORIZED, REJECTED, CLOSED")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many returns")
    listing.set_defaults(run=returns_list)
    rerun = command(
        returns,
        "rerun",
        "re-run a FAILED return from the step that failed",
        "The return goes back to the status it failed in and a new execution (<name>-rerun<k>) starts; every "
        "step skips what the return already did (restock, refund and replacement carry their own keys).",
    )
    rerun.add_argument("return_key", help="the return id, <storeId>:<orderId>:R<n>")
    rerun.add_argument("--reason", required=True, help="why (recorded on the return and the order)")
    rerun.add_argument("--by", default=os.environ.get("USER", "operator"), help="who re-runs it (recorded)")
    rerun.set_defaults(run=returns_rerun)
