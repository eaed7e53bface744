"""Step Functions task (returns): Refund the passed lines or start a replacement order; refuse if nothing passed."""

from __future__ import annotations

from fulfillment.edge.task import ReturnStepInput, return_output, task_handler
from fulfillment.returns.resolve import resolve_return

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: return_output(resolve_return(step.return_key, deps)),
)
