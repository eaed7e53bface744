"""Edge helpers for the HTTP functions: raw request bytes in, domain errors out as JSON refusals."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types

from fulfillment.errors import (
    DomainError,
    InvalidSignature,
    MalformedPayload,
    OrderNotFound,
    PayloadTooLarge,
    ReturnInvalid,
    ReturnNotAllowed,
    StoreMismatch,
    TransientError,
    UnknownShipment,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
    VersionConflict,
)
from fulfillment.intake.result import IntakeResult
from fulfillment.model.store import WebhookRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    UnsupportedPlatform: 404,
    UnknownStore: 404,
    UnknownShipment: 404,
    InvalidSignature: 401,
    StoreMismatch: 403,
    MalformedPayload: 400,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    OrderNotFound: 404,
    ReturnInvalid: 400,
    ReturnNotAllowed: 409,
    VersionConflict: 503,
    TransientError: 503,
}


def json_response(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def refusal(error: DomainError) -> Response[str]:
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)), 422)
    headers = {"Retry-After": "1"} if status == 503 else None
    return json_response(status, {"error": error.code, "message": str(error)}, headers)


def register_refusals(app: APIGatewayHttpResolver) -> None:
    """Every domain error becomes a status code and a JSON reason; nothing else leaks out."""
    app.exception_handler(DomainError)(refusal)


def intake_response(result: IntakeResult) -> Response[str]:
    if result.reply is not None:  # a platform's registration ping or challenge
        return json_response(result.reply.status, result.reply.body)
    body: dict[str, object] = {"outcome": result.outcome, "order_key": result.order_key, "duplicate": result.duplicate}
    if result.outcome == "accepted":
        body |= {
            "status": result.status,
            "execution_name": result.execution_name,
            "fulfillment_started": result.fulfillment_started,
        }
        if result.start_deferred:  # recorded; the start queue (or the sweep) starts it
            body["start_queued"] = True
    if result.reason:
        body["reason"] = result.reason
    return json_response(202, body)


def webhook_request(event: Mapping[str, Any]) -> WebhookRequest:
    """The exact bytes the sender signed: API Gateway base64-encodes bodies it does not treat as text."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "POST")).upper()
    return WebhookRequest(body=body, headers=headers, method=method, query=event.get("queryStringParameters") or {})
