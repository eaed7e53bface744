"""Step Functions task: Reserve stock for every line of the order."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(StepInput, lambda step, deps: services.reserve_inventory(step.order_key, deps.orders))
