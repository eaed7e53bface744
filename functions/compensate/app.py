"""Step Functions task: Undo what the order's stage needs undone, then record it cancelled or failed."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import CompensationInput, task_handler

lambda_handler = task_handler(
    CompensationInput,
    lambda step, deps: workflow_steps.compensate(step.order_key, step.outcome, step.error.model_dump(), deps),
)
