"""Step Functions task: Park the task token on the order until someone answers (waitForTaskToken)."""

from __future__ import annotations

from fulfillment.edge.task import CallbackStepInput, task_handler
from fulfillment.steps.waits import park_task_token

lambda_handler = task_handler(
    CallbackStepInput,
    lambda step, deps: park_task_token(step.order_key, step.task_token, step.waiting_for, deps),
)
