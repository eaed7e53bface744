"""Step Functions task: Mark the order complete, and queue the store's write-back."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.complete import complete_order

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: complete_order(step.order_key, deps),
)
