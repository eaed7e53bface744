"""Step Functions task: Buy the label, take the stock, capture at shipment if configured, tell the store."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.ship_order(step.order_key, deps),
)
