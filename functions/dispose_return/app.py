"""Step Functions task (returns): Restock what passed inspection, write off or send back the rest."""

from __future__ import annotations

from fulfillment import return_steps
from fulfillment.steps import ReturnStepInput, return_output, task_handler

lambda_handler = task_handler(
    ReturnStepInput,
    lambda step, deps: return_output(return_steps.dispose_return(step.return_key, deps)),
)
