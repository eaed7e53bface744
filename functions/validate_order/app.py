"""Step Functions task: Check the order can be fulfilled: shipping address, lines, totals, payment."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(StepInput, lambda step, deps: services.validate_order(step.order_key, deps.orders))
