"""Partner callbacks (the warehouse): verified over ``{timestamp}.{body}``, then read. (EasyPost's tracker events
are verified by its SDK: ``intake/carrier_events.py``.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from pydantic import BaseModel, ValidationError

from fulfillment.errors import InvalidSignature, MalformedPayload, PayloadTooLarge
from fulfillment.model.limits import MAX_CALLBACK_BYTES
from fulfillment.model.store import WebhookRequest

# Unix seconds in ASCII digits: str.isdigit() also takes "²" and "١", which int() refuses or misreads.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


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
    if not timestamp or not signature or not _UNIX_SECONDS.fullmatch(timestamp):
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
    if len(request.body) > MAX_CALLBACK_BYTES:
        size = len(request.body)
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {MAX_CALLBACK_BYTES} (MAX_CALLBACK_BYTES)")
    prefix = f"x-{partner.lower()}"
    verify_partner_signature(
        secret, request.body, request.header(f"{prefix}-timestamp"), request.header(f"{prefix}-signature")
    )
    return parse_partner_event(model, request.body)


def parse_partner_event[T: BaseModel](model: type[T], body: bytes) -> T:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        # Without the input: a reason names the field, it does not echo the body back.
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise MalformedPayload(json.dumps(errors, default=str)) from exc
