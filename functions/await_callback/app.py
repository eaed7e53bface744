"""Step Functions task: Park the task token on the order until someone answers (waitForTaskToken)."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import CallbackStepInput, task_handler

lambda_handler = task_handler(
    CallbackStepInput,
    lambda step, deps: workflow_steps.park_task_token(step.order_key, step.task_token, step.waiting_for, deps),
)
