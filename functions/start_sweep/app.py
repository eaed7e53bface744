"""Scheduled: put every order left RECEIVED past the grace period on the start queue; measure the oldest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment.bootstrap import Container, container
from fulfillment.edge import observability
from fulfillment.edge.observability import traced
from fulfillment.intake.sweep import sweep_unstarted

logger = observability.logger()
metrics = Metrics()
DEFAULT_GRACE_SECONDS = 600


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    resolved = deps or container()
    grace = float(event.get("grace_seconds", DEFAULT_GRACE_SECONDS))  # the schedule's Input
    report = sweep_unstarted(resolved.orders, resolved.starts, now=datetime.now(UTC), grace_seconds=grace)
    metrics.add_metric(name="OrdersWaitingToStart", unit=MetricUnit.Count, value=report.waiting)
    metrics.add_metric(name="OldestOrderWaitingToStartSeconds", unit=MetricUnit.Seconds, value=report.oldest_seconds)
    if report.queued:
        logger.warning("orders left RECEIVED put on the start queue", extra={"order_keys": list(report.queued)})
    return {"waiting": report.waiting, "oldest_seconds": report.oldest_seconds, "queued": len(report.queued)}
