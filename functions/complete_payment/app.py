"""Step Functions task: Capture on delivery, or record cash on delivery."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.complete_payment(step.order_key, deps),
)
