"""Step Functions task: Record why fulfillment stopped (the state machine's catch-all)."""

from __future__ import annotations

from fulfillment import services
from fulfillment.steps import FailureInput, task_handler

lambda_handler = task_handler(
    FailureInput,
    lambda step, deps: services.record_failure(step.order_key, step.error.Error, step.error.Cause, deps.orders),
)
