"""Opening a return: asked for by ops or customer service, or reported by the store."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.aggregates import load_order, retry_on_conflict
from fulfillment.errors import ReturnInvalid, ReturnNotAllowed
from fulfillment.model import Money, Order
from fulfillment.model.lifecycle import FULFILLED
from fulfillment.model.returns import Resolution, Return, ReturnLine, ReturnSource
from fulfillment.ports import OpenReturnDeps


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

    def attempt() -> Return:
        order = load_order(deps.orders, request.order_key)
        if request.external_id and request.external_id in order.returns.store_returns:
            existing = deps.returns.get(f"{order.key}:R{order.returns.store_returns[request.external_id]}")
            if existing is not None:
                return existing
        ret = _new_return(order, request)
        order.returns.opened = ret.number
        if request.external_id:
            order.returns.store_returns[request.external_id] = ret.number
        order.note(f"return R{ret.number} requested ({request.source}): {request.reason}", return_key=ret.key)
        deps.returns.create(ret, order)
        return ret

    ret = retry_on_conflict(attempt, f"order {request.order_key}")
    deps.workflow.start_return(ret)  # named after the return: for one opened before, a start that failed gets another
    return ret


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
        number=order.returns.opened + 1,
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
