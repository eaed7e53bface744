"""Step Functions task: Mark the order complete, and queue the store's write-back."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.complete_order(step.order_key, deps),
)
