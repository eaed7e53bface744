"""The warehouse's signed callbacks: ``POST /warehouses/{warehouse}/inspections`` (an order's inspection result)
and ``POST /warehouses/{warehouse}/returns`` (an RMA's goods received, then inspected per line)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from fulfillment.bootstrap import Container, container
from fulfillment.edge import observability
from fulfillment.edge.http import json_response, register_refusals, webhook_request
from fulfillment.edge.observability import traced
from fulfillment.errors import UnknownShipment
from fulfillment.intake.partners import verified_partner_event
from fulfillment.returns.waits import ReturnReport, record_return_report
from fulfillment.steps.inspection import InspectionReport, record_inspection

logger = observability.logger()
app = APIGatewayHttpResolver()
register_refusals(app)


@app.post("/warehouses/<warehouse>/inspections")
def receive_inspection(warehouse: str) -> Response[str]:
    deps: Container = app.context["deps"]
    order = record_inspection(_verified(InspectionReport, warehouse, deps), deps)
    logger.append_keys(order_key=order.key)  # the correlation id across every function
    return json_response(202, {"order_key": order.key, "status": order.status})


@app.post("/warehouses/<warehouse>/returns")
def receive_return_report(warehouse: str) -> Response[str]:
    deps: Container = app.context["deps"]
    ret = record_return_report(_verified(ReturnReport, warehouse, deps), deps)
    logger.append_keys(order_key=ret.order_key, return_key=ret.key)
    return json_response(202, {"return_key": ret.key, "status": ret.status})


def _verified[Report: BaseModel](model: type[Report], warehouse: str, deps: Container) -> Report:
    """The configured warehouse's callback, its signature checked, then read."""
    if warehouse != deps.settings.warehouse_name:
        raise UnknownShipment(f"no warehouse {warehouse!r} is configured")
    secret = deps.secrets.get(deps.settings.warehouse_secret_ref(warehouse))
    return verified_partner_event(model, webhook_request(app.current_event.raw_event), secret, "warehouse")


@logger.inject_lambda_context(clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or container())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
