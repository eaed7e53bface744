"""Step Functions task: Record an overdue wait on the order; its metric drives the alarm."""

from __future__ import annotations

from fulfillment import workflow_steps
from fulfillment.steps import AlertInput, task_handler

lambda_handler = task_handler(
    AlertInput,
    lambda step, deps: workflow_steps.raise_alert(step.order_key, step.alert, deps),
)
