"""Ecwid (Lightspeed E-Series): envelope-signed, thin deliveries; orders read from and written to REST v3.

Verification: ``X-Ecwid-Webhook-Signature`` = base64(HMAC-SHA256(app client_secret,
``f"{eventCreated}.{eventId}"``)), and ``eventCreated`` may be up to 24 hours and 5 minutes old and at
most 5 minutes ahead: Ecwid retries an undelivered webhook for 24 hours (after 15, 30, 45 min, 1 h, 2 h, …,
27 attempts, the last at 24 h) with the original ``eventCreated`` ("How to process webhooks", step 1,
docs.ecwid.com/build-apps/webhook-automations/setup-webhooks/how-to-process-webhooks), so a ±5-minute
window would refuse every retry. The **body is not signed**: anyone holding one signed delivery can change
``storeId``, ``entityId`` or ``data`` and keep the signature. So nothing in the body is trusted beyond the
ids: every order event is fetched with the registered store's id and token (a forged order id can only make
us read a real order of that store), and ``eventId`` deduplicates replays within the window (the delivery
log keeps ids 7 days, longer than the window; a delivery we failed to take is forgotten, so its retry is
taken once).

Events: ``order.created|updated`` → fetch ``data.orderId`` (``entityId`` if absent). ``order.deleted``
is ignored (the order can no longer be fetched; its last recorded status stands), as are
``unfinished_order.*`` (abandoned checkouts) and every other event type.

Status rule (``paymentStatus``, ``fulfillmentStatus``):
- paid: ``PAID``, ``PARTIALLY_REFUNDED``, ``REFUNDED``. Not paid: ``AWAITING_PAYMENT``, ``INCOMPLETE``,
  ``CANCELLED``, ``CUSTOM_PAYMENT_STATUS_*`` (merchant-defined, meaning unknown).
- cancelled: ``paymentStatus`` ``CANCELLED`` or ``REFUNDED``, or ``fulfillmentStatus`` ``WILL_NOT_DELIVER``.
- refunded: ``refundedAmount`` when above zero.
- reported return: ``fulfillmentStatus`` ``RETURNED`` (not set by our own write-back) is every line coming
  back, with ``refundedAmount`` as paid back by the store when ``paymentStatus`` says refunded.

Orders carry no currency code: it is ``credentials.extra["currency"]`` when set, otherwise the store
profile's ``formatsAndUnits.currency`` (``GET /api/v3/{storeId}/profile``, one more call per fetch).

Write-back (``PUT /api/v3/{storeId}/orders/{orderId}``, ``Authorization: Bearer``; always after a
``GET`` of the order, so a retry finds its own change and writes nothing):
- PROCESSING: ``fulfillmentStatus`` ``PROCESSING``, only from ``AWAITING_PROCESSING``.
- SHIPPED: ``fulfillmentStatus`` ``SHIPPED`` + ``trackingNumber``, unless the order already carries that
  number past processing; refused for ``WILL_NOT_DELIVER``/``RETURNED`` orders.
- COMPLETED: ``fulfillmentStatus`` ``DELIVERED`` (refused for ``WILL_NOT_DELIVER``/``RETURNED`` orders); for cash
  on delivery also ``paymentStatus`` ``PAID`` while it is ``AWAITING_PAYMENT`` (the carrier collected it).
- CANCELLED: ``fulfillmentStatus`` ``WILL_NOT_DELIVER``; ``paymentStatus`` ``CANCELLED`` too while it is
  still ``AWAITING_PAYMENT`` (for a paid order that label would misstate the money; a REFUNDED update
  records the refund).
- REFUNDED: a label and a note only — Ecwid's API moves no money, the merchant refunds through the
  payment provider. ``paymentStatus`` becomes ``REFUNDED``/``PARTIALLY_REFUNDED`` and
  ``privateAdminNotes`` gains a line with the amount and the update key (the idempotency marker).
- RETURNED (a return resolved): a ``privateAdminNotes`` line with the update key; ``fulfillmentStatus``
  ``RETURNED`` too once the whole order came back.
The body never carries ``items`` (Ecwid would replace the item list).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import (
    PlatformAdapters,
    PlatformSpec,
    as_utc,
    first_error,
    from_unix,
    hmac_sha256_base64,
    load_json,
    require_fresh,
    same_signature,
)
from fulfillment.errors import InvalidMoney, InvalidSignature, MalformedPayload, OrderInvalid, PlatformRejected
from fulfillment.model import Address, Customer, LineItem, Money, Order, OrderStatus, Totals
from fulfillment.model.capabilities import NO_PAYMENT_API
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.order import ReportedLine, StoreReturnReport, order_key
from fulfillment.model.payment import enters_fulfillment, platform_payment
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult, partial_shipment_note

DEFAULT_API_BASE = "https://app.ecwid.com"
TOLERANCE_SECONDS = 300  # clock skew, either way
# Ecwid's resend policy: 24 h of retries, each with the original eventCreated (module docstring).
RETRY_WINDOW_SECONDS = 24 * 3600 + TOLERANCE_SECONDS
FETCHED_EVENTS = frozenset({"order.created", "order.updated"})
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
CANCELLED_PAYMENT_STATUSES = frozenset({"CANCELLED", "REFUNDED"})
CANCELLED_FULFILLMENT_STATUSES = frozenset({"WILL_NOT_DELIVER"})
REFUND_STATUSES = frozenset({"REFUNDED", "PARTIALLY_REFUNDED"})
# COMPLETED may not turn these back into DELIVERED; SHIPPED may not overwrite them.
CLOSED_FULFILLMENT_STATUSES = frozenset({"WILL_NOT_DELIVER", "RETURNED"})


class _Lenient(BaseModel):
    """Ecwid's camelCase fields, read into snake_case attributes."""

    # Older stores have numeric order ids: ids are read as text either way.
    model_config = ConfigDict(
        extra="ignore", alias_generator=to_camel, populate_by_name=True, coerce_numbers_to_str=True
    )


