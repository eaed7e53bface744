"""WooCommerce webhooks: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret, raw body)).

Woo has no paid/cancelled topics: payment is read from the order's ``status`` (``processing``
and ``completed`` mean paid; ``pending``, ``on-hold``, ``failed`` and drafts do not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from fulfillment.errors import InvalidMoney, InvalidSignature, MalformedPayload
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.store import Store, WebhookRequest

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


def _utc(value: datetime) -> datetime:
    # Woo's *_gmt fields carry no zone designator; they are UTC by definition.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def woocommerce_signature(secret: str, body: bytes) -> str:
    for escaped, plain in _HTML_ENTITIES:  # Woo stores the secret HTML-escaped (woocommerce#21693)
        secret = secret.replace(escaped, plain)
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WooCommerce:
    name = "woocommerce"

    def is_handshake(self, request: WebhookRequest) -> bool:
        return request.body.startswith(b"webhook_id=") and request.header("x-wc-webhook-signature") is None

    def verify(self, request: WebhookRequest, secret: str) -> None:
        received = (request.header("x-wc-webhook-signature") or "").strip()
        expected = woocommerce_signature(secret, request.body)
        if not received or not hmac.compare_digest(expected.encode(), received.encode()):
            raise InvalidSignature("X-WC-Webhook-Signature does not match the body")

    def parse(self, request: WebhookRequest, store: Store) -> Order:
        try:
            woo = WooOrder.model_validate_json(request.body)
            return self._to_order(woo, store)
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise MalformedPayload(f"not a WooCommerce order: {_first_error(exc)}") from exc

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
            placed_at=_utc(woo.date_created_gmt),
            source_modified_at=_utc(woo.date_modified_gmt),
            paid=woo.status in PAID_STATUSES,
            cancelled=woo.status in CANCELLED_STATUSES,
        )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{where}: {error['msg']}"
    return str(exc)
