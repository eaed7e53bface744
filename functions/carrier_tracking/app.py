"""POST /carriers/easypost/tracking: EasyPost's signed tracker events; the last package delivered resumes the wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment.bootstrap import Container, container
from fulfillment.edge import observability
from fulfillment.edge.http import json_response, register_refusals, webhook_request
from fulfillment.edge.observability import traced
from fulfillment.intake.carrier_events import receive_easypost_event

logger = observability.logger()
app = APIGatewayHttpResolver()
register_refusals(app)


@app.post("/carriers/easypost/tracking")
def receive_tracking_event() -> Response[str]:
    deps: Container = app.context["deps"]
    result = receive_easypost_event(webhook_request(app.current_event.raw_event), deps)
    if result.order_key:
        logger.append_keys(order_key=result.order_key)  # the correlation id across every function
    body: dict[str, object] = {"outcome": result.outcome, "order_key": result.order_key, "event_id": result.event_id}
    if result.reason:
        body["reason"] = result.reason
    return json_response(200, body)


@logger.inject_lambda_context(clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or container())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
