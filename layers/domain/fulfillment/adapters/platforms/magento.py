"""Magento 2 / Adobe Commerce: Mage-OS Async Events and Adobe I/O Events in, REST (OAuth 1.0a or Bearer) out.

Deliveries, told apart by their signature header:

- Mage-OS Async Events (Open Source): ``x-magento-signature`` = hex HMAC-SHA256(verification token,
  raw body). Body ``{"data": <REST order>}``: the whole order. No event id and no store identity; a
  credit memo (or invoice, shipment) names only its ``order_id``, so that order is fetched.
- Adobe I/O Events (Adobe Commerce): see ``_magento_adobe_io``. ``data.value`` holds the subscribed
  fields; unless they make a whole order, the order is fetched by ``entity_id``.
- Commerce Webhooks (synchronous hooks): never acted on.

Paid means nothing left due: ``total_due`` (``base_total_due``; else ``grand_total`` - ``total_paid``) is zero,
in a ``processing`` or ``complete`` state. The state alone says nothing about money: ``processing`` is also
reached unpaid — an authorize-only payment method (``payment_action`` "authorize": the order is placed in
``processing`` with nothing invoiced) or an order shipped before it is invoiced
(magento2 ``Sales/Api/Data/OrderInterface::getTotalDue``; the order model computes it as grand total - total
paid).
``new``, ``pending_payment``, ``payment_review`` and ``holded`` never start fulfillment (on hold: start nothing);
an event whose fields name no due or paid amount is fetched. ``canceled`` is cancelled; ``closed`` (all refunded) is
refunded ``total_refunded``, not paid, and cancelled too when nothing was shipped. A partial refund
keeps its state and sets ``refunded``.

A fetched order with ``total_refunded`` also lists its credit memos (``GET /V1/creditmemos`` by
``order_id``): each is a reported return, its items with a quantity the goods coming back and its
``grand_total`` the money Magento already refunded; an adjustment-only memo is money only.

A configurable product is a priced parent row plus a zero-priced child row (``parent_item_id``):
it is one line with the parent's item id, name, quantity and price and the child's SKU (the simple
product that is picked). Other children (bundles) fold into their parent line likewise.
Times are UTC without a zone; ``updated_at`` orders snapshots.

Magento is self-hosted: ``credentials.api_base_url`` (the shop's root URL) is required to fetch
and write back. Write-backs, each checked first so a retry creates nothing new:
SHIPPED ``POST /rest/V1/order/{id}/ship`` (items + track, ``carrier_code`` "custom") unless a
shipment of the order has that track number; PROCESSING, COMPLETED and RETURNED (a return resolved)
a private order comment carrying the update's marker unless one has it (Magento completes an invoiced order by itself
once it is shipped; a cash-on-delivery COMPLETED first invoices the order without capture: the cash recorded paid);
CANCELLED ``POST /rest/V1/orders/{id}/cancel`` unless already canceled;
REFUNDED an offline credit memo ``POST /rest/V1/order/{id}/refund`` (all items for the full
amount, else an adjustment refund) unless a credit memo of the order has that marker, or that amount
(not for a return's refund: two returns of equal value are two credit memos).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms._magento_adobe_io import (
    COMMERCE_WEBHOOK_HEADER,
    SIGNATURE_HEADERS,
    AdobeKeyCache,
    adobe_challenge,
    read_cloud_event,
    verify_adobe_io,
    verify_commerce_webhook,
)
from fulfillment.adapters.platforms._oauth1 import OAuth1Credentials, authorization
from fulfillment.adapters.platforms.base import (
    PlatformAdapters,
    PlatformSpec,
    as_utc,
    first_error,
    hmac_sha256_hex,
    load_json,
    same_signature,
)
from fulfillment.errors import (
    InvalidMoney,
    InvalidSignature,
    MalformedPayload,
    PaymentDeclined,
    PlatformRejected,
    RefundNotPossible,
    TransientError,
)
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.capabilities import Capture, PaymentCapabilities, Refund
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.limits import MAX_QUANTITY
from fulfillment.model.order import PaymentRecord, ReportedLine, StoreReturnReport
from fulfillment.model.payment import PaymentResult, enters_fulfillment, platform_payment
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult

PAID_STATES = frozenset({"processing", "complete"})
OPEN_STATES = frozenset({"new", "processing", "complete"})
# Magento's offline payment methods (Magento_OfflinePayments, cash on delivery): no online refund, no capture call.
OFFLINE_METHODS = frozenset(
    {"checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free"}
)  # neither held, in review, cancelled nor closed
CANCELLED_STATE = "canceled"
REFUNDED_STATE = "closed"
MAGEOS_SIGNATURE_HEADER = "x-magento-signature"
SOURCE_OPTION = "magento_source_code"  # Store.options: the MSI source shipments leave from (multi-source shops)

Amount = float | str  # REST numbers; Adobe I/O sends stored strings ("107.9400")
EntityId = int | str


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MagentoAddress(_Lenient):
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: list[str] = Field(default_factory=list)
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    postcode: str | None = None
    country_id: str | None = None
    telephone: str | None = None

    def to_address(self) -> Address:
        return Address(
            name=f"{self.firstname or ''} {self.lastname or ''}".strip(),
            company=self.company or "",
            lines=tuple(line for line in self.street if line.strip()),
            city=self.city or "",
            region=self.region or self.region_code or "",
            postal_code=self.postcode or "",
            country=(self.country_id or "").upper(),
            phone=self.telephone or "",
        )


class MagentoItem(_Lenient):
    item_id: EntityId
    sku: str | None = None
    name: str = ""
    product_id: EntityId | None = None
    product_type: str | None = None
    qty_ordered: Amount
    qty_shipped: Amount = 0
    price: Amount = 0
    parent_item_id: EntityId | None = None


class _Shipping(_Lenient):
    address: MagentoAddress | None = None


class _ShippingAssignment(_Lenient):
    shipping: _Shipping = Field(default_factory=_Shipping)


class _Extensions(_Lenient):
    shipping_assignments: list[_ShippingAssignment] = Field(default_factory=list)


class MagentoPayment(_Lenient):
    """``OrderPaymentInterface``: the method code and, for an authorize-only method, what it authorized."""

    method: str = ""  # "checkmo", "cashondelivery", "braintree", "payflowpro", …
    amount_authorized: Amount | None = None
    last_trans_id: str | None = None  # the gateway's transaction id of the authorization


class MagentoOrder(_Lenient):
    entity_id: EntityId
    increment_id: str
    state: str
    order_currency_code: str
    grand_total: Amount
    subtotal: Amount | None = None
    tax_amount: Amount | None = None
    shipping_amount: Amount | None = None
    discount_amount: Amount | None = None
    total_refunded: Amount | None = None
    total_due: Amount | None = None
    base_total_due: Amount | None = None
    total_paid: Amount | None = None
    payment: MagentoPayment = Field(default_factory=MagentoPayment)
    customer_id: EntityId | None = None
    customer_email: str | None = None
    customer_firstname: str | None = None
    customer_lastname: str | None = None
    created_at: datetime
    updated_at: datetime
    items: list[MagentoItem]
    billing_address: MagentoAddress
    extension_attributes: _Extensions = Field(default_factory=_Extensions)


def to_order(magento: MagentoOrder, store: Store) -> Order:
    currency = magento.order_currency_code.upper()
    money = amounts_in(currency)
    lines = tuple(_line(item, children, money) for item, children in _top_level_items(magento.items))
    billing = magento.billing_address.to_address()
    assignments = magento.extension_attributes.shipping_assignments
    shipping_address = assignments[0].shipping.address if assignments else None
    refunded = money(magento.total_refunded) if magento.total_refunded is not None else None
    nothing_shipped = all(_quantity(item.qty_shipped, allow_zero=True) == 0 for item in magento.items)
    customer_name = f"{magento.customer_firstname or ''} {magento.customer_lastname or ''}".strip()
    payment = _payment(magento, money)
    return Order(
        store_id=store.store_id,
        platform="magento",
        external_id=str(magento.entity_id),
        number=magento.increment_id,
        currency=currency,
        customer=Customer(
            email=magento.customer_email or None,
            name=customer_name or billing.name,
            external_id=str(magento.customer_id) if magento.customer_id is not None else None,
        ),
        billing_address=billing,
        shipping_address=shipping_address.to_address() if shipping_address is not None else billing,
        lines=lines,
        totals=Totals(
            items=money(magento.subtotal) if magento.subtotal is not None else _sum(lines, currency),
            shipping=money(magento.shipping_amount),
            tax=money(magento.tax_amount),
            discount=Money(minor=abs(money(magento.discount_amount).minor), currency=currency),  # Magento: negative
            grand_total=money(magento.grand_total),
        ),
        placed_at=as_utc(magento.created_at),
        source_modified_at=as_utc(magento.updated_at),
        paid=enters_fulfillment(payment, paid_by_status(magento, money)) and magento.state in OPEN_STATES,
        payment=payment,
        cancelled=magento.state == CANCELLED_STATE or (magento.state == REFUNDED_STATE and nothing_shipped),
        refunded=refunded if refunded is not None and refunded.minor > 0 else None,
        platform_refs={"increment_id": magento.increment_id},
    )


def amounts_in(currency: str) -> Callable[[Amount | None], Money]:
    """Magento's amounts (numbers, numeric strings, or absent for nothing) as Money in ``currency``."""

    def money(value: Amount | None) -> Money:
        return Money.parse(value if value is not None else 0, currency)

    return money


