"""Use cases. Each takes the ports it needs and knows nothing of HTTP, events or environment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ValidationError

from fulfillment.errors import (
    DeliveryNotFound,
    InvalidSignature,
    MalformedPayload,
    OrderNotFound,
    PayloadTooLarge,
    ReturnInvalid,
    StoreMismatch,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
    VersionConflict,
)
from fulfillment.model import Money, Order, OrderStatus
from fulfillment.model.inbound import FetchRequest, HandshakeReply, InboundEvent
from fulfillment.model.lifecycle import FULFILLED
from fulfillment.model.order import REPLACES_REF, StoreReturnReport, is_valid_store_id, order_key
from fulfillment.model.returns import ReturnSource, ReturnStatus, delivered_quantities, return_key
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackRequest, WriteBackResult
from fulfillment.ports import (
    FetchDeps,
    IntakeDeps,
    OpenReturnDeps,
    OrderRepository,
    StoredDelivery,
    Workflow,
    WriteBackDeps,
)

MAX_WEBHOOK_BYTES = 1024 * 1024  # far above any order webhook, far below API Gateway's 10 MB
_CONFLICT_ATTEMPTS = 8
# Platform-owned content a newer snapshot may refresh until the order is validated.
# In fulfillment and not yet shipped: a store's cancellation still stops the workflow.
_CANCELLABLE = frozenset(
    {OrderStatus.RECEIVED, OrderStatus.VALIDATED, OrderStatus.RESERVED, OrderStatus.INSPECTED, OrderStatus.PACKAGED}
)
_SNAPSHOT_FIELDS = ("number", "customer", "billing_address", "shipping_address", "lines", "totals", "placed_at")


# --- intake -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntakeResult:
    outcome: Literal["ping", "accepted", "queued", "ignored"]
    order_key: str | None = None
    status: OrderStatus | None = None
    execution_name: str | None = None
    fulfillment_started: bool = False
    duplicate: bool = False
    reply: HandshakeReply | None = None
    reason: str | None = None


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
    platform.verify(request, credentials, received)
    event = platform.read(request, store)
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


def replay_delivery(store_id: str, delivery_id: str, deps: IntakeDeps) -> IntakeResult:
    """Run a stored delivery through intake again, as if it arrived now for the first time.

    Its signature is verified again over the stored bytes, with the current secret: a body changed in storage,
    or a rotated secret, is refused. The duplicate-delivery log is bypassed (re-running is the point); the
    newest-snapshot-wins rule is not, so replaying an older snapshot of a newer order changes nothing.
    """
    stored = deps.archive.get(store_id, delivery_id)
    if stored is None:
        raise DeliveryNotFound(f"no stored delivery {delivery_id!r} for store {store_id!r} (kept 30 days)")
    # Verified "as of" its arrival: a timestamped scheme's freshness window (replay protection against
    # captured deliveries) is thereby skipped, and only that: the delivery was fresh when it arrived,
    # and its bytes are unchanged, which the signature check still proves.
    arrived = stored.received_at.timestamp()
    return receive_webhook(stored.platform, stored.store_id, stored.request, deps, now=arrived, replay=True)


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
    return _record_and_start(event.order, deps)


def _record_and_start(incoming: Order, deps: OpenReturnDeps) -> IntakeResult:
    orders, workflow = deps.orders, deps.workflow
    order, duplicate = record_snapshot(incoming, orders)
    if order.cancel_requested and order.task_token and not duplicate:
        _fail_waiting_execution(order, orders, workflow)
    if incoming.reported_returns and order.status in FULFILLED:
        # Regardless of snapshot order: a refund delivery is about goods, not the order's fulfillment fields.
        order = take_store_returns(incoming.reported_returns, order, deps)
    started = workflow.start(order) if order.status is OrderStatus.RECEIVED and not order.cancel_requested else False
    return IntakeResult(
        outcome="accepted",
        order_key=order.key,
        status=order.status,
        execution_name=order.execution_name() if order.status is not OrderStatus.PENDING_PAYMENT else None,
        fulfillment_started=started and not duplicate,
        duplicate=duplicate,
    )


def _fail_waiting_execution(order: Order, orders: OrderRepository, workflow: Workflow) -> None:
    """The store cancelled while the execution waits (approval, inspection): fail the wait, so it compensates."""
    token = order.task_token
    order.task_token, order.waiting_for = None, None
    try:
        orders.save(order)
    except VersionConflict:
        return  # someone answered the wait meanwhile; the next step sees cancel_requested
    if token:
        workflow.fail(token, "OrderCancelled", order.cancel_requested or "cancelled in the store")


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


def fetch_and_record(request: FetchRequest, deps: FetchDeps) -> IntakeResult:
    """The fetch worker: read a thin delivery's order from the platform API, then as intake would."""
    store = deps.stores.get(request.store_id)
    if store is None:
        raise UnknownStore(f"store {request.store_id!r} is no longer registered")
    source = deps.order_sources.get(request.platform)
    if source is None:
        raise UnsupportedPlatform(f"no order source for platform {request.platform!r}")
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    incoming = source.fetch_order(store, credentials, request.external_order_id)
    return _record_and_start(incoming, deps)


