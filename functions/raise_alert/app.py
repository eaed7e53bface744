"""Step Functions task: Record an overdue wait on the order; its metric drives the alarm."""

from __future__ import annotations

from fulfillment.edge.task import AlertInput, task_handler
from fulfillment.steps.alerts import raise_alert

lambda_handler = task_handler(
    AlertInput,
    lambda step, deps: raise_alert(step.order_key, step.alert, deps),
)