def nothing_due(magento: MagentoOrder, money: Callable[[Amount | None], Money]) -> bool | None:
    """Whether the order has nothing left to pay (module docstring); None when its fields do not say."""
    due = magento.total_due if magento.total_due is not None else magento.base_total_due
    if due is not None:
        return money(due).minor <= 0
    if magento.total_paid is not None:
        return money(magento.grand_total).minor - money(magento.total_paid).minor <= 0
    return None


def paid_by_status(magento: MagentoOrder, money: Callable[[Amount | None], Money]) -> bool:
    return magento.state in PAID_STATES and nothing_due(magento, money) is True


def _payment(magento: MagentoOrder, money: Callable[[Amount | None], Money]) -> PaymentRecord:
    """An authorize-only method leaves the order ``processing`` with nothing invoiced (``total_due`` the whole
    total, ``payment.amount_authorized`` set): captured by an invoice with ``capture: true``. A cash on delivery
    order stays ``new`` until it is invoiced on delivery, and is fulfilled all the same.
    https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-create-invoice/"""
    due = magento.total_due if magento.total_due is not None else magento.base_total_due
    left = money(due) if due is not None else money(magento.grand_total) - money(magento.total_paid)
    authorized = magento.payment.amount_authorized
    holds = (
        magento.state in PAID_STATES
        and nothing_due(magento, money) is False
        and authorized is not None
        and money(authorized).minor > 0
    )
    return platform_payment(
        paid=paid_by_status(magento, money),
        gateway=magento.payment.method,
        authorized=left if holds else None,
        authorization_ids=(magento.payment.last_trans_id or "",),
    )


