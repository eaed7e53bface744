"""Step Functions task: Buy the carrier label and hand the parcel over."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput, lambda step, deps: services.ship_order(step.order_key, deps.orders, deps.carrier, deps.notifier)
)
