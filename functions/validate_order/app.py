"""Step Functions task: Validate the order (address, lines, totals, payment) and flag it for a person if needed."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.validate import validate_order

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: validate_order(step.order_key, deps),
)
