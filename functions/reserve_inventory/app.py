"""Step Functions task: Reserve stock for every line in one transaction; out of stock follows the store's policy."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.reserve_inventory(step.order_key, deps),
)
