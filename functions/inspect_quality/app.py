"""Step Functions task: Ask the warehouse to inspect the picked goods."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput, lambda step, deps: services.inspect_quality(step.order_key, deps.orders, deps.warehouse)
)
