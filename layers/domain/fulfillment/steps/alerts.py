"""Raise alert: an overdue wait recorded on the order; its metric drives the alarm."""

from __future__ import annotations

from fulfillment.aggregates import update_order
from fulfillment.model import Order
from fulfillment.ports import StepDeps


def raise_alert(key: str, alert: str, deps: StepDeps) -> Order:
    """Record an alert on the order; the metric it emits is what the CloudWatch alarm watches."""
    return update_order(deps.orders, key, lambda o: (o.note(f"alert: {alert.replace('_', ' ')}", alert=alert), o)[1])
