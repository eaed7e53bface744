"""Step Functions task: Validate the order (address, lines, totals, payment) and flag it for a person if needed."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.validate_order(step.order_key, deps),
)
