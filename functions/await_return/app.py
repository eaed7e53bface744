"""Step Functions task (returns): Park the task token on the return until the warehouse reports (waitForTaskToken)."""

from __future__ import annotations

from fulfillment import return_steps
from fulfillment.steps import ReturnWaitInput, task_handler

lambda_handler = task_handler(
    ReturnWaitInput,
    lambda step, deps: return_steps.park_return_wait(step.return_key, step.task_token, step.waiting_for, deps),
)