class EcwidEventData(_Lenient):
    order_id: str | None = None


class EcwidEvent(_Lenient):
    event_id: str
    event_created: int
    store_id: int
    entity_id: int | None = None
    event_type: str
    data: EcwidEventData | None = None


class EcwidPerson(_Lenient):
    name: str | None = None
    company_name: str | None = None
    street: str | None = None  # lines separated by "\n"
    city: str | None = None
    country_code: str | None = None
    postal_code: str | None = None
    state_or_province_code: str | None = None
    state_or_province_name: str | None = None
    phone: str | None = None

    def to_address(self) -> Address:
        return Address(
            name=(self.name or "").strip(),
            company=self.company_name or "",
            lines=tuple(line.strip() for line in (self.street or "").splitlines() if line.strip()),
            city=self.city or "",
            region=self.state_or_province_code or self.state_or_province_name or "",
            postal_code=self.postal_code or "",
            country=(self.country_code or "").upper(),
            phone=self.phone or "",
        )


class EcwidItem(_Lenient):
    id: int
    product_id: int | None = None
    sku: str | None = None
    name: str = ""
    quantity: int
    price: float | str


class EcwidShippingOption(_Lenient):
    shipping_rate: float | str = 0


class EcwidOrder(_Lenient):
    id: str
    internal_id: int | None = None
    email: str | None = None
    customer_id: int | None = None
    payment_status: str | None = None
    payment_method: str | None = None  # the method's name as the merchant set it ("Cash on delivery")
    fulfillment_status: str | None = None
    subtotal: float | str | None = None
    total: float | str
    tax: float | str = 0
    discount: float | str = 0
    coupon_discount: float | str = 0
    refunded_amount: float | str = 0
    create_timestamp: int | None = None
    create_date: str | None = None
    update_timestamp: int
    items: list[EcwidItem] = []
    billing_person: EcwidPerson | None = None
    shipping_person: EcwidPerson | None = None
    shipping_option: EcwidShippingOption | None = None
    tracking_number: str | None = None
    private_admin_notes: str | None = None

    def placed_at(self) -> datetime:
        if self.create_timestamp is not None:
            return from_unix(self.create_timestamp)
        if self.create_date:  # "2025-06-03 12:21:07 +0000"
            return as_utc(datetime.strptime(self.create_date, "%Y-%m-%d %H:%M:%S %z"))
        raise ValueError("createTimestamp: the order has no creation time")


def ecwid_signature(client_secret: str, event_created: str, event_id: str) -> str:
    return hmac_sha256_base64(client_secret.encode(), f"{event_created}.{event_id}".encode())


def _signed_fields(body: bytes) -> tuple[str, str]:
    """``eventCreated`` as Ecwid formats it (an integer) and ``eventId``; InvalidSignature if absent.

    The body is read before anything is verified (the signature covers these two fields only), so the
    read is bounded (``load_json``: depth, NaN/Infinity, digits) and whatever it finds is checked for type.
    """
    try:
        envelope = load_json(body, "the Ecwid event")
        created, event_id = envelope["eventCreated"], envelope["eventId"]
    except (MalformedPayload, TypeError, KeyError) as exc:
        raise InvalidSignature(f"the delivery has no eventCreated and eventId to verify ({exc})") from exc
    if isinstance(created, bool) or not isinstance(created, int | float | str) or not isinstance(event_id, str):
        raise InvalidSignature("eventCreated or eventId has the wrong type")
    if isinstance(created, float) and not created.is_integer():  # 1e400 is inf here; NaN never reaches us
        raise InvalidSignature(f"eventCreated {created!r} is not a Unix time")
    return (str(int(created)) if isinstance(created, int | float) else created.strip()), event_id


