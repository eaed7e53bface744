"""Step Functions task (returns): Close the return, or record that the goods never came or why it stopped."""

from __future__ import annotations

from fulfillment import return_steps
from fulfillment.steps import ReturnCloseInput, return_output, task_handler

lambda_handler = task_handler(
    ReturnCloseInput,
    lambda step, deps: return_output(
        return_steps.close_return(step.return_key, step.outcome, deps, step.error.model_dump())
    ),
)
