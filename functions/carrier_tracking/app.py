"""POST /carriers/{carrier}/tracking: a carrier's signed tracking event; delivery resumes the waiting execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment.bootstrap import Container, container
from fulfillment.edge import observability
from fulfillment.edge.http import json_response, register_refusals, webhook_request
from fulfillment.edge.observability import traced
from fulfillment.errors import UnknownShipment
from fulfillment.intake.partners import verified_partner_event
from fulfillment.steps.tracking import TrackingEvent, record_tracking_event

logger = observability.logger()
app = APIGatewayHttpResolver()
register_refusals(app)


@app.post("/carriers/<carrier>/tracking")
def receive_tracking_event(carrier: str) -> Response[str]:
    deps: Container = app.context["deps"]
    request = webhook_request(app.current_event.raw_event)
    if carrier != deps.settings.carrier_name:
        raise UnknownShipment(f"no carrier {carrier!r} is configured")
    secret = deps.secrets.get(deps.settings.carrier_secret_ref(carrier))
    event = verified_partner_event(TrackingEvent, request, secret, "carrier")
    order_key = record_tracking_event(carrier, event, deps)
    logger.append_keys(order_key=order_key)  # the correlation id across every function
    return json_response(202, {"order_key": order_key, "event_id": event.event_id})


@logger.inject_lambda_context(clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or container())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