def to_order(raw: EcwidOrder, store: Store, currency: str) -> Order:
    code = currency.upper()

    def money(value: float | str) -> Money:
        return Money.parse(value, code)

    lines = tuple(
        LineItem(
            line_id=str(item.id),
            sku=item.sku or f"ecwid-product-{item.product_id or item.id}",
            name=item.name,
            quantity=item.quantity,
            unit_price=money(item.price),
        )
        for item in raw.items
    )
    items_total = (
        money(raw.subtotal) if raw.subtotal is not None else sum((line.subtotal for line in lines), Money.zero(code))
    )
    billing = (raw.billing_person or EcwidPerson()).to_address()
    shipping = raw.shipping_person.to_address() if raw.shipping_person and raw.shipping_person.street else billing
    refunded = money(raw.refunded_amount)
    payment = (raw.payment_status or "").upper()
    fulfillment = (raw.fulfillment_status or "").upper()
    # Ecwid's API takes no capture, refund or void: who holds the money is paid or cash on delivery, nothing else.
    record = platform_payment(paid=payment in PAID_STATUSES, gateway=raw.payment_method or "")
    cancelled = payment in CANCELLED_PAYMENT_STATUSES or fulfillment in CANCELLED_FULFILLMENT_STATUSES
    return Order(
        store_id=store.store_id,
        platform="ecwid",
        external_id=raw.id,
        number=raw.id,  # the id customers see, with the store's prefix/suffix; orderNumber is internal
        currency=code,
        customer=Customer(
            email=raw.email or None,
            name=billing.name or shipping.name,
            external_id=str(raw.customer_id) if raw.customer_id else None,
        ),
        billing_address=billing,
        shipping_address=shipping,
        lines=lines,
        totals=Totals(
            items=items_total,
            shipping=money(raw.shipping_option.shipping_rate if raw.shipping_option else 0),
            tax=money(raw.tax),
            discount=money(raw.discount) + money(raw.coupon_discount),  # discount excludes the coupon
            grand_total=money(raw.total),
        ),
        placed_at=raw.placed_at(),
        source_modified_at=from_unix(raw.update_timestamp),
        # INCOMPLETE is a checkout the customer left on the payment page: not an order to deliver, cash or not.
        paid=payment in PAID_STATUSES
        or (enters_fulfillment(record, False) and not cancelled and payment != "INCOMPLETE"),
        payment=record,
        cancelled=cancelled,
        refunded=refunded if refunded.minor > 0 else None,
        platform_refs={"internal_id": str(raw.internal_id)} if raw.internal_id is not None else {},
        reported_returns=_reported_return(raw, store, lines, refunded if payment in REFUND_STATUSES else None),
    )


def _reported_return(
    raw: EcwidOrder, store: Store, lines: tuple[LineItem, ...], refunded: Money | None
) -> tuple[StoreReturnReport, ...]:
    """``RETURNED``: the whole order came back (Ecwid has no return of its own, so one per order)."""
    if (raw.fulfillment_status or "").upper() != "RETURNED":
        return ()
    if f"{order_key(store.store_id, raw.id)}:{UpdateKind.RETURNED}:" in (raw.private_admin_notes or ""):
        return ()  # our own write-back labelled it: a return we resolved
    report = StoreReturnReport(
        external_id=f"returned-{raw.id}",
        lines=tuple(ReportedLine(line_id=line.line_id, quantity=line.quantity) for line in lines),
        reason="marked RETURNED in Ecwid",
        refunded_minor=refunded.minor if refunded is not None else 0,
    )
    return (report,)


