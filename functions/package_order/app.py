"""Step Functions task: Choose boxes by item dimensions and weight; record packages and weights."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import StepInput, task_handler

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: workflow_steps.package_order(step.order_key, deps),
)
