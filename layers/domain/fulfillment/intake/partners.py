"""Partner callbacks (carrier, warehouse): verified over ``{timestamp}.{body}``, then read."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from pydantic import BaseModel, ValidationError

from fulfillment.errors import InvalidSignature, MalformedPayload
from fulfillment.model.store import WebhookRequest


def verify_partner_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Partner callbacks sign ``{timestamp}.{body}`` with HMAC-SHA256 (hex), like Stripe and Standard Webhooks."""
    if not timestamp or not signature or not timestamp.isdigit():
        raise InvalidSignature("missing signature or timestamp")
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    expected = partner_signature(secret, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.removeprefix("sha256=").encode()):
        raise InvalidSignature("signature does not match the body")


def partner_signature(secret: str, body: bytes, timestamp: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verified_partner_event[T: BaseModel](model: type[T], request: WebhookRequest, secret: str, partner: str) -> T:
    """A partner callback (``X-<Partner>-Timestamp`` and ``-Signature`` headers) verified, then read."""
    prefix = f"x-{partner.lower()}"
    verify_partner_signature(
        secret, request.body, request.header(f"{prefix}-timestamp"), request.header(f"{prefix}-signature")
    )
    return parse_partner_event(model, request.body)


def parse_partner_event[T: BaseModel](model: type[T], body: bytes) -> T:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedPayload(json.dumps(exc.errors(include_url=False, include_context=False), default=str)) from exc
