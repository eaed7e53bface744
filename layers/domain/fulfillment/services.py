"""Use cases. Each takes the ports it needs and knows nothing of HTTP, events or environment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from fulfillment.errors import (
    InspectionFailed,
    InvalidSignature,
    MalformedPayload,
    OrderNotFound,
    PayloadTooLarge,
    StoreMismatch,
    UnknownShipment,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
    VersionConflict,
)
from fulfillment.model import Money, Order, OrderStatus, has_reached
from fulfillment.model.inbound import FetchRequest, HandshakeReply, InboundEvent
from fulfillment.model.lifecycle import TERMINAL, ensure_transition
from fulfillment.model.order import is_valid_store_id, order_key
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackRequest, WriteBackResult
from fulfillment.ports import (
    Carrier,
    FetchDeps,
    IntakeDeps,
    OrderRepository,
    StoreNotifier,
    Warehouse,
    Workflow,
    WriteBackDeps,
)

MAX_WEBHOOK_BYTES = 1024 * 1024  # far above any order webhook, far below API Gateway's 10 MB
_CONFLICT_ATTEMPTS = 8
# Platform-owned content a newer snapshot may refresh until the order is validated.
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
    platform_name: str, store_id: str, request: WebhookRequest, deps: IntakeDeps, now: float | None = None
) -> IntakeResult:
    """Verify a store's webhook, record the order it describes and start fulfillment once it is paid.

    Refusals raise before anything is written. Idempotent: a delivery id seen before, or a snapshot
    no newer than the stored one, changes nothing, and the execution name is derived from the order
    so it starts at most once. Thin deliveries are queued for fetching and answered at once.
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
    platform.verify(request, credentials, time.time() if now is None else now)
    event = platform.read(request, store)
    _ensure_same_store(store, event)
    if event.ignore_reason:
        return IntakeResult(outcome="ignored", reason=event.ignore_reason)
    key = order_key(store.store_id, event.external_order_id) if event.external_order_id else None
    if event.event_id and not deps.deliveries.first_seen(platform.name, store.store_id, event.event_id):
        return IntakeResult(outcome="accepted", order_key=key, duplicate=True, reason="delivery seen before")
    try:
        return _accept(event, store, deps)
    except Exception:
        if event.event_id:  # let the platform's retry through again
            deps.deliveries.forget(platform.name, store.store_id, event.event_id)
        raise


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
    return _record_and_start(event.order, deps.orders, deps.workflow)


def _record_and_start(incoming: Order, orders: OrderRepository, workflow: Workflow) -> IntakeResult:
    order, duplicate = record_snapshot(incoming, orders)
    started = workflow.start(order) if order.status is OrderStatus.RECEIVED else False
    return IntakeResult(
        outcome="accepted",
        order_key=order.key,
        status=order.status,
        execution_name=order.execution_name() if order.status is not OrderStatus.PENDING_PAYMENT else None,
        fulfillment_started=started and not duplicate,
        duplicate=duplicate,
    )


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
    return _record_and_start(incoming, deps.orders, deps.workflow)


def write_back(request: WriteBackRequest, deps: WriteBackDeps) -> WriteBackResult:
    """The write-back worker: tell the order's store what happened, idempotently."""
    order = _load(deps.orders, request.order_key)
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
    )
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    return client.apply(store, credentials, update)


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
        elif newly_paid:
            current.transition_to(OrderStatus.RECEIVED, f"payment confirmed by {incoming.platform}")
        try:
            orders.save(current)
        except VersionConflict:
            continue
        return current, False
    raise VersionConflict(f"order {incoming.key} kept changing while recording a snapshot")


# --- fulfillment steps --------------------------------------------------------------------------
def _load(orders: OrderRepository, key: str) -> Order:
    order = orders.get(key)
    if order is None:
        raise OrderNotFound(f"no order {key}")
    return order


def _advance(
    orders: OrderRepository,
    key: str,
    target: OrderStatus,
    reason: str,
    act: Callable[[Order], dict[str, Any]] | None = None,
) -> Order:
    """Run one step: do nothing if the order already got there (a retry or a re-run), else act and record."""
    order = _load(orders, key)
    if has_reached(order.status, target):
        return order
    ensure_transition(order.status, target)  # before acting: a failed order must not buy a label
    detail = act(order) if act else {}
    order.transition_to(target, reason, **detail)
    orders.save(order)
    return order


def validate_order(key: str, orders: OrderRepository) -> Order:
    def check(order: Order) -> dict[str, Any]:
        order.ensure_fulfillable()
        return {"lines": len(order.lines), "units": sum(line.quantity for line in order.lines)}

    return _advance(orders, key, OrderStatus.VALIDATED, "address, lines, totals and payment checked", check)


def reserve_inventory(key: str, orders: OrderRepository) -> Order:
    def reserve(order: Order) -> dict[str, Any]:
        return {"skus": {line.sku: line.quantity for line in order.lines}}

    return _advance(orders, key, OrderStatus.RESERVED, "stock reserved", reserve)


