"""Step Functions task: Reserve stock for every line in one transaction; out of stock follows the store's policy."""

from __future__ import annotations

from fulfillment.edge.task import StepInput, task_handler
from fulfillment.steps.reserve import reserve_inventory

lambda_handler = task_handler(
    StepInput,
    lambda step, deps: reserve_inventory(step.order_key, deps),
)