def _top_level_items(items: list[MagentoItem]) -> list[tuple[MagentoItem, list[MagentoItem]]]:
    ids = {str(item.item_id) for item in items}
    children: dict[str, list[MagentoItem]] = {}
    for item in items:
        if item.parent_item_id is not None and str(item.parent_item_id) in ids:
            children.setdefault(str(item.parent_item_id), []).append(item)
    return [
        (item, children.get(str(item.item_id), []))
        for item in items
        if item.parent_item_id is None or str(item.parent_item_id) not in ids
    ]


def _line(item: MagentoItem, children: list[MagentoItem], money: Callable[[Amount | None], Money]) -> LineItem:
    sku = item.sku
    if item.product_type == "configurable" and len(children) == 1 and children[0].sku:
        sku = children[0].sku  # the simple product that is picked
    return LineItem(
        line_id=str(item.item_id),
        sku=sku or f"magento-product-{item.product_id}",
        name=item.name,
        quantity=_quantity(item.qty_ordered),
        unit_price=money(item.price),
    )


def _quantity(value: Amount, *, allow_zero: bool = False) -> int:
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {value!r}") from exc
    if not amount.is_finite() or amount > MAX_QUANTITY:  # before int(): "1e999999999" would be a billion digits
        raise ValueError(f"not a quantity of at most {MAX_QUANTITY} (MAX_QUANTITY): {value!r}")
    if amount != amount.to_integral_value() or amount < (0 if allow_zero else 1):
        raise ValueError(f"not a whole positive quantity: {value!r}")
    return int(amount)


def _sum(lines: tuple[LineItem, ...], currency: str) -> Money:
    return sum((line.subtotal for line in lines), Money.zero(currency))


def _order_or_malformed(value: dict[str, Any], store: Store) -> Order:
    try:
        return to_order(MagentoOrder.model_validate(value), store)
    except (ValidationError, InvalidMoney, ValueError) as exc:
        raise MalformedPayload(f"not a Magento order: {first_error(exc)}") from exc


def _document_kind(value: dict[str, Any]) -> str:
    """What an entity with an ``order_id`` is, from its fields (Mage-OS sends no event name)."""
    if "creditmemo_status" in value or "adjustment_positive" in value:
        return "creditmemo"
    if "tracks" in value or "packages" in value:
        return "shipment"
    if "can_void_flag" in value:
        return "invoice"
    return "document"


def _entity_id(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()):
        raise MalformedPayload(f"{where}: not a Magento entity id: {value!r}")
    return text


