"""Step Functions task: Capture on delivery, or record cash on delivery."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.payment import complete_payment

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: complete_payment(step.order_key, deps),
)
