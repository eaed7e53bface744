"""Step Functions task: Settle the order's payment."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(StepInput, lambda step, deps: services.complete_payment(step.order_key, deps.orders))