class MagentoInbound:
    name = "magento"

    def __init__(self, http: HttpClient) -> None:
        self._adobe_keys = AdobeKeyCache(http)

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        return adobe_challenge(request)

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        scheme = _scheme(request)
        if scheme == "mageos":
            expected = hmac_sha256_hex(credentials.webhook_secret.encode(), request.body)
            if not same_signature(expected, (request.header(MAGEOS_SIGNATURE_HEADER) or "").lower()):
                raise InvalidSignature(f"{MAGEOS_SIGNATURE_HEADER} does not match the body")
        elif scheme == "adobe_io":
            verify_adobe_io(request, credentials, now, self._adobe_keys)
        elif scheme == "commerce_webhook":
            verify_commerce_webhook(request, credentials)
        else:
            raise InvalidSignature(f"no {MAGEOS_SIGNATURE_HEADER} or x-adobe-digital-signature header")

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        scheme = _scheme(request)
        if scheme == "adobe_io":
            return self._read_adobe_io(request, store)
        if scheme == "commerce_webhook":
            return InboundEvent(
                platform=self.name,
                topic="commerce_webhook",
                event_id=request.header("x-adobe-commerce-request-id"),
                ignore_reason="Commerce Webhooks are synchronous hooks, not used for intake (use Adobe I/O Events)",
            )
        data = _json_object(request.body, "not a Mage-OS async event").get("data")
        if not isinstance(data, dict):
            raise MalformedPayload('not a Mage-OS async event: no "data" object')
        if "order_id" in data:
            kind = _document_kind(data)
            return self._fetch(f"sales.{kind}", _entity_id(data["order_id"], "data.order_id"), None, None)
        if "increment_id" not in data:
            return InboundEvent(
                platform=self.name, topic="sales.other", ignore_reason="the event carries no order or order document"
            )
        order_id = _entity_id(data.get("entity_id"), "data.entity_id")
        order = _order_or_malformed(data, store)
        return InboundEvent(platform=self.name, topic="sales.order", external_order_id=order_id, order=order)

    def _read_adobe_io(self, request: WebhookRequest, store: Store) -> InboundEvent:
        event = read_cloud_event(request.body)
        event_id = request.header("x-adobe-event-id") or event.event_id or event.id
        identity = event.data.source
        value = event.data.value
        if "order" not in event.topic:
            return InboundEvent(
                platform=self.name,
                topic=event.topic,
                event_id=event_id,
                store_identity=identity,
                ignore_reason=f"event {event.topic} is not about orders",
            )
        if "order_id" in value:
            return self._fetch(event.topic, _entity_id(value["order_id"], "data.value.order_id"), event_id, identity)
        order_id = _entity_id(value.get("entity_id"), "data.value.entity_id")
        try:
            whole = "items" in value and any(field in value for field in ("total_due", "base_total_due", "total_paid"))
            order = to_order(MagentoOrder.model_validate(value), store) if whole else None
        except (ValidationError, InvalidMoney, ValueError):
            order = None  # subscribed field lists vary: whatever is not a whole order (with its due) is fetched
        if order is None:
            return self._fetch(event.topic, order_id, event_id, identity)
        return InboundEvent(
            platform=self.name,
            topic=event.topic,
            external_order_id=order_id,
            event_id=event_id,
            store_identity=identity,
            order=order,
        )

    def _fetch(self, topic: str, order_id: str, event_id: str | None, identity: str | None) -> InboundEvent:
        return InboundEvent(
            platform=self.name,
            topic=topic,
            external_order_id=order_id,
            event_id=event_id,
            store_identity=identity,
            needs_fetch=True,
        )


def oauth_credentials(credentials: StoreCredentials) -> OAuth1Credentials | None:
    """The integration's OAuth 1.0a credentials, when all four are registered (``MagentoApi``)."""
    token_secret = credentials.extra.get("access_token_secret")
    if not (token_secret and credentials.api_key and credentials.api_secret and credentials.api_token):
        return None
    return OAuth1Credentials(credentials.api_key, credentials.api_secret, credentials.api_token, token_secret)


def _scheme(request: WebhookRequest) -> str | None:
    """One answer for verify and read, so a delivery is never verified one way and read another."""
    if any(request.header(name) for name in SIGNATURE_HEADERS):
        return "adobe_io"
    if request.header(MAGEOS_SIGNATURE_HEADER):
        return "mageos"
    if request.header(COMMERCE_WEBHOOK_HEADER):
        return "commerce_webhook"
    return None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    document = load_json(body, what)
    if not isinstance(document, dict):
        raise MalformedPayload(f"{what}: body is not a JSON object")
    return document


