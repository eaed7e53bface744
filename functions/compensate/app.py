"""Step Functions task: Undo what the order's stage needs undone, then record it cancelled or failed."""

from __future__ import annotations

from fulfillment.edge.task import CompensationInput, task_handler
from fulfillment.steps.compensation import compensate

lambda_handler = task_handler(
    CompensationInput,
    lambda step, deps: compensate(step.order_key, step.outcome, step.error.model_dump(), deps),
)
