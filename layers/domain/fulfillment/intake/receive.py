"""Intake: verify a store's webhook, record what it says, start fulfillment once the order is paid."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from fulfillment.errors import (
    InvalidSignature,
    MalformedPayload,
    PayloadTooLarge,
    StoreMismatch,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
)
from fulfillment.intake.result import IntakeResult
from fulfillment.intake.snapshots import ensure_storable, record_and_start
from fulfillment.model.inbound import FetchRequest, InboundEvent
from fulfillment.model.limits import id_too_long
from fulfillment.model.order import is_valid_store_id, order_key
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.ports import InboundPlatform, IntakeDeps, StoredDelivery

MAX_WEBHOOK_BYTES = 1024 * 1024  # far above any order webhook, far below API Gateway's 10 MB


def receive_webhook(
    platform_name: str,
    store_id: str,
    request: WebhookRequest,
    deps: IntakeDeps,
    now: float | None = None,
    *,
    replay: bool = False,
) -> IntakeResult:
    """Verify a store's webhook, record the order it describes and start fulfillment once it is paid.

    Refusals raise before anything is written. Idempotent: a delivery id seen before, or a snapshot
    no newer than the stored one, changes nothing, and the execution name is derived from the order
    so it starts at most once. Thin deliveries are queued for fetching and answered at once.
    A delivery seen for the first time is kept in the archive (``replay_delivery``); ``replay`` is that re-run:
    neither the delivery log nor the archive is consulted or written.
    """
    if len(request.body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"body is {len(request.body)} bytes; the limit is {MAX_WEBHOOK_BYTES}")
    platform = deps.platforms.get(platform_name)
    if platform is None:
        raise UnsupportedPlatform(f"no intake for platform {platform_name!r}")
    store = deps.stores.get(store_id) if is_valid_store_id(store_id) else None
    if store is None or store.platform != platform.name:
        raise UnknownStore(f"no {platform_name} store {store_id!r} is registered")
    reply = platform.handshake(request)
    if reply is not None:
        return IntakeResult(outcome="ping", reply=reply)
    if request.method != "POST":
        raise MalformedPayload(f"{request.method} is only for the platform's registration challenge")
    if request.media_type != "application/json":
        raise UnsupportedMediaType(f"expected application/json, got {request.media_type or 'no content type'}")
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    received = time.time() if now is None else now
    _verify(platform, request, credentials, received)
    event = platform.read(request, store)
    _ensure_within_limits(event)
    _ensure_same_store(store, event)
    if event.ignore_reason:
        return IntakeResult(outcome="ignored", reason=event.ignore_reason)
    key = order_key(store.store_id, event.external_order_id) if event.external_order_id else None
    logged = bool(event.event_id) and not replay  # a replay bypasses the delivery log: re-running is its point
    if logged and not deps.deliveries.first_seen(platform.name, store.store_id, event.event_id or ""):
        return IntakeResult(outcome="accepted", order_key=key, duplicate=True, reason="delivery seen before")
    try:
        if not replay:  # kept before it is acted on: a delivery that fails for good can be replayed once fixed
            deps.archive.keep(_stored_delivery(platform.name, store.store_id, request, event, received))
        return _accept(event, store, deps)
    except Exception:
        if logged and event.event_id:  # let the platform's retry through again
            deps.deliveries.forget(platform.name, store.store_id, event.event_id)
        raise


def _verify(platform: InboundPlatform, request: WebhookRequest, credentials: StoreCredentials, at: float) -> None:
    """The current webhook secret, or during a rotation the previous one until it lapses (the one place for all
    platforms: each adapter verifies with the secret it is given). A replay is verified as of its arrival."""
    try:
        platform.verify(request, credentials, at)
    except InvalidSignature:
        previous = credentials.previous(at)
        if previous is None:
            raise
        platform.verify(request, previous, at)


_NOT_KEPT_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _stored_delivery(
    platform: str, store_id: str, request: WebhookRequest, event: InboundEvent, received: float
) -> StoredDelivery:
    """What replay needs: the exact body and the headers that verify and describe it (credentials left out)."""
    headers = {name: value for name, value in request.headers.items() if name not in _NOT_KEPT_HEADERS}
    return StoredDelivery(
        platform=platform,
        store_id=store_id,
        delivery_id=event.event_id or f"sha256-{hashlib.sha256(request.body).hexdigest()[:32]}",
        received_at=datetime.fromtimestamp(received, UTC),
        request=request.model_copy(update={"headers": headers}),
        topic=event.topic,
        external_order_id=event.external_order_id,
    )


def _accept(event: InboundEvent, store: Store, deps: IntakeDeps) -> IntakeResult:
    if event.needs_fetch and event.external_order_id:
        deps.fetches.enqueue(
            FetchRequest(
                platform=event.platform,
                store_id=store.store_id,
                external_order_id=event.external_order_id,
                topic=event.topic,
                event_id=event.event_id,
            )
        )
        return IntakeResult(outcome="queued", order_key=order_key(store.store_id, event.external_order_id))
    if event.order is None:
        raise MalformedPayload(f"{event.platform} {event.topic} delivery carries no order")
    return record_and_start(event.order, deps)


def _ensure_within_limits(event: InboundEvent) -> None:
    """Ids our keys can hold (the delivery log's, the archive's, the order's): refused by name, never a 500."""
    reason = id_too_long(event.external_order_id, "the order id") or id_too_long(event.event_id, "the event id")
    if reason:
        raise MalformedPayload(reason)
    if event.order is not None:
        ensure_storable(event.order)


def _normalised_identity(value: str) -> str:
    return value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def _ensure_same_store(store: Store, event: InboundEvent) -> None:
    """A delivery signed with this store's key but naming another store is refused (a copy-paste or a replay)."""
    expected = store.platform_store_id or store.site_url
    if (
        event.store_identity
        and expected
        and (_normalised_identity(event.store_identity) != _normalised_identity(expected))
    ):
        raise StoreMismatch(f"the delivery is for {event.store_identity!r}, not {expected!r}")