class EcwidInbound:
    name = "ecwid"

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        return None  # Ecwid sends no registration ping

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        created, event_id = _signed_fields(request.body)
        expected = ecwid_signature(credentials.webhook_secret, created, event_id)
        if not same_signature(expected, request.header("x-ecwid-webhook-signature")):
            raise InvalidSignature("X-Ecwid-Webhook-Signature does not match eventCreated.event_id")
        require_fresh(created, now, TOLERANCE_SECONDS, max_age_seconds=RETRY_WINDOW_SECONDS)

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        try:
            envelope = EcwidEvent.model_validate_json(request.body)
        except ValidationError as exc:
            raise MalformedPayload(f"not an Ecwid event: {first_error(exc)}") from exc
        topic = envelope.event_type
        order_id = None
        if topic.startswith("order."):  # entityId names an order only for order events
            named = envelope.data.order_id if envelope.data else None
            order_id = named or (str(envelope.entity_id) if envelope.entity_id is not None else None)

        def event(**fields: Any) -> InboundEvent:
            return InboundEvent(
                platform=self.name,
                topic=topic,
                event_id=envelope.event_id,
                store_identity=str(envelope.store_id),
                external_order_id=order_id,
                **fields,
            )

        if topic.startswith("unfinished_order."):
            return event(ignore_reason="an unfinished order is an abandoned checkout, not an order")
        if topic == "order.deleted":
            return event(ignore_reason="a deleted order can no longer be fetched; its last status stands")
        if topic not in FETCHED_EVENTS:
            return event(ignore_reason=f"event {topic} is not about orders")
        if not order_id:
            raise MalformedPayload(f"Ecwid {topic} names no order: data.orderId and entityId are missing")
        return event(needs_fetch=True)


