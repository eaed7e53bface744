"""EasyPost webhook events (``POST /carriers/easypost/tracking``): ``tracker.updated`` for our labels.

How the route knows the store: EasyPost signs each event with the secret of the webhook it was sent to, one
webhook per store's EasyPost account, and the event names no store of ours. But every label we buy was created
by us as a shipment whose id is stored on its package and indexed (``OrderRepository.find_by_tracking``), and
EasyPost's tracker carries that ``shipment_id``. So the event is read (bounded, before anything trusts it), its
shipment finds the order and so the store, and the store's webhook secret must verify the exact body bytes
(the SDK's own ``easypost.util.validate_webhook``: ``X-Hmac-Signature: hmac-sha256-hex=<HMAC-SHA256 of the body
with the NFKD-normalised secret>``). One URL serves every store (a merchant pastes it once) and an event for a
shipment that is not ours is answered 2xx and ignored, without a secret to check it against: it changes
nothing, and EasyPost disables webhooks that keep failing (docs.easypost.com/docs/webhooks). A forged or altered
event naming one of our shipments fails verification (401) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fulfillment.errors import InvalidSignature, MalformedPayload, PayloadTooLarge
from fulfillment.model.limits import MAX_CALLBACK_BYTES, BoundedId
from fulfillment.model.order import store_of
from fulfillment.model.store import StoreCredentials, WebhookRequest
from fulfillment.ports import TrackingDeps
from fulfillment.steps.tracking import TrackerStatus, TrackingEvent, record_tracking_event

CARRIER = "easypost"
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})


class _Tracker(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: BoundedId
    tracking_code: str | None = Field(default=None, max_length=200)
    status: TrackerStatus = "unknown"
    status_detail: str | None = Field(default=None, max_length=200)
    shipment_id: BoundedId | None = None
    updated_at: datetime | None = None


class _Event(BaseModel):
    """EasyPost's Event object (docs.easypost.com/docs/events): ``description`` names it, ``result`` carries it."""

    model_config = ConfigDict(extra="ignore")

    id: BoundedId
    description: str = Field(max_length=200)
    created_at: datetime | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrackingOutcome:
    outcome: str  # recorded, duplicate, ignored
    order_key: str | None = None
    event_id: str | None = None
    reason: str = ""


def receive_easypost_event(request: WebhookRequest, deps: TrackingDeps) -> TrackingOutcome:
    if len(request.body) > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge(f"body is {len(request.body)} bytes; the limit is {MAX_CALLBACK_BYTES}")
    try:
        event = _Event.model_validate_json(request.body)
        tracker = _Tracker.model_validate(event.result) if event.description in TRACKER_EVENTS else None
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise MalformedPayload(str(errors)) from exc
    if tracker is None:
        return TrackingOutcome("ignored", event_id=event.id, reason=f"{event.description} is not a tracker event")
    key = deps.orders.find_by_tracking(CARRIER, tracker.shipment_id) if tracker.shipment_id else None
    if key is None:
        return TrackingOutcome("ignored", event_id=event.id, reason="not a shipment of ours")
    store_id = store_of(key)  # from the key, not the order: a large order's read is the costly part of an event
    _verify(request, store_id, deps)
    if not deps.deliveries.first_seen(CARRIER, store_id, event.id):
        return TrackingOutcome("duplicate", order_key=key, event_id=event.id)
    update = TrackingEvent(
        event_id=event.id,
        shipment_id=tracker.shipment_id or "",
        tracking_number=tracker.tracking_code or "",
        status=tracker.status,
        status_detail=tracker.status_detail or "",
        occurred_at=tracker.updated_at or event.created_at or datetime.fromtimestamp(0).astimezone(),
        description=(tracker.status_detail or tracker.status).replace("_", " "),
    )
    try:
        record_tracking_event(CARRIER, update, deps)
    except BaseException:
        deps.deliveries.forget(CARRIER, store_id, event.id)  # not processed: EasyPost's retry is not a duplicate
        raise
    return TrackingOutcome("recorded", order_key=key, event_id=event.id)


def _verify(request: WebhookRequest, store_id: str, deps: TrackingDeps) -> None:
    from easypost.errors.general.signature_verification_error import SignatureVerificationError
    from easypost.util import validate_webhook

    store = deps.stores.get(store_id)
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref)).easypost if store else None
    if credentials is None:
        raise InvalidSignature(f"store {store_id} has no EasyPost webhook secret")
    signature = request.header("x-hmac-signature")
    if signature is not None and not signature.isascii():  # the SDK's compare_digest raises TypeError on those
        raise InvalidSignature("X-Hmac-Signature is not an hmac-sha256-hex digest")
    try:
        # The SDK reads the header by its exact name; ours are lower-cased.
        validate_webhook(request.body, {"X-Hmac-Signature": signature}, credentials.webhook_secret)
    except SignatureVerificationError as error:
        raise InvalidSignature(str(error)) from error
    except ValueError as error:  # signed, but not JSON the SDK can read
        raise MalformedPayload("the signed body is not JSON") from error