class MagentoApi:
    """The shop's REST API with an integration's credentials.

    An integration's access token works as a standalone ``Bearer`` token only where the merchant enabled
    ``oauth/consumer/enable_integration_as_bearer`` (off by default since 2.4.4: Stores › Configuration ›
    Services › OAuth › Consumer Settings; otherwise Magento answers 401 "The consumer isn't authorized to access
    %resources"). So when the integration's four credentials are given — consumer key (``api_key``), consumer
    secret (``api_secret``), access token (``api_token``) and access token secret (``extra["access_token_secret"]``)
    — every request is signed with OAuth 1.0a HMAC-SHA256 (``_oauth1``), which works on every install; an access
    token alone is sent as ``Bearer``.
    """

    def __init__(self, http: HttpClient, credentials: StoreCredentials) -> None:
        if not credentials.api_base_url or not credentials.api_token:
            raise PlatformRejected("Magento is self-hosted: the store's api_base_url and api_token are required")
        self._http = http
        # A POST is sent once: one whose answer was lost may have created a shipment or credit memo,
        # and only a fresh apply() (which looks first) may try again.
        self._http_once = dataclasses.replace(http, attempts=1)
        self._base = credentials.api_base_url.rstrip("/") + "/rest/V1"
        self._oauth = oauth_credentials(credentials)
        self._bearer = f"Bearer {credentials.api_token}"

    def _headers(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": authorization(method, url, self._oauth) if self._oauth else self._bearer}

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        url = self._base + path + (f"?{urlencode(query)}" if query else "")
        return self._http.request("GET", url, headers=self._headers("GET", url)).json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        url = self._base + path
        return self._http_once.request("POST", url, headers=self._headers("POST", url), json_body=body).json()

    def order(self, order_id: str) -> dict[str, Any]:
        document = self.get(f"/orders/{quote(order_id, safe='')}")
        if not isinstance(document, dict):
            raise PlatformRejected(f"Magento answered something other than an order for {order_id}")
        return document

    def list_for_order(self, resource: str, order_id: str) -> list[dict[str, Any]]:
        prefix = "searchCriteria[filter_groups][0][filters][0]"
        query = {f"{prefix}[field]": "order_id", f"{prefix}[value]": order_id, f"{prefix}[condition_type]": "eq"}
        document = self.get(f"/{resource}", query)
        items = document.get("items") if isinstance(document, dict) else None
        return [item for item in items or [] if isinstance(item, dict)]


class MagentoSource:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        api = MagentoApi(self._http, credentials)
        document = api.order(external_order_id)
        try:
            order = to_order(MagentoOrder.model_validate(document), store)
            if order.refunded is None:
                return order
            memos = [
                MagentoCreditMemo.model_validate(memo) for memo in api.list_for_order("creditmemos", external_order_id)
            ]
            return order.model_copy(update={"reported_returns": tuple(_reported(memo, order) for memo in memos)})
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise PlatformRejected(f"Magento order {external_order_id} cannot be read: {first_error(exc)}") from exc


class MagentoCreditMemoItem(_Lenient):
    order_item_id: EntityId
    qty: Amount = 0


class MagentoCreditMemoComment(_Lenient):
    comment: str | None = None


class MagentoCreditMemo(_Lenient):
    entity_id: EntityId
    grand_total: Amount = 0
    items: list[MagentoCreditMemoItem] = Field(default_factory=list)
    comments: list[MagentoCreditMemoComment] = Field(default_factory=list)


def _reported(memo: MagentoCreditMemo, order: Order) -> StoreReturnReport:
    """A credit memo: its items with a quantity are goods coming back (a configurable's child row is left out:
    the line is its parent); an adjustment-only memo is money only."""
    line_ids = {line.line_id for line in order.lines}
    lines = tuple(
        ReportedLine(line_id=str(item.order_item_id), quantity=_quantity(item.qty))
        for item in memo.items
        if str(item.order_item_id) in line_ids and _quantity(item.qty, allow_zero=True) > 0
    )
    return StoreReturnReport(
        external_id=f"creditmemo-{memo.entity_id}",
        lines=lines,
        reason=" ".join(comment.comment for comment in memo.comments if comment.comment),
        refunded_minor=Money.parse(memo.grand_total, order.currency).minor,
    )


class MagentoWriteBack:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        api = MagentoApi(self._http, credentials)
        order_id = _entity_id(update.order.external_id, "order.external_id")
        marker = f"[fulfillment:{update.key}]"
        match update.kind:
            case UpdateKind.SHIPPED:
                return self._ship(api, order_id, update, store.options.get(SOURCE_OPTION))
            case UpdateKind.CANCELLED:
                return self._cancel(api, order_id)
            case UpdateKind.REFUNDED:
                return self._refund(api, order_id, update, marker)
            case UpdateKind.PROCESSING:
                text = "Accepted for fulfillment" + (f": {update.reason}" if update.reason else ".")
                return self._comment(api, order_id, f"{text} {marker}", marker)
            case UpdateKind.COMPLETED:
                self._invoice_cash(api, order_id, update)
                text = "Delivered to the customer" + (f": {update.reason}" if update.reason else ".")
                return self._comment(api, order_id, f"{text} {marker}", marker)
            case UpdateKind.RETURNED:
                text = update.reason or "Return resolved."
                return self._comment(api, order_id, f"{text} {marker}", marker)

    @staticmethod
    def _ship(api: MagentoApi, order_id: str, update: StoreUpdate, source_code: str | None) -> WriteBackResult:
        if not update.tracking_number:
            raise PlatformRejected("a Magento shipment needs a tracking number")
        for shipment in api.list_for_order("shipments", order_id):
            tracks = [track for track in shipment.get("tracks") or [] if isinstance(track, dict)]
            if any(str(track.get("track_number")) == update.tracking_number for track in tracks):
                return WriteBackResult(done=True, already=True, reference=str(shipment.get("entity_id")))
        body: dict[str, Any] = {
            "items": _shipped_items(update),  # only what left the warehouse: Magento keeps the rest to ship
            "notify": True,
            "tracks": [
                {
                    "track_number": update.tracking_number,
                    "title": update.carrier or "Carrier",
                    "carrier_code": "custom",
                }
            ],
        }
        if source_code:
            # Multi-Source Inventory: the source the goods left from. magento/inventory InventoryShipping's
            # SourceDeductionProcessor deducts from the shipment's extension_attributes.source_code and falls back to
            # the default source only in single-source mode; ShipOrder takes it in arguments.extension_attributes.
            body["arguments"] = {"extension_attributes": {"source_code": source_code}}
        shipment_id = api.post(f"/order/{order_id}/ship", body)
        return WriteBackResult(done=True, reference=str(shipment_id))

    @staticmethod
    def _cancel(api: MagentoApi, order_id: str) -> WriteBackResult:
        state = api.order(order_id).get("state")
        if state == CANCELLED_STATE:
            return WriteBackResult(done=True, already=True)
        if state == REFUNDED_STATE:  # refunded in full by a credit memo: closed, nothing left to cancel
            return WriteBackResult(done=True, already=True, reference="closed")
        if api.post(f"/orders/{order_id}/cancel", {}) is not True:
            # Magento cannot cancel an order that is fully invoiced or shipped: that needs a refund.
            raise PlatformRejected(f"Magento refused to cancel order {order_id} (invoiced or shipped?)", status=200)
        return WriteBackResult(done=True)

    @staticmethod
    def _refund(
        api: MagentoApi, order_id: str, update: StoreUpdate, marker: str, *, invoice_id: str | None = None
    ) -> WriteBackResult:
        order = update.order
        amount = update.amount or order.totals.grand_total
        if amount.currency != order.currency:
            raise PlatformRejected(f"refund in {amount.currency} for an order in {order.currency}")
        for memo in api.list_for_order("creditmemos", order_id):
            comments = " ".join(str(c.get("comment")) for c in memo.get("comments") or [] if isinstance(c, dict))
            # A credit memo of the same amount made in the admin counts, unless ours names what it is for
            # (a return's refund: two returns of equal value are two credit memos).
            same_amount = not update.reference and _money_or_none(memo.get("grand_total"), order.currency) == amount
            if marker in comments or same_amount:
                return WriteBackResult(done=True, already=True, reference=str(memo.get("entity_id")))
        full = amount == order.totals.grand_total
        body: dict[str, Any] = {
            "items": _items(update, full=full),
            "notify": True,
            "appendComment": False,  # the marker stays on the credit memo, out of the customer's email
            "comment": {"comment": f"Refund {amount}. {marker}", "is_visible_on_front": 0},
        }
        if not full:  # an adjustment refund of exactly the amount: no items, no shipping
            body["arguments"] = {
                "shipping_amount": 0,
                "adjustment_positive": float(amount.to_decimal()),
                "adjustment_negative": 0,
            }
        if invoice_id is not None:  # online: the payment method pays it back against the invoice it captured
            body["isOnline"] = True
            memo_id = api.post(f"/invoice/{quote(invoice_id, safe='')}/refund", body)
        else:
            memo_id = api.post(f"/order/{order_id}/refund", body)
        return WriteBackResult(done=True, reference=str(memo_id))

    @staticmethod
    def _invoice_cash(api: MagentoApi, order_id: str, update: StoreUpdate) -> None:
        """Cash the carrier collected on delivery, recorded on Magento: an invoice without capture
        (``POST /V1/order/{id}/invoice`` ``capture: false``), which Magento marks paid without asking the method
        (``Invoice\\PayOperation::execute``: ``$invoice->pay()``), so the order can complete (Magento completes an
        order once it is invoiced and shipped). Nothing due (a retry, or the merchant invoiced it) asks nothing.
        https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-create-invoice/ ("paid offline")"""
        order = update.order
        if order.payment.collected is None:
            return  # not cash on delivery, or nothing collected
        if nothing_due(MagentoOrder.model_validate(api.order(order_id)), amounts_in(order.currency)) is not False:
            return
        api.post(f"/order/{order_id}/invoice", {"capture": False, "notify": True})

    @staticmethod
    def _comment(api: MagentoApi, order_id: str, text: str, marker: str) -> WriteBackResult:
        current = api.order(order_id)
        histories = current.get("status_histories") or []
        if any(isinstance(entry, dict) and marker in str(entry.get("comment") or "") for entry in histories):
            return WriteBackResult(done=True, already=True)
        api.post(
            f"/orders/{order_id}/comments",
            {
                "statusHistory": {
                    "comment": text,
                    "status": current.get("status"),  # unchanged: a comment must not move the order
                    "is_customer_notified": 0,
                    "is_visible_on_front": 0,
                    "parent_id": int(order_id),
                }
            },
        )
        return WriteBackResult(done=True)


def _items(update: StoreUpdate, *, full: bool) -> list[dict[str, int]]:
    """Order item ids with their whole quantity, or with 0 (an explicit empty list means all items)."""
    items = []
    for line in update.order.lines:
        if not (line.line_id.isascii() and line.line_id.isdigit()):
            raise PlatformRejected(f"line {line.line_id!r} is not a Magento order item id")
        items.append({"order_item_id": int(line.line_id), "qty": line.quantity if full else 0})
    return items


def _shipped_items(update: StoreUpdate) -> list[dict[str, int]]:
    """The shipment's items: each order item with the units shipped (``Order.shipped_quantities``), none left out
    entirely; a partial shipment leaves the order ``processing`` with the rest to ship, as Magento does."""
    shipped = update.order.shipped_quantities()
    items = [item for item in _items(update, full=True) if shipped.get(str(item["order_item_id"]), 0) > 0]
    return [{**item, "qty": shipped[str(item["order_item_id"])]} for item in items]


def _money_or_none(value: Any, currency: str) -> Money | None:
    try:
        return Money.parse(value, currency) if isinstance(value, int | float | str) else None
    except InvalidMoney:
        return None


class MagentoPayments:
    """Captures an authorization Magento holds by invoicing the order with ``capture: true``
    (``POST /V1/order/{id}/invoice``; Magento calls the payment method's capture, online), before shipping. What is
    left to pay (``total_due``) is read first: nothing due means invoiced before (a retry, or the merchant), and
    is ``already``. The invoice POST is sent once (``MagentoApi.post``): an answer that was lost is found by that
    read on the retry. ACL: ``Magento_Sales::invoice``.
    https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-create-invoice/"""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        api = MagentoApi(self._http, credentials)
        current = MagentoOrder.model_validate(api.order(order.external_id))
        money = amounts_in(order.currency)
        if nothing_due(current, money) is not False:
            return PaymentResult(status="already", amount=money(current.total_paid), reference="invoiced")
        try:
            invoice = api.post(f"/order/{quote(order.external_id, safe='')}/invoice", {"capture": True, "notify": True})
        except PlatformRejected as refused:
            if refused.status == 400 and "does not allow an invoice" not in refused.body:
                raise PaymentDeclined(
                    f"Magento could not capture order {order.number}: {refused.body}"[:500]
                ) from refused
            raise
        return PaymentResult(status="captured", amount=amount, reference=f"invoice-{invoice}")

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        """An online credit memo against the order's invoice (``POST /V1/invoice/{invoiceId}/refund``,
        ``isOnline: true``): the method refunds what it captured. A method that cannot refund online (check/money
        order, bank transfer, cash on delivery, …) gets an offline credit memo (``POST /V1/order/{id}/refund``),
        which records it in Magento but moves no money: ``RefundNotPossible``. A memo carrying the key is there.
        https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-issue-refund/"""
        api = MagentoApi(self._http, credentials)
        update = StoreUpdate(
            kind=UpdateKind.REFUNDED, order=order, amount=amount, reason=reason, reference=idempotency_key
        )
        marker = f"[fulfillment:{update.key}]"  # as the write-back marks what it creates
        method = str((api.order(order.external_id).get("payment") or {}).get("method") or order.payment.gateway)
        if method in OFFLINE_METHODS:
            MagentoWriteBack._refund(api, order.external_id, update, marker)
            raise RefundNotPossible(
                f"Magento's {method} method cannot refund online: recorded as an offline credit memo"
            )
        invoices = api.list_for_order("invoices", order.external_id)
        if not invoices:
            raise PlatformRejected(f"Magento order {order.number} has no invoice: nothing was captured to refund", 422)
        done = MagentoWriteBack._refund(
            api, order.external_id, update, marker, invoice_id=str(invoices[0].get("entity_id"))
        )
        return PaymentResult(
            status="already" if done.already else "refunded", amount=amount, reference=done.reference or ""
        )

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        """Cancelling an order nothing was invoiced from releases its authorization (``Order::cancel()`` calls the
        method's void); Magento refuses (``false``) once it is invoiced."""
        done = MagentoWriteBack._cancel(MagentoApi(self._http, credentials), order.external_id)
        held = order.payment.authorized or order.totals.grand_total
        return PaymentResult(status="already" if done.already else "voided", amount=held, reference=order.external_id)


def check(http: HttpClient) -> Callable[[Store, StoreCredentials], list[str]]:
    """Onboarding: one authenticated read, then the MSI sources. A 401 to a bare token is the Bearer setting."""

    def run(store: Store, credentials: StoreCredentials) -> list[str]:
        try:
            MagentoSource(http).fetch_order(store, credentials, "999999999")
        except PlatformRejected as refused:
            if refused.status == 401 and oauth_credentials(credentials) is None:
                return [
                    "Magento refused the integration's access token as a Bearer token: from 2.4.4 "
                    "oauth/consumer/enable_integration_as_bearer is off by default. Register the integration's "
                    "consumer key (api_key), consumer secret (api_secret) and access token secret "
                    "(extra.access_token_secret) so every call is OAuth 1.0a-signed, or enable that setting "
                    "(Stores > Configuration > Services > OAuth > Consumer Settings)"
                ]
            if refused.status != 404:
                return [f"Magento refused the registered credentials ({refused.status}): {refused}"]
        except TransientError as unreachable:
            return [f"Magento could not be reached: {unreachable}"]
        return _source_findings(MagentoApi(http, credentials), store)

    return run


def _source_findings(api: MagentoApi, store: Store) -> list[str]:
    """Multi-Source Inventory with several sources needs the source shipments leave from (store option)."""
    try:
        answer = api.get("/inventory/sources", {"searchCriteria[pageSize]": "100"})
    except PlatformRejected:
        return []  # no MSI (the module is off): shipments take the default source
    items = answer.get("items") if isinstance(answer, dict) else None
    codes = [str(item.get("source_code")) for item in items or [] if isinstance(item, dict)]
    if len(codes) > 1 and store.options.get(SOURCE_OPTION) not in codes:
        return [
            f"the shop has {len(codes)} inventory sources ({', '.join(codes)}): set the store option "
            f"{SOURCE_OPTION} to the one shipments leave from"
        ]
    return []


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(
        inbound=MagentoInbound(http),
        write_back=MagentoWriteBack(http),
        source=MagentoSource(http),
        payments=MagentoPayments(http),
        check=check(http),
    )


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample Mage-OS Async Events delivery signed again (the body alone: nothing is re-stamped)."""
    return body, headers | {MAGEOS_SIGNATURE_HEADER: hmac_sha256_hex(secret.encode(), body)}


SPEC = PlatformSpec(
    name="magento",
    title="Magento",
    build=build,
    identity_key="platform_store_id",
    paid_sample="mageos_02_sales.order.updated_invoiced.json",
    sign_sample=sign_sample,
    payments=PaymentCapabilities(
        # POST /V1/order/{id}/invoice {"capture": true} captures online; POST /V1/invoice/{id}/refund is an online
        # credit memo where the method refunds online (else offline: recorded only); cancelling an uninvoiced
        # order voids its authorization, an invoiced one cannot be cancelled (Order::canCancel()).
        # https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-create-invoice/
        capture=Capture.WHOLE,
        capture_before_shipment=True,
        refund=Refund.ONLINE_IF_GATEWAY,
        void=True,
        how="invoice with capture: true (before shipping); online credit memo where the method can; cancel voids",
    ),
)
