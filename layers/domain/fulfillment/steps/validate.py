"""Validate order: address, lines, totals and payment checked; orders that need a person flagged."""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.model.order import REPLACES_REF
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance

DEFAULT_REVIEW_THRESHOLD_MINOR = 100_000  # orders above 1,000.00 wait for a person unless the store says otherwise


def review_reasons(order: Order, threshold_minor: int) -> list[str]:
    reasons = []
    if order.totals.grand_total.minor > threshold_minor:
        reasons.append(f"high value: {order.totals.grand_total}")
    billing, shipping = order.billing_address.country, order.shipping_address.country
    if billing and shipping and billing != shipping:
        reasons.append(f"billing country {billing} differs from shipping country {shipping}")
    if order.platform_refs.get(REPLACES_REF):
        return []  # a replacement for a return: the original order was reviewed, and it costs the customer nothing
    if order.platform_refs.get("flagged"):
        reasons.append(f"flagged by the store: {order.platform_refs['flagged']}")
    return reasons


def validate_order(key: str, deps: StepDeps) -> dict[str, Any]:
    def check(order: Order) -> dict[str, Any]:
        order.ensure_fulfillable()
        store = deps.stores.get(order.store_id)
        threshold = int((store.options if store else {}).get("review_above_minor", DEFAULT_REVIEW_THRESHOLD_MINOR))
        return {"lines": len(order.lines), "review": review_reasons(order, threshold)}

    order = advance(deps, key, OrderStatus.VALIDATED, "address, lines, totals and payment checked", check)
    validated = next((e for e in reversed(deps.orders.timeline(key)) if e.status is OrderStatus.VALIDATED), None)
    reasons = list(validated.detail.get("review", [])) if validated else []
    return {"order_key": order.key, "needs_review": bool(reasons), "review_reasons": reasons}
