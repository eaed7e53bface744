"""Step Functions task (returns): Refund the passed lines or start a replacement order; refuse if nothing passed."""

from __future__ import annotations

from fulfillment import return_steps
from fulfillment.steps import ReturnStepInput, return_output, task_handler

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: return_output(return_steps.resolve_return(step.return_key, deps)),
)