def inspect_quality(key: str, orders: OrderRepository, warehouse: Warehouse) -> Order:
    def inspect(order: Order) -> dict[str, Any]:
        result = warehouse.inspect(order)
        if not result.passed:
            raise InspectionFailed(f"inspection failed: {result.notes or 'no notes'}")
        return {"inspector": result.inspector}

    return _advance(orders, key, OrderStatus.INSPECTED, "goods passed quality inspection", inspect)


def package_order(key: str, orders: OrderRepository) -> Order:
    def pack(order: Order) -> dict[str, Any]:
        return {"packages": 1, "units": sum(line.quantity for line in order.lines)}

    return _advance(orders, key, OrderStatus.PACKAGED, "goods packed", pack)


def ship_order(key: str, orders: OrderRepository, carrier: Carrier, notifier: StoreNotifier) -> Order:
    def ship(order: Order) -> dict[str, Any]:
        label = carrier.create_label(order)  # keyed on the order: a retry gets the same label
        order.carrier, order.tracking_number = label.carrier, label.tracking_number
        return {"carrier": label.carrier, "tracking_number": label.tracking_number}

    order = _advance(orders, key, OrderStatus.SHIPPED, "handed to the carrier", ship)
    notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.SHIPPED))  # also on a re-run: deduped
    return order


def await_delivery(key: str, task_token: str, orders: OrderRepository, workflow: Workflow) -> None:
    """Park the execution's task token on the order until the carrier confirms delivery."""
    for _ in range(_CONFLICT_ATTEMPTS):
        order = _load(orders, key)
        if has_reached(order.status, OrderStatus.DELIVERED):  # the carrier was faster than us
            workflow.resume(task_token, {"order_key": key})
            return
        order.delivery_task_token = task_token
        try:
            orders.save(order)
        except VersionConflict:
            continue
        return
    raise VersionConflict(f"order {key} kept changing while waiting for delivery")


class TrackingEvent(BaseModel):
    event_id: str
    tracking_number: str
    status: Literal["in_transit", "out_for_delivery", "delivered", "exception"]
    occurred_at: datetime
    description: str = ""


def record_tracking_event(carrier: str, event: TrackingEvent, orders: OrderRepository, workflow: Workflow) -> str:
    """Apply a carrier tracking event. A duplicate or late event changes nothing. Returns the order key."""
    key = orders.find_by_tracking(carrier, event.tracking_number)
    if key is None:
        raise UnknownShipment(f"no shipment {event.tracking_number} with {carrier}")
    for _ in range(_CONFLICT_ATTEMPTS):
        order = _load(orders, key)
        token = order.delivery_task_token
        if event.status != "delivered":
            if token and order.status is OrderStatus.SHIPPED:
                workflow.heartbeat(token)
            return key
        if order.status is OrderStatus.SHIPPED:
            order.transition_to(
                OrderStatus.DELIVERED,
                f"{carrier} confirmed delivery",
                at=event.occurred_at,
                tracking_number=event.tracking_number,
                carrier_event=event.event_id,
            )
            try:
                orders.save(order)  # conditional on the version: only one event wins the transition
            except VersionConflict:
                continue
        if token is None:
            return key  # nothing waits yet, or the wait was already resumed
        workflow.resume(token, {"order_key": key, "delivered_at": event.occurred_at.isoformat()})
        order.delivery_task_token = None
        try:
            orders.save(order)
        except VersionConflict:
            continue
        return key
    raise VersionConflict(f"order {key} kept changing while recording delivery")


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


def parse_partner_event[T: BaseModel](model: type[T], body: bytes) -> T:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedPayload(json.dumps(exc.errors(include_url=False, include_context=False), default=str)) from exc


def complete_payment(key: str, orders: OrderRepository) -> Order:
    def settle(order: Order) -> dict[str, Any]:
        return {"amount": str(order.totals.grand_total), "method": f"captured by {order.platform} at checkout"}

    return _advance(orders, key, OrderStatus.PAYMENT_COMPLETED, "payment complete", settle)


def complete_order(key: str, orders: OrderRepository, notifier: StoreNotifier) -> Order:
    order = _advance(orders, key, OrderStatus.COMPLETED, "delivered and paid")
    notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.COMPLETED))
    return order


def record_failure(key: str, error: str, cause: str, orders: OrderRepository) -> Order | None:
    """The workflow's catch-all: record why the order stopped. Already-terminal orders stay as they are."""
    for _ in range(_CONFLICT_ATTEMPTS):
        order = orders.get(key)
        if order is None or order.status in TERMINAL:
            return order
        order.failure = {"error": error, "cause": _readable_cause(cause)}
        order.delivery_task_token = None
        order.transition_to(OrderStatus.FAILED, f"{error}: {order.failure['cause']}"[:500])
        try:
            orders.save(order)
        except VersionConflict:
            continue
        return order
    raise VersionConflict(f"order {key} kept changing while recording its failure")


def _readable_cause(cause: str) -> str:
    """Lambda failures arrive as a JSON document; keep just its message."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:1000]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed)[:1000]
    return str(parsed)[:1000]
