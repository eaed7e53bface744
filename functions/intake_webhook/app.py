"""POST /webhooks/{platform}/{storeId}: verify a store's webhook, record the order, start fulfillment once paid.

GET on the same path answers a platform's registration challenge (Adobe I/O Events).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment.bootstrap import Container, container
from fulfillment.edge import observability
from fulfillment.edge.http import intake_response, register_refusals, webhook_request
from fulfillment.edge.observability import traced
from fulfillment.errors import DomainError, TransientError, VersionConflict
from fulfillment.intake import receive as intake

logger = observability.logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
register_refusals(app)


@app.post("/webhooks/<platform>/<store_id>")
@app.get("/webhooks/<platform>/<store_id>")
def receive_webhook(platform: str, store_id: str) -> Response[str]:
    deps: Container = app.context["deps"]
    try:
        result = intake.receive_webhook(platform, store_id, webhook_request(app.current_event.raw_event), deps)
    except DomainError as error:
        # The URL's platform is whatever a caller typed: only known ones become a dimension (each is a metric).
        record_refusal(platform if deps.platforms.get(platform) is not None else "unknown", error)
        raise
    logger.append_keys(order_key=result.order_key, outcome=result.outcome)
    if result.start_deferred:  # recorded and answered 202; the start queue (or the sweep) starts it
        logger.warning("fulfillment start deferred", extra={"reason": result.start_deferred})
        metrics.add_metric(name="StartsDeferred", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="platform", value=platform)
    metrics.add_metric(name=f"Webhooks{result.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    return intake_response(result)


def record_refusal(platform: str, error: DomainError) -> None:
    """``WebhooksRefused{platform, reason}``: a delivery we turned away (a 503 asks for a retry: not a refusal)."""
    if isinstance(error, TransientError | VersionConflict):
        return
    with single_metric(name="WebhooksRefused", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="platform", value=platform)
        metric.add_dimension(name="reason", value=error.code)


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or container())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
