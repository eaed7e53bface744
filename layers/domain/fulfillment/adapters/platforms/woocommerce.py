"""WooCommerce webhooks: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret, raw body)).

Woo has no paid/cancelled topics: payment is read from the order's ``status`` (``processing``
and ``completed`` mean paid; ``pending``, ``on-hold``, ``failed`` and drafts do not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformAdapters, as_utc, first_error, same_signature
from fulfillment.errors import InvalidMoney, InvalidSignature, MalformedPayload
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

PAID_STATUSES = frozenset({"processing", "completed"})
CANCELLED_STATUSES = frozenset({"cancelled", "refunded", "trash"})
_HTML_ENTITIES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&#039;", "'"),
    ("&#39;", "'"),
    ("&#x27;", "'"),
    ("&amp;", "&"),
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WooAddress(_Lenient):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str | None = None
    phone: str = ""

    def to_address(self) -> Address:
        return Address(
            name=f"{self.first_name} {self.last_name}".strip(),
            company=self.company,
            lines=tuple(line for line in (self.address_1, self.address_2) if line),
            city=self.city,
            region=self.state,
            postal_code=self.postcode,
            country=self.country.upper(),
            phone=self.phone,
        )


class WooLineItem(_Lenient):
    id: int
    name: str
    quantity: int
    sku: str = ""
    product_id: int = 0
    variation_id: int = 0
    subtotal: str = "0"
    total: str = "0"
    price: float | str = 0


class WooOrder(_Lenient):
    id: int
    number: str = ""
    status: str
    currency: str
    customer_id: int = 0
    date_created_gmt: datetime
    date_modified_gmt: datetime
    date_paid_gmt: datetime | None = None
    total: str
    total_tax: str = "0"
    shipping_total: str = "0"
    discount_total: str = "0"
    billing: WooAddress
    shipping: WooAddress
    line_items: list[WooLineItem]


def woocommerce_signature(secret: str, body: bytes) -> str:
    for escaped, plain in _HTML_ENTITIES:  # Woo stores the secret HTML-escaped (woocommerce#21693)
        secret = secret.replace(escaped, plain)
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WooCommerceInbound:
    name = "woocommerce"

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        # Registration ping: form body ``webhook_id=N`` and no signature; anything but 200 is an error to Woo.
        if request.body.startswith(b"webhook_id=") and request.header("x-wc-webhook-signature") is None:
            return HandshakeReply()
        return None

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        expected = woocommerce_signature(credentials.webhook_secret, request.body)
        if not same_signature(expected, request.header("x-wc-webhook-signature")):
            raise InvalidSignature("X-WC-Webhook-Signature does not match the body")

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        topic = request.header("x-wc-webhook-topic") or "order.updated"
        source = request.header("x-wc-webhook-source")
        if not topic.startswith("order."):
            return InboundEvent(
                platform=self.name,
                topic=topic,
                store_identity=source,
                ignore_reason=f"topic {topic} is not about orders",
            )
        if topic == "order.deleted":
            order_id = _order_id(request.body)
            return InboundEvent(
                platform=self.name,
                topic=topic,
                external_order_id=order_id,
                store_identity=source,
                ignore_reason="a trashed order carries no snapshot; its last status stands",
            )
        try:
            order = self._to_order(WooOrder.model_validate_json(request.body), store)
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise MalformedPayload(f"not a WooCommerce order: {first_error(exc)}") from exc
        return InboundEvent(
            platform=self.name, topic=topic, external_order_id=order.external_id, store_identity=source, order=order
        )

    @staticmethod
    def _to_order(woo: WooOrder, store: Store) -> Order:
        currency = woo.currency.upper()

        def money(value: str | float) -> Money:
            return Money.parse(value, currency)

        lines = tuple(
            LineItem(
                line_id=str(item.id),
                sku=item.sku or f"woo-product-{item.variation_id or item.product_id}",
                name=item.name,
                quantity=item.quantity,
                unit_price=money(item.price),
            )
            for item in woo.line_items
        )
        items_total = sum((money(item.subtotal) for item in woo.line_items), Money.zero(currency))
        billing = woo.billing.to_address()
        return Order(
            store_id=store.store_id,
            platform="woocommerce",
            external_id=str(woo.id),
            number=woo.number or str(woo.id),
            currency=currency,
            customer=Customer(
                email=woo.billing.email or None,
                name=billing.name,
                external_id=str(woo.customer_id) if woo.customer_id else None,
            ),
            billing_address=billing,
            shipping_address=woo.shipping.to_address() if woo.shipping.address_1 else billing,
            lines=lines,
            totals=Totals(
                items=items_total,
                shipping=money(woo.shipping_total),
                tax=money(woo.total_tax),
                discount=money(woo.discount_total),
                grand_total=money(woo.total),
            ),
            placed_at=as_utc(woo.date_created_gmt),
            source_modified_at=as_utc(woo.date_modified_gmt),
            paid=woo.status in PAID_STATUSES,
            cancelled=woo.status in CANCELLED_STATUSES,
        )


def _order_id(body: bytes) -> str:
    try:
        return str(WooDeleted.model_validate_json(body).id)
    except ValidationError as exc:
        raise MalformedPayload(f"not a WooCommerce deletion: {first_error(exc)}") from exc


class WooDeleted(_Lenient):
    id: int


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(inbound=WooCommerceInbound())
