"""Step Functions task: Park the task token on the order until the carrier confirms delivery (waitForTaskToken)."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import CallbackStepInput, task_handler

lambda_handler = task_handler(
    CallbackStepInput,
    lambda step, deps: services.await_delivery(step.order_key, step.task_token, deps.orders, deps.workflow),
)
