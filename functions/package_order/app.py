"""Step Functions task: Choose boxes by item dimensions and weight; record packages and weights."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.package import package_order

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: package_order(step.order_key, deps),
)
