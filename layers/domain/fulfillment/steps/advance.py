"""Running one step of the fulfillment workflow: the same guard for every step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fulfillment.aggregates import load_order
from fulfillment.errors import OrderCancelled
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import ensure_transition
from fulfillment.ports import StepDeps


def advance(
    deps: StepDeps, key: str, target: OrderStatus, reason: str, act: Callable[[Order], dict[str, Any]] | None = None
) -> Order:
    """Run one step: nothing if the order already got there, else act and record (refusing a cancelled order)."""
    order = load_order(deps.orders, key)
    if has_reached(order.status, target):
        return order
    if order.cancel_requested:
        raise OrderCancelled(order.cancel_requested)
    ensure_transition(order.status, target)  # before acting: a failed order must not buy a label
    detail = act(order) if act else {}
    order.transition_to(target, reason, **detail)
    deps.orders.save(order)
    return order
