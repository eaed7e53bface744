"""Step Functions task: Buy the label, take the stock, capture at shipment if configured, tell the store."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.ship import ship_order

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: ship_order(step.order_key, deps),
)
