"""Step Functions task (returns): Authorize the return against the store's policy, issuing an RMA or rejecting it."""

from __future__ import annotations

from fulfillment.edge.task import ReturnStepInput, task_handler
from fulfillment.returns.authorize import authorize_return

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: authorize_return(step.return_key, deps),
)