def write_back(request: WriteBackRequest, deps: WriteBackDeps) -> WriteBackResult:
    """The write-back worker: tell the order's store what happened, idempotently."""
    order = deps.orders.get(request.order_key)
    if order is None:
        raise OrderNotFound(f"no order {request.order_key}")
    store = deps.stores.get(order.store_id)
    if store is None:
        raise UnknownStore(f"store {order.store_id!r} is no longer registered")
    client = deps.write_backs.get(order.platform)
    if client is None:
        return WriteBackResult(done=False, reference=f"no write-back client for {order.platform}")
    amount = None if request.amount_minor is None else Money(minor=request.amount_minor, currency=order.currency)
    update = StoreUpdate(
        kind=request.kind,
        order=order,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        amount=amount,
        reason=request.reason,
        reference=request.reference,
    )
    if order.platform_refs.get(REPLACES_REF):
        update = _replacement_note(update, order, deps)
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    return client.apply(store, credentials, update)


def _replacement_note(update: StoreUpdate, replacement: Order, deps: WriteBackDeps) -> StoreUpdate:
    """A replacement order exists only here, not in the store: what happens to it is told as a note on the
    store's original order (one per replacement and kind, found by its marker on a retry)."""
    original = deps.orders.get(replacement.platform_refs[REPLACES_REF])
    if original is None:
        raise OrderNotFound(
            f"replacement {replacement.key}: no original order {replacement.platform_refs[REPLACES_REF]}"
        )
    if update.kind is UpdateKind.REFUNDED:  # a return of the replacement: the money was paid on the original
        return update.model_copy(update={"order": original, "reference": update.reference or replacement.key})
    shipment = f" with {replacement.carrier} {replacement.tracking_number}" if replacement.tracking_number else ""
    what = {
        UpdateKind.SHIPPED: f"shipped{shipment}",
        UpdateKind.COMPLETED: "delivered",
        UpdateKind.CANCELLED: f"cancelled: {update.reason}",
    }.get(update.kind, str(update.kind))
    return StoreUpdate(
        kind=UpdateKind.RETURNED,
        order=original,
        reason=f"Replacement order {replacement.number} {what}",
        reference=f"{replacement.key}:{update.kind}",
    )


def record_snapshot(incoming: Order, orders: OrderRepository) -> tuple[Order, bool]:
    """Store a platform's view of an order; the newest snapshot wins. Returns (order, was_duplicate)."""
    for _ in range(_CONFLICT_ATTEMPTS):
        current = orders.get(incoming.key)
        if current is None:
            new = incoming.model_copy(deep=True)
            new.record_receipt(
                f"placed on {incoming.platform}" + (" and paid" if incoming.paid else ", awaiting payment"),
                at=incoming.placed_at,
            )
            if new.cancelled:
                new.transition_to(OrderStatus.CANCELLED, f"cancelled on {incoming.platform}")
            try:
                orders.create(new)
            except VersionConflict:
                continue  # a concurrent delivery created it first: read theirs
            return new, False
        newly_paid = incoming.paid and current.status is OrderStatus.PENDING_PAYMENT
        is_newer = incoming.source_modified_at > current.source_modified_at
        # Cancelling a paid order in fulfillment needs compensation (the workflow issue); until then
        # the store's cancellation is honoured only while nothing has been done for the order.
        newly_cancelled = is_newer and incoming.cancelled and current.status is OrderStatus.PENDING_PAYMENT
        if not is_newer and not newly_paid:
            return current, True
        if is_newer and current.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.RECEIVED):
            for field in _SNAPSHOT_FIELDS:
                setattr(current, field, getattr(incoming, field))
        current.source_modified_at = max(current.source_modified_at, incoming.source_modified_at)
        current.paid = current.paid or incoming.paid
        current.cancelled = current.cancelled or newly_cancelled
        if newly_cancelled:
            current.transition_to(OrderStatus.CANCELLED, f"cancelled on {incoming.platform}")
        elif is_newer and incoming.cancelled and not current.cancel_requested and current.status in _CANCELLABLE:
            # Paid and in fulfillment: the workflow compensates (a running step sees this at its next save).
            current.cancel_requested = f"cancelled on {incoming.platform}"
            current.note(f"cancellation requested by {incoming.platform}")
        elif newly_paid:
            current.transition_to(OrderStatus.RECEIVED, f"payment confirmed by {incoming.platform}")
        try:
            orders.save(current)
        except VersionConflict:
            continue
        return current, False
    raise VersionConflict(f"order {incoming.key} kept changing while recording a snapshot")