# --- the REST API -------------------------------------------------------------------------------
class EcwidApi:
    """One store's REST v3 API: ``{base}/api/v3/{storeId}/…`` with ``Authorization: Bearer``."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        if not store.platform_store_id:
            raise PlatformRejected(f"store {store.store_id} has no Ecwid store id (platform_store_id)")
        if not credentials.api_token:
            raise PlatformRejected(f"store {store.store_id} has no Ecwid API token")
        base = (credentials.api_base_url or DEFAULT_API_BASE).rstrip("/")
        self._root = f"{base}/api/v3/{quote(store.platform_store_id.strip(), safe='')}"
        self._headers = {"Authorization": f"Bearer {credentials.api_token}"}
        self._http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self._root}{path}", headers=self._headers, json_body=body)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise PlatformRejected(f"{method} {path} answered something that is not JSON", response.status) from exc

    def currency(self, credentials: StoreCredentials) -> str:
        configured = credentials.extra.get("currency")
        if configured:
            return configured
        profile = self.call("GET", "/profile") or {}
        currency = (profile.get("formatsAndUnits") or {}).get("currency")
        if not isinstance(currency, str) or not currency:
            raise PlatformRejected("the Ecwid store profile names no currency: set credentials.extra.currency")
        return currency


def _order_path(external_order_id: str) -> str:
    if not external_order_id.strip():
        raise OrderInvalid("an empty Ecwid order id")
    return f"/orders/{quote(external_order_id.strip(), safe='')}"


def _read_order(answer: Any, external_order_id: str) -> EcwidOrder:
    try:
        return EcwidOrder.model_validate(answer)
    except ValidationError as exc:
        raise PlatformRejected(f"Ecwid order {external_order_id} cannot be read: {first_error(exc)}") from exc


class EcwidSource:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        api = EcwidApi(self._http, store, credentials)
        raw = _read_order(api.call("GET", _order_path(external_order_id)), external_order_id)
        try:
            return to_order(raw, store, api.currency(credentials))
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise PlatformRejected(f"Ecwid order {external_order_id} cannot be read: {first_error(exc)}") from exc


# What one update changes on the order (the PUT body), or the result when there is nothing to change.
Plan = dict[str, str] | WriteBackResult


class EcwidWriteBack:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        api = EcwidApi(self._http, store, credentials)
        path = _order_path(update.order.external_id)
        current = _read_order(api.call("GET", path), update.order.external_id)
        plan = _PLANS[update.kind](update, current, (current.fulfillment_status or "").upper())
        if isinstance(plan, WriteBackResult):
            return plan
        api.call("PUT", path, plan)
        return WriteBackResult(done=True, reference=plan.get("trackingNumber") or plan.get("fulfillmentStatus"))


def _already(reference: str | None) -> WriteBackResult:
    return WriteBackResult(done=True, already=True, reference=reference)


def _processing(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    if fulfillment != "AWAITING_PROCESSING":  # further along, or closed by the merchant: leave it
        return _already(fulfillment)
    return {"fulfillmentStatus": "PROCESSING"}


def _shipped(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    if not update.tracking_number:
        raise OrderInvalid(f"order {update.order.key}: a shipment write-back needs a tracking number")
    if current.tracking_number == update.tracking_number and fulfillment not in {"AWAITING_PROCESSING", "PROCESSING"}:
        return _already(update.tracking_number)
    if fulfillment in CLOSED_FULFILLMENT_STATUSES:
        raise PlatformRejected(f"Ecwid order {current.id} is {fulfillment}: it will not be shipped", 409)
    plan: dict[str, str] = {"fulfillmentStatus": "SHIPPED", "trackingNumber": update.tracking_number}
    partial = partial_shipment_note(update.order)
    if partial and update.key not in (current.private_admin_notes or ""):
        # Ecwid's fulfillment status is per order, with no per-item shipment: what is missing goes in the notes
        plan["privateAdminNotes"] = "\n".join(filter(None, [current.private_admin_notes, f"{partial} [{update.key}]"]))
    return plan


def _completed(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    plan: dict[str, str] = {}
    # Cash the carrier collected on delivery: the order is paid now, and Ecwid's label is the record of it
    # (``paymentStatus`` is writable on Update order). Only from AWAITING_PAYMENT: any other label is the merchant's.
    cash = update.order.payment.collected is not None
    if cash and (current.payment_status or "").upper() == "AWAITING_PAYMENT":
        plan["paymentStatus"] = "PAID"
    if fulfillment != "DELIVERED":
        if fulfillment in CLOSED_FULFILLMENT_STATUSES:
            raise PlatformRejected(f"Ecwid order {current.id} is {fulfillment}: it was not delivered", 409)
        plan["fulfillmentStatus"] = "DELIVERED"
    return plan or _already(fulfillment)


def _cancelled(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    if fulfillment == "WILL_NOT_DELIVER":
        return _already(fulfillment)
    plan = {"fulfillmentStatus": "WILL_NOT_DELIVER"}
    if (current.payment_status or "").upper() == "AWAITING_PAYMENT":  # no money moved: the label is true
        plan["paymentStatus"] = "CANCELLED"
    return plan


def _refunded(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    notes = current.private_admin_notes or ""
    if update.key in notes:
        return _already(update.key)
    amount = update.amount
    if amount is None or amount.minor <= 0:
        raise OrderInvalid(f"order {update.order.key}: a refund write-back needs a positive amount")
    if amount.currency != update.order.currency:
        raise OrderInvalid(f"order {update.order.key}: refund in {amount.currency}, order in {update.order.currency}")
    refunded_before = Money.parse(current.refunded_amount, amount.currency)
    whole = (refunded_before + amount).minor >= Money.parse(current.total, amount.currency).minor
    line = (
        f"Refund of {amount} due ({update.reason or 'refund'}): refund it through the payment provider, "
        f"Ecwid's API moves no money. [{update.key}]"
    )
    return {
        "paymentStatus": "REFUNDED" if whole else "PARTIALLY_REFUNDED",
        "privateAdminNotes": f"{notes}\n{line}" if notes else line,
    }


def _returned(update: StoreUpdate, current: EcwidOrder, fulfillment: str) -> Plan:
    notes = current.private_admin_notes or ""
    if update.key in notes:
        return _already(update.key)
    line = f"{update.reason or 'Return resolved'} [{update.key}]"
    plan = {"privateAdminNotes": f"{notes}\n{line}" if notes else line}
    if update.order.status is OrderStatus.RETURNED:  # every delivered unit came back: the label is true
        plan["fulfillmentStatus"] = "RETURNED"
    return plan


_PLANS: dict[UpdateKind, Callable[[StoreUpdate, EcwidOrder, str], Plan]] = {
    UpdateKind.PROCESSING: _processing,
    UpdateKind.SHIPPED: _shipped,
    UpdateKind.COMPLETED: _completed,
    UpdateKind.CANCELLED: _cancelled,
    UpdateKind.REFUNDED: _refunded,
    UpdateKind.RETURNED: _returned,
}


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(inbound=EcwidInbound(), write_back=EcwidWriteBack(http), source=EcwidSource(http))


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample delivery whose ``eventCreated`` becomes ``now``, signed again (Ecwid signs time and event id)."""
    stamp = str(int(now))
    body = re.sub(rb'"eventCreated":\d+', f'"eventCreated":{stamp}'.encode(), body, count=1)
    event_id = json.loads(body)["eventId"]
    return body, headers | {"X-Ecwid-Webhook-Signature": ecwid_signature(secret, stamp, event_id)}


SPEC = PlatformSpec(
    name="ecwid",
    title="Ecwid",
    build=build,
    identity_key="ecwid_store_id",
    paid_sample="02_order_updated_paid.json",
    sign_sample=sign_sample,
    signs_timestamp=True,
    max_age_seconds=RETRY_WINDOW_SECONDS,
    payments=NO_PAYMENT_API,  # Ecwid's REST API changes order labels only: it moves no money
)
