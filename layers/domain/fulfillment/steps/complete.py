"""Complete order: delivered and paid; the store is told."""

from __future__ import annotations

from fulfillment.model import Order, OrderStatus
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def complete_order(key: str, deps: StepDeps) -> Order:
    order = advance(deps, key, OrderStatus.COMPLETED, "delivered and paid")
    deps.notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.COMPLETED))
    return order
