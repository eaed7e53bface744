"""Step Functions task (returns): Close the return, or record that the goods never came or why it stopped."""

from __future__ import annotations

from fulfillment.edge.task import ReturnCloseInput, return_output, task_handler
from fulfillment.returns.close import close_return

lambda_handler = task_handler(
    ReturnCloseInput,
    lambda step, deps: return_output(close_return(step.return_key, step.outcome, deps, step.error.model_dump())),
)
