"""Step Functions task (returns): Park the task token on the return until the warehouse reports (waitForTaskToken)."""

from __future__ import annotations

from fulfillment.edge.task import ReturnWaitInput, task_handler
from fulfillment.returns.waits import park_return_wait

lambda_handler = task_handler(
    ReturnWaitInput,
    lambda step, deps: park_return_wait(step.return_key, step.task_token, step.waiting_for, deps),
)
