"""POST /webhooks/{platform}/{storeId}: verify a store's webhook, record the order, start fulfillment once paid."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment import services
from fulfillment.bootstrap import Container, container
from fulfillment.http import json_response, register_refusals, webhook_request
from fulfillment.observability import traced

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
register_refusals(app)


@app.post("/webhooks/<platform>/<store_id>")
def receive_webhook(platform: str, store_id: str) -> Response[str]:
    deps: Container = app.context["deps"]
    result = services.receive_webhook(
        platform,
        store_id,
        webhook_request(app.current_event.raw_event),
        platforms=deps.platforms,
        stores=deps.stores,
        secrets=deps.secrets,
        orders=deps.orders,
        workflow=deps.workflow,
    )
    if result.outcome == "ping":
        return json_response(200, {"status": "pong"})
    logger.append_keys(order_key=result.order_key)
    metrics.add_dimension(name="platform", value=platform)
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    return json_response(
        202,
        {
            "order_key": result.order_key,
            "status": result.status,
            "duplicate": result.duplicate,
            "execution_name": result.execution_name,
            "fulfillment_started": result.fulfillment_started,
        },
    )


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or container())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
