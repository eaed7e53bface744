"""Reserve inventory: every line in one transaction; out of stock follows the store's policy."""

from __future__ import annotations

from typing import Any

from fulfillment.errors import AwaitingStock, OutOfStock
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inventory import OutOfStockPolicy, out_of_stock_policy
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def reserve_inventory(key: str, deps: StepDeps) -> Order:
    def reserve(order: Order) -> dict[str, Any]:
        store = deps.stores.get(order.store_id)
        policy = out_of_stock_policy(store) if store else OutOfStockPolicy.WAIT
        outcome = deps.inventory.reserve(order, policy)  # idempotent per order
        if outcome.reservation is None:
            raise AwaitingStock(f"short of {outcome.short}")
        order.short = dict(outcome.short)
        return {"policy": str(policy), "short": dict(outcome.short)}

    try:
        return advance(deps, key, OrderStatus.RESERVED, "stock reserved", reserve)
    except OutOfStock as error:
        if error.policy == OutOfStockPolicy.WAIT:
            raise AwaitingStock(str(error)) from error  # the state machine retries this one hourly
        raise
