"""SQS consumer: start the execution of a paid order whose start failed at once (throttled, timed out)."""

from __future__ import annotations

from fulfillment.edge.queue import queue_handler
from fulfillment.intake.start import start_backoff, start_pending
from fulfillment.model.inbound import StartRequest

lambda_handler = queue_handler(
    StartRequest,
    lambda request, deps: start_pending(request, deps.orders, deps.workflow),
    fifo=False,
    backoff=start_backoff,
)