# --- returns the stores report ------------------------------------------------------------------
def take_store_returns(reports: tuple[StoreReturnReport, ...], order: Order, deps: OpenReturnDeps) -> Order:
    """A delivered order's refunds and returns made in the store: goods named → a return (source STORE, the
    money already moved there), so they are expected back, inspected and restocked; no goods named → a note.
    Each store id is taken once, however often the store repeats it. Returns the order as it now stands."""
    for report in reports:
        if _is_our_own_refund(report, order):
            continue
        if report.lines and _return_still_to_open(report, order, deps):
            _open_store_return(report, order, deps)
        elif not report.lines and report.external_id not in order.store_refunds_noted:
            _note_store_refund(report, order, deps.orders)
        order = deps.orders.get(order.key) or order
    return order


def _is_our_own_refund(report: StoreReturnReport, order: Order) -> bool:
    """A refund our write-back made carries its update key (``<order key>:refunded:…``) in its reason."""
    return f"{order.key}:{UpdateKind.REFUNDED}:" in report.reason


def _return_still_to_open(report: StoreReturnReport, order: Order, deps: OpenReturnDeps) -> bool:
    number = order.store_returns.get(report.external_id)
    if number is None:
        return True
    opened = deps.returns.get(return_key(order.key, number))
    return opened is None or opened.status is ReturnStatus.REQUESTED  # its execution may not have started


def _open_store_return(report: StoreReturnReport, order: Order, deps: OpenReturnDeps) -> None:
    # Imported here: only a delivered order's refund needs the return workflow, so intake's cold start does not.
    from fulfillment.return_steps import ReturnLineRequest, ReturnRequest, request_return

    delivered = delivered_quantities(order)
    # A store reports what it refunded; what a partial fulfillment never sent cannot come back.
    lines = [
        ReturnLineRequest(line_id=line.line_id, quantity=min(line.quantity, delivered.get(line.line_id, line.quantity)))
        for line in report.lines
        if delivered.get(line.line_id, line.quantity) > 0
    ]
    if not lines:
        _note_store_refund(report, order, deps.orders)
        return
    request = ReturnRequest(
        order_key=order.key,
        lines=lines,
        reason=(report.reason or f"refunded on {order.platform}")[:200],
        source=ReturnSource.STORE,
        requested_by=order.platform,
        external_id=report.external_id,
        refunded_by_store_minor=report.refunded_minor or None,
    )
    try:
        request_return(request, deps)
    except ReturnInvalid as error:  # a line we never had: tell ops once, never refuse the store's delivery
        _note_once(deps.orders, order.key, report.external_id, f"{order.platform} refund {report.external_id}: {error}")


def _note_store_refund(report: StoreReturnReport, order: Order, orders: OrderRepository) -> None:
    amount = Money(minor=report.refunded_minor, currency=order.currency)
    _note_once(orders, order.key, report.external_id, f"refunded {amount} on {order.platform}; no goods expected back")


def _note_once(orders: OrderRepository, key: str, external_id: str, text: str) -> None:
    for _ in range(_CONFLICT_ATTEMPTS):
        order = orders.get(key)
        if order is None or external_id in order.store_refunds_noted:
            return
        order.store_refunds_noted.append(external_id)
        order.note(text, store_refund=external_id)
        try:
            orders.save(order)
        except VersionConflict:
            continue
        return
    raise VersionConflict(f"order {key} kept changing while noting a store refund")


# --- partner callbacks ---------------------------------------------------------------------------
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
