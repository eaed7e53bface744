"""Step Functions task (returns): Authorize the return against the store's policy, issuing an RMA or rejecting it."""

from __future__ import annotations

from fulfillment import return_steps
from fulfillment.steps import ReturnStepInput, task_handler

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: return_steps.authorize_return(step.return_key, deps),
)
