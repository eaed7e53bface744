"""Step Functions task (returns): Restock what passed inspection, write off or send back the rest."""

from __future__ import annotations

from fulfillment.edge.task import ReturnStepInput, return_output, task_handler
from fulfillment.returns.dispose import dispose_return

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: return_output(dispose_return(step.return_key, deps)),
)
