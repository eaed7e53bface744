"""Use cases. Each takes the ports it needs and knows nothing of HTTP, events or environment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
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
    UnknownShipment,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
    VersionConflict,
)
from fulfillment.model import Order, OrderStatus, has_reached
from fulfillment.model.lifecycle import TERMINAL, ensure_transition
from fulfillment.model.order import is_valid_store_id
from fulfillment.model.store import WebhookRequest
from fulfillment.ports import Carrier, InboundPlatform, OrderRepository, SecretStore, StoreRegistry, Warehouse, Workflow

MAX_WEBHOOK_BYTES = 1024 * 1024  # far above any order webhook, far below API Gateway's 10 MB
_CONFLICT_ATTEMPTS = 8
# Platform-owned content a newer snapshot may refresh until the order is validated.
_SNAPSHOT_FIELDS = ("number", "customer", "billing_address", "shipping_address", "lines", "totals", "placed_at")


# --- intake -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntakeResult:
    outcome: Literal["ping", "accepted"]
    order_key: str | None = None
    status: OrderStatus | None = None
    execution_name: str | None = None
    fulfillment_started: bool = False
    duplicate: bool = False


def receive_webhook(
    platform_name: str,
    store_id: str,
    request: WebhookRequest,
    *,
    platforms: Mapping[str, InboundPlatform],
    stores: StoreRegistry,
    secrets: SecretStore,
    orders: OrderRepository,
    workflow: Workflow,
) -> IntakeResult:
    """Verify a store's webhook, record the order it describes and start fulfillment once it is paid.

    Refusals raise before anything is written. Idempotent: the same delivery, or an older one,
    changes nothing, and the execution name is derived from the order so it starts at most once.
    """
    if len(request.body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"body is {len(request.body)} bytes; the limit is {MAX_WEBHOOK_BYTES}")
    platform = platforms.get(platform_name)
    if platform is None:
        raise UnsupportedPlatform(f"no intake for platform {platform_name!r}")
    store = stores.get(store_id) if is_valid_store_id(store_id) else None
    if store is None or store.platform != platform.name:
        raise UnknownStore(f"no {platform_name} store {store_id!r} is registered")
    if platform.is_handshake(request):
        return IntakeResult(outcome="ping")
    if request.media_type != "application/json":
        raise UnsupportedMediaType(f"expected application/json, got {request.media_type or 'no content type'}")
    platform.verify(request, secrets.get(store.secret_ref))
    incoming = platform.parse(request, store)
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


def ship_order(key: str, orders: OrderRepository, carrier: Carrier) -> Order:
    def ship(order: Order) -> dict[str, Any]:
        label = carrier.create_label(order)  # keyed on the order: a retry gets the same label
        order.carrier, order.tracking_number = label.carrier, label.tracking_number
        return {"carrier": label.carrier, "tracking_number": label.tracking_number}

    return _advance(orders, key, OrderStatus.SHIPPED, "handed to the carrier", ship)


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


def complete_order(key: str, orders: OrderRepository) -> Order:
    return _advance(orders, key, OrderStatus.COMPLETED, "delivered and paid")


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
