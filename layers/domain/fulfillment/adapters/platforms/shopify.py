"""Shopify: fat REST-order webhooks; orders fetched and written back over the GraphQL Admin API.

Verification: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(app client secret, raw body)), compared
in constant time; an empty body never verifies. Shopify signs no timestamp, so there is **no replay
window**: a captured delivery verifies forever. Replays are absorbed by the ``X-Shopify-Event-Id``
dedupe and by ``updated_at`` ordering (an older snapshot never overwrites a newer one). Headers are
not signed: the topic only chooses how the body is read, the shop domain is compared with the store.

Topics: ``orders/create|updated|paid|cancelled|fulfilled|partially_fulfilled`` carry the whole order.
``refunds/create`` carries one refund, not the order: it asks for a fetch of ``order_id`` (the order's
``refunds[]`` then holds every refund so far). Anything else is acknowledged and ignored.

Status rule (``financial_status``, ``cancelled_at``):
- paid: ``paid``, ``partially_refunded``, ``refunded``. ``authorized`` enters fulfillment as an authorization
  we capture through Shopify (``PaymentMethod.PLATFORM_AUTHORIZED``, Shopify's manual-capture flow); ``pending``
  with the Cash on Delivery gateway as cash on delivery. Not paid: other ``pending``, ``partially_paid``,
  ``voided``, ``expired``.
- cancelled: ``cancelled_at`` set, or nothing left to collect (``refunded``, ``voided``).
- refunded: the sum of successful ``refund`` transactions in ``refunds[]``.
- reported returns: each of ``refunds[]`` (id ``refund-<id>``): its ``refund_line_items`` are goods coming
  back (a return is opened once the order is delivered), its refund transactions money Shopify already
  paid back; a refund without line items is money only.

Protected customer data may arrive as ``null`` (email, names, addresses): read as empty, never refused.

Write-back (``POST /admin/api/{version}/graphql.json``, ``X-Shopify-Access-Token``), each after one
``WriteBackState`` query of the order:
- SHIPPED: ``fulfillmentCreate`` over the open fulfillment orders with ``trackingInfo{number,company,url}``,
  unless a fulfillment already carries the tracking number (or nothing is left open to fulfil).
- COMPLETED / PROCESSING: ``tagsAdd`` of ``fulfillment-completed`` / ``fulfillment-started`` unless
  tagged; Shopify has no completed state beyond the fulfillment itself. A cash-on-delivery order's COMPLETED
  first records the cash the carrier collected (``orderMarkAsPaid``) unless nothing is outstanding.
- CANCELLED: ``orderCancel`` (no refund: that is a REFUNDED update; restock) unless ``cancelledAt`` is set.
- REFUNDED: ``refundCreate`` of ``update.amount`` against the captured payment, the note marked with
  the update key, unless a refund note already carries that key.
- RETURNED (a return resolved): ``orderUpdate`` appending a line with the update key to the order's ``note``
  (the closest documented field to a staff note), unless the note already carries that key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import (
    PlatformAdapters,
    PlatformSpec,
    as_utc,
    first_error,
    hmac_sha256_base64,
    same_signature,
)
from fulfillment.errors import (
    InvalidMoney,
    InvalidSignature,
    MalformedPayload,
    OrderInvalid,
    PaymentDeclined,
    PlatformRejected,
    TransientError,
)
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.capabilities import Capture, PaymentCapabilities, Refund
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.order import PaymentRecord, ReportedLine, StoreReturnReport
from fulfillment.model.payment import (
    PaymentMethod,
    PaymentResult,
    enters_fulfillment,
    is_cash_on_delivery,
    platform_payment,
)
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult

# Shopify supports each stable version for at least 12 months ("About Shopify API versioning",
# shopify.dev/docs/api/usage/versioning); 2026-10 is supported until at least 2026-10 + 12 months.
API_VERSION = "2026-10"
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
REFUND_TOPIC = "refunds/create"
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
CANCELLED_STATUSES = frozenset({"refunded", "voided"})
TAGS = {UpdateKind.PROCESSING: "fulfillment-started", UpdateKind.COMPLETED: "fulfillment-completed"}
FULFILLABLE_ORDER_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})
THROTTLE_RETRY_SECONDS = 1.0  # GraphQL cost throttling answers 200; the bucket refills within seconds
_GID_ORDER = re.compile(r"(?:gid://shopify/Order/)?(\d+)")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ShopMoney(_Lenient):
    amount: str


class MoneySet(_Lenient):
    shop_money: ShopMoney


class ShopifyAddress(_Lenient):
    """Every field may be null: protected customer data is withheld from unapproved apps."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    phone: str | None = None

    def full_name(self) -> str:
        return (self.name or f"{self.first_name or ''} {self.last_name or ''}").strip()

    def to_address(self) -> Address:
        return Address(
            name=self.full_name(),
            company=self.company or "",
            lines=tuple(line.strip() for line in (self.address1, self.address2) if line and line.strip()),
            city=self.city or "",
            region=self.province_code or self.province or "",
            postal_code=self.zip or "",
            country=(self.country_code or "").upper(),
            phone=self.phone or "",
        )


class ShopifyCustomer(_Lenient):
    id: int | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class ShopifyLineItem(_Lenient):
    id: int
    name: str | None = None
    title: str | None = None
    sku: str | None = None
    quantity: int
    price: str
    variant_id: int | None = None
    product_id: int | None = None


class ShopifyShippingLine(_Lenient):
    price: str = "0"


class ShopifyTransaction(_Lenient):
    kind: str
    status: str | None = None
    amount: str


class ShopifyRefundLine(_Lenient):
    line_item_id: int
    quantity: int


class ShopifyRefund(_Lenient):
    id: int | None = None
    note: str | None = None
    transactions: list[ShopifyTransaction] = []
    refund_line_items: list[ShopifyRefundLine] = []

    def refunded(self, money: Callable[[str], Money], currency: str) -> Money:
        """The successful ``refund`` transactions: money that went back to the customer."""
        return sum(
            (
                money(transaction.amount)
                for transaction in self.transactions
                if transaction.kind == "refund" and (transaction.status or "success") == "success"
            ),
            Money.zero(currency),
        )


class RefundDelivery(ShopifyRefund):
    """A ``refunds/create`` body: one refund of the order ``order_id``."""

    id: int
    order_id: int


class ShopifyOrder(_Lenient):
    id: int
    admin_graphql_api_id: str | None = None
    name: str | None = None
    order_number: int | None = None
    email: str | None = None
    contact_email: str | None = None
    currency: str
    financial_status: str | None = None
    cancelled_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    total_price: str
    total_tax: str = "0"
    total_discounts: str = "0"
    total_line_items_price: str | None = None
    total_shipping_price_set: MoneySet | None = None
    shipping_lines: list[ShopifyShippingLine] = []
    billing_address: ShopifyAddress | None = None
    shipping_address: ShopifyAddress | None = None
    customer: ShopifyCustomer | None = None
    line_items: list[ShopifyLineItem]
    refunds: list[ShopifyRefund] = []
    gateway: str | None = None  # deprecated in the REST Order, still sent: the first of payment_gateway_names
    payment_gateway_names: list[str] = []
    total_outstanding: str | None = None  # what is left to capture or collect


def shopify_signature(secret: str, body: bytes) -> str:
    return hmac_sha256_base64(secret.encode(), body)


def to_order(shop: ShopifyOrder, store: Store) -> Order:
    """Map a REST Order (webhook body or ``GET orders/{id}.json``) in the shop currency."""
    currency = shop.currency.upper()

    def money(value: str) -> Money:
        return Money.parse(value, currency)

    lines = tuple(
        LineItem(
            line_id=str(item.id),
            sku=item.sku or f"shopify-variant-{item.variant_id or item.id}",
            name=item.name or item.title or "",
            quantity=item.quantity,
            unit_price=money(item.price),
        )
        for item in shop.line_items
    )
    items_total = (
        money(shop.total_line_items_price)
        if shop.total_line_items_price is not None
        else sum((line.subtotal for line in lines), Money.zero(currency))
    )
    shipping = (
        money(shop.total_shipping_price_set.shop_money.amount)
        if shop.total_shipping_price_set
        else sum((money(line.price) for line in shop.shipping_lines), Money.zero(currency))
    )
    refunded = sum((refund.refunded(money, currency) for refund in shop.refunds), Money.zero(currency))
    billing = (shop.billing_address or ShopifyAddress()).to_address()
    shipping_address = shop.shipping_address.to_address() if shop.shipping_address else billing
    customer = shop.customer or ShopifyCustomer()
    status = shop.financial_status or ""
    payment = _payment(shop, money, status)
    return Order(
        store_id=store.store_id,
        platform="shopify",
        external_id=str(shop.id),
        number=shop.name or (f"#{shop.order_number}" if shop.order_number else str(shop.id)),
        currency=currency,
        customer=Customer(
            email=shop.email or shop.contact_email or customer.email or None,
            name=f"{customer.first_name or ''} {customer.last_name or ''}".strip() or billing.name,
            external_id=str(customer.id) if customer.id else None,
        ),
        billing_address=billing,
        shipping_address=shipping_address,
        lines=lines,
        totals=Totals(
            items=items_total,
            shipping=shipping,
            tax=money(shop.total_tax),
            discount=money(shop.total_discounts),
            grand_total=money(shop.total_price),
        ),
        placed_at=as_utc(shop.created_at),
        source_modified_at=as_utc(shop.updated_at),
        paid=enters_fulfillment(payment, status in PAID_STATUSES),
        cancelled=shop.cancelled_at is not None or status in CANCELLED_STATUSES,
        refunded=refunded if refunded.minor > 0 else None,
        payment=payment,
        platform_refs={"admin_graphql_api_id": shop.admin_graphql_api_id or order_gid(str(shop.id))},
        reported_returns=tuple(_reported(refund, money, currency) for refund in shop.refunds if refund.id),
    )


def _payment(shop: ShopifyOrder, money: Callable[[str], Money], status: str) -> PaymentRecord:
    """``financial_status`` ``authorized``: Shopify holds an authorization we capture (``orderCapture``) for the
    outstanding total; the authorization's transaction id and expiry are not in the REST Order, so the capture
    reads them from the order's transactions. ``pending`` with the COD gateway is cash on delivery.
    https://shopify.dev/docs/api/admin-rest/latest/resources/order (financial_status, payment_gateway_names)"""
    names = ([shop.gateway] if shop.gateway else []) + [n for n in shop.payment_gateway_names if n != shop.gateway]
    cod = next((name for name in names if is_cash_on_delivery(name)), None)
    if cod and status in PAID_STATUSES:  # the merchant marked the cash received: nothing left to collect
        return PaymentRecord(method=str(PaymentMethod.PREPAID), gateway=cod)
    if cod:  # wherever it stands: a gift card may come first in payment_gateway_names and pay part of it
        record = platform_payment(paid=False, gateway=cod)
        outstanding = money(shop.total_outstanding) if shop.total_outstanding is not None else None
        if status == "partially_paid" and outstanding is not None and outstanding.minor > 0:
            record.due_on_delivery = outstanding  # the carrier collects only what the gift card left
        return record
    gateway = next(iter(names), "")
    authorized = None
    if status == "authorized":
        outstanding = money(shop.total_outstanding or "0")
        authorized = outstanding if outstanding.minor > 0 else money(shop.total_price)
    return platform_payment(paid=status in PAID_STATUSES, gateway=gateway, authorized=authorized)


def _reported(refund: ShopifyRefund, money: Callable[[str], Money], currency: str) -> StoreReturnReport:
    """A refund with ``refund_line_items`` names goods (a return); one without moved money only."""
    quantities: dict[str, int] = {}
    for line in refund.refund_line_items:
        if line.quantity > 0:
            quantities[str(line.line_item_id)] = quantities.get(str(line.line_item_id), 0) + line.quantity
    return StoreReturnReport(
        external_id=f"refund-{refund.id}",
        lines=tuple(ReportedLine(line_id=line_id, quantity=qty) for line_id, qty in quantities.items()),
        reason=refund.note or "",
        refunded_minor=refund.refunded(money, currency).minor,
    )


def order_gid(external_id: str) -> str:
    return f"gid://shopify/Order/{external_id}"


class ShopifyInbound:
    name = "shopify"

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        return None  # Shopify sends no unsigned ping; admin "test notifications" are signed deliveries

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        # ``now`` is unused: Shopify signs no timestamp (see the module docstring).
        if not request.body:
            raise InvalidSignature("a Shopify delivery without a body is never signed")
        received = request.header("x-shopify-hmac-sha256") or request.header("shopify-hmac-sha256")
        if not same_signature(shopify_signature(credentials.webhook_secret, request.body), received):
            raise InvalidSignature("X-Shopify-Hmac-Sha256 does not match the body")

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        topic = (request.header("x-shopify-topic") or request.header("shopify-topic") or "").strip()
        if not topic:
            raise MalformedPayload("X-Shopify-Topic is missing")
        event_id = (
            request.header("x-shopify-event-id")
            or request.header("shopify-event-id")
            or request.header("x-shopify-webhook-id")
            or request.header("shopify-webhook-id")
        )
        domain = request.header("x-shopify-shop-domain") or request.header("shopify-shop-domain")

        def event(**fields: Any) -> InboundEvent:
            identity = domain.strip().lower() if domain else None
            return InboundEvent(platform=self.name, topic=topic, event_id=event_id, store_identity=identity, **fields)

        if topic == REFUND_TOPIC:
            try:
                refund = RefundDelivery.model_validate_json(request.body)
            except ValidationError as exc:
                raise MalformedPayload(f"not a Shopify refund: {first_error(exc)}") from exc
            return event(external_order_id=str(refund.order_id), needs_fetch=True)
        if topic not in ORDER_TOPICS:
            return event(ignore_reason=f"topic {topic} does not change what we fulfil")
        try:
            order = to_order(ShopifyOrder.model_validate_json(request.body), store)
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise MalformedPayload(f"not a Shopify order: {first_error(exc)}") from exc
        return event(external_order_id=order.external_id, order=order)


# --- the Admin API ------------------------------------------------------------------------------
class ShopifyApi:
    """One shop's Admin API: ``{base}/admin/api/{version}/…`` with ``X-Shopify-Access-Token``."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        if not credentials.api_token:
            raise PlatformRejected(f"store {store.store_id} has no Shopify access token")
        if credentials.api_base_url:
            base = credentials.api_base_url.rstrip("/")
        elif store.platform_store_id:
            base = f"https://{store.platform_store_id.strip().lower()}"
        else:
            raise PlatformRejected(f"store {store.store_id} has no shop domain (platform_store_id)")
        self._root = f"{base}/admin/api/{API_VERSION}"
        self._headers = {"X-Shopify-Access-Token": credentials.api_token}
        self._http = http

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer; errors become TransientError (throttled) or PlatformRejected."""
        response = self._http.request(
            "POST",
            f"{self._root}/graphql.json",
            headers=self._headers,
            json_body={"query": query, "variables": variables},
        )
        answer = response.json() or {}
        errors = answer.get("errors") or []
        if errors:
            if any((error.get("extensions") or {}).get("code") == "THROTTLED" for error in errors):
                raise TransientError("Shopify GraphQL throttled the request", THROTTLE_RETRY_SECONDS)
            raise PlatformRejected(
                f"Shopify GraphQL refused: {errors[0].get('message', errors[0])}", response.status, str(errors)
            )
        data: dict[str, Any] = answer.get("data") or {}
        return data

    def mutate(self, query: str, field: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run a mutation; its ``userErrors`` (or ``orderCancelUserErrors``) become PlatformRejected."""
        payload: dict[str, Any] = self.graphql(query, variables).get(field) or {}
        for key, problems in payload.items():
            if key.endswith("serErrors") and problems:
                raise PlatformRejected(f"Shopify {field} refused: {problems[0].get('message')}", 422, str(problems))
        return payload


def _numeric_id(external_order_id: str) -> str:
    match = _GID_ORDER.fullmatch(external_order_id.strip())
    if match is None:
        raise OrderInvalid(f"{external_order_id!r} is not a Shopify order id")
    return match.group(1)


ORDER_FETCH = """
query OrderFetch($id: ID!) {
  order(id: $id) {
    id
    legacyResourceId
    name
    email
    currencyCode
    displayFinancialStatus
    cancelledAt
    createdAt
    updatedAt
    paymentGatewayNames
    totalPriceSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } }
    totalOutstandingSet { shopMoney { amount } }
    billingAddress { ...Address }
    shippingAddress { ...Address }
    customer { legacyResourceId firstName lastName email }
    lineItems(first: 250) {
      nodes { id sku name title quantity originalUnitPriceSet { shopMoney { amount } } variant { legacyResourceId } }
    }
    refunds(first: 50) {
      id
      note
      refundLineItems(first: 250) { nodes { quantity lineItem { id } } }
      transactions(first: 50) { nodes { kind status amountSet { shopMoney { amount } } } }
    }
  }
}
fragment Address on MailingAddress {
  name firstName lastName company address1 address2 city province provinceCode zip countryCodeV2 phone
}
"""


def rest_order_from_graphql(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Order`` (``ORDER_FETCH``) in the REST Order's shape the webhooks carry, so one mapping
    (``to_order``) reads both. Field correspondences: shopify.dev admin-graphql ``Order``, ``MailingAddress``,
    ``LineItem``, ``Refund``; ``displayFinancialStatus`` is the REST ``financial_status`` upper-cased."""

    def amount(field: str, source: dict[str, Any] | None = None) -> str | None:
        value = ((source if source is not None else node).get(field) or {}).get("shopMoney") or {}
        return str(value["amount"]) if value.get("amount") is not None else None

    def legacy(gid: object) -> int:
        return int(str(gid).rsplit("/", 1)[-1])

    def address(value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return {
            "name": value.get("name"),
            "first_name": value.get("firstName"),
            "last_name": value.get("lastName"),
            "company": value.get("company"),
            "address1": value.get("address1"),
            "address2": value.get("address2"),
            "city": value.get("city"),
            "province": value.get("province"),
            "province_code": value.get("provinceCode"),
            "zip": value.get("zip"),
            "country_code": value.get("countryCodeV2"),
            "phone": value.get("phone"),
        }

    customer = node.get("customer")
    gateways = [str(name) for name in node.get("paymentGatewayNames") or []]
    shipping = amount("totalShippingPriceSet")
    return {
        "id": int(node.get("legacyResourceId") or legacy(node["id"])),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "currency": node.get("currencyCode"),
        "financial_status": str(node.get("displayFinancialStatus") or "").lower() or None,
        "cancelled_at": node.get("cancelledAt"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "gateway": gateways[0] if gateways else None,
        "payment_gateway_names": gateways,
        "total_price": amount("totalPriceSet"),
        "total_tax": amount("totalTaxSet") or "0",
        "total_discounts": amount("totalDiscountsSet") or "0",
        "total_outstanding": amount("totalOutstandingSet"),
        "total_shipping_price_set": {"shop_money": {"amount": shipping}} if shipping is not None else None,
        "billing_address": address(node.get("billingAddress")),
        "shipping_address": address(node.get("shippingAddress")),
        "customer": {
            "id": int(customer["legacyResourceId"]),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
            "email": customer.get("email"),
        }
        if customer and customer.get("legacyResourceId")
        else None,
        "line_items": [
            {
                "id": legacy(item["id"]),
                "sku": item.get("sku"),
                "name": item.get("name"),
                "title": item.get("title"),
                "quantity": item.get("quantity"),
                "price": amount("originalUnitPriceSet", item),
                "variant_id": int((item.get("variant") or {}).get("legacyResourceId") or 0) or None,
            }
            for item in (node.get("lineItems") or {}).get("nodes") or []
        ],
        "refunds": [
            {
                "id": legacy(refund["id"]),
                "note": refund.get("note"),
                "refund_line_items": [
                    {"line_item_id": legacy((line.get("lineItem") or {}).get("id")), "quantity": line.get("quantity")}
                    for line in (refund.get("refundLineItems") or {}).get("nodes") or []
                ],
                "transactions": [
                    {
                        "kind": str(transaction.get("kind") or "").lower(),
                        "status": str(transaction.get("status") or "").lower(),
                        "amount": amount("amountSet", transaction),
                    }
                    for transaction in (refund.get("transactions") or {}).get("nodes") or []
                ],
            }
            for refund in node.get("refunds") or []
        ],
    }


class ShopifySource:
    """The order over GraphQL (``ORDER_FETCH``): the REST Admin API is legacy since 2024-10-01 and public apps
    must use GraphQL only (shopify.dev, "About REST Admin API versioning"); read in the REST shape webhooks carry."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        api = ShopifyApi(self._http, store, credentials)
        node = api.graphql(ORDER_FETCH, {"id": order_gid(_numeric_id(external_order_id))}).get("order")
        if not node:
            raise PlatformRejected(f"Shopify has no order {external_order_id}", 404)
        try:
            return to_order(ShopifyOrder.model_validate(rest_order_from_graphql(node)), store)
        except (ValidationError, InvalidMoney, ValueError, KeyError, TypeError) as exc:
            raise PlatformRejected(f"Shopify order {external_order_id} cannot be read: {first_error(exc)}") from exc


WRITE_BACK_STATE = """
query WriteBackState($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    displayFinancialStatus
    totalOutstandingSet { shopMoney { amount } }
    tags
    note
    fulfillments(first: 50) {
      id
      status
      trackingInfo(first: 10) { number company url }
      fulfillmentLineItems(first: 100) { nodes { quantity lineItem { id } } }
    }
    fulfillmentOrders(first: 50) {
      nodes {
        id
        status
        assignedLocation { location { id } }
        lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
    refunds(first: 50) { id note }
    transactions(first: 50) { id kind status gateway }
  }
}
"""
FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""
ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput,
                     $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock,
              notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""
REFUND_CREATE = """
mutation RefundCreate($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id note }
    userErrors { field message }
  }
}
"""
ORDER_UPDATE = """
mutation OrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}
"""
ORDER_MARK_AS_PAID = """
mutation OrderMarkAsPaid($input: OrderMarkAsPaidInput!) {
  orderMarkAsPaid(input: $input) {
    order { id displayFinancialStatus }
    userErrors { field message }
  }
}
"""
TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""


class ShopifyWriteBack:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        api = ShopifyApi(self._http, store, credentials)
        gid = update.order.platform_refs.get("admin_graphql_api_id") or order_gid(update.order.external_id)
        state = api.graphql(WRITE_BACK_STATE, {"id": gid}).get("order")
        if not state:
            raise PlatformRejected(f"Shopify has no order {gid}", 404)
        match update.kind:
            case UpdateKind.SHIPPED:
                return self._ship(api, state, update)
            case UpdateKind.CANCELLED:
                return self._cancel(api, state, update)
            case UpdateKind.REFUNDED:
                return self._refund(api, state, update)
            case UpdateKind.COMPLETED:
                self._mark_cash_paid(api, state, update)
                return self._tag(api, state, TAGS[update.kind])
            case UpdateKind.PROCESSING:
                return self._tag(api, state, TAGS[update.kind])
            case UpdateKind.RETURNED:
                return self._note(api, state, update)

    @staticmethod
    def _ship(api: ShopifyApi, state: dict[str, Any], update: StoreUpdate) -> WriteBackResult:
        """One ``fulfillmentCreate`` per location: it "creates a fulfillment for one or many fulfillment orders. The
        fulfillment orders are associated with the same order and are assigned to the same location" (shopify.dev,
        mutations/fulfillmentCreate). Each names only the units shipped (``Order.shipped_quantities``): a
        short line leaves its remainder open on the fulfillment order. A retry creates nothing twice: what
        fulfillments with this tracking number already took is subtracted (``_still_to_ship``)."""
        number = update.tracking_number
        if not number:
            raise OrderInvalid(f"order {update.order.key}: a shipment write-back needs a tracking number")
        fulfillments = state.get("fulfillments") or []
        open_orders = [
            node
            for node in (state.get("fulfillmentOrders") or {}).get("nodes") or []
            if node.get("status") in FULFILLABLE_ORDER_STATUSES
        ]
        already = [f for f in fulfillments if any(i.get("number") == number for i in f.get("trackingInfo") or [])]
        groups = _by_location(open_orders, _still_to_ship(update, already))
        if not groups:
            if fulfillments:  # done by an earlier attempt, or fulfilled elsewhere (by the merchant)
                return WriteBackResult(done=True, already=True, reference=(already or fulfillments)[-1].get("id"))
            raise PlatformRejected(f"Shopify order {state.get('id')} has no open fulfillment order", 422)
        tracking = {"number": number, "company": update.carrier, "url": update.tracking_url}
        created: list[str] = []
        for items in groups:
            answer = api.mutate(
                FULFILLMENT_CREATE,
                "fulfillmentCreate",
                {
                    "fulfillment": {
                        "lineItemsByFulfillmentOrder": items,
                        "trackingInfo": {key: value for key, value in tracking.items() if value},
                        "notifyCustomer": True,
                    }
                },
            )
            created.append(str((answer.get("fulfillment") or {}).get("id")))
        return WriteBackResult(done=True, reference=",".join(created))

    @staticmethod
    def _cancel(api: ShopifyApi, state: dict[str, Any], update: StoreUpdate) -> WriteBackResult:
        if state.get("cancelledAt"):
            return WriteBackResult(done=True, already=True)
        result = api.mutate(
            ORDER_CANCEL,
            "orderCancel",
            {
                "orderId": state["id"],
                "reason": "OTHER",
                # money goes back through a REFUNDED update, with its own idempotency key. refundMethod replaces
                # the deprecated refund argument from 2025-07 (changelog "Order cancellation now supports refunds
                # to store credit"); the refund semantics are the payment write-back's.
                "refundMethod": {"originalPaymentMethodsRefund": False},
                "restock": True,
                "notifyCustomer": True,
                "staffNote": (update.reason or f"cancelled by fulfillment [{update.key}]")[:255],
            },
        )
        return WriteBackResult(done=True, reference=(result.get("job") or {}).get("id"))

    @staticmethod
    def _refund(api: ShopifyApi, state: dict[str, Any], update: StoreUpdate) -> WriteBackResult:
        amount = update.amount
        if amount is None or amount.minor <= 0:
            raise OrderInvalid(f"order {update.order.key}: a refund write-back needs a positive amount")
        if amount.currency != update.order.currency:
            raise OrderInvalid(
                f"order {update.order.key}: refund in {amount.currency}, order in {update.order.currency}"
            )
        for refund in state.get("refunds") or []:
            if update.key in (refund.get("note") or ""):
                return WriteBackResult(done=True, already=True, reference=refund.get("id"))
        payment = next(
            (
                transaction
                for transaction in state.get("transactions") or []
                if transaction.get("kind") in PAYMENT_KINDS and transaction.get("status") == "SUCCESS"
            ),
            None,
        )
        if payment is None:
            raise PlatformRejected(f"Shopify order {state['id']} has no captured payment to refund", 422)
        created = api.mutate(
            REFUND_CREATE,
            "refundCreate",
            {
                "input": {
                    "orderId": state["id"],
                    "note": f"{update.reason or 'Refund'} [{update.key}]",
                    "notify": True,
                    "transactions": [
                        {
                            "orderId": state["id"],
                            "parentId": payment["id"],
                            "gateway": payment.get("gateway"),
                            "kind": "REFUND",
                            "amount": _decimal_text(amount),
                        }
                    ],
                },
                # Mandatory from 2026-04 ("Making idempotency mandatory for inventory adjustments and refund
                # mutations"): the update's key, so a resent refundCreate is answered with the refund it made.
                "idempotencyKey": update.key,
            },
        )
        return WriteBackResult(done=True, reference=(created.get("refund") or {}).get("id"))

    @staticmethod
    def _note(api: ShopifyApi, state: dict[str, Any], update: StoreUpdate) -> WriteBackResult:
        """A line appended to the order's note: ``orderUpdate`` replaces the note, so the old text is sent back."""
        note = state.get("note") or ""
        if update.key in note:
            return WriteBackResult(done=True, already=True)
        line = f"{update.reason or 'Return resolved'} [{update.key}]"
        api.mutate(
            ORDER_UPDATE, "orderUpdate", {"input": {"id": state["id"], "note": f"{note}\n{line}" if note else line}}
        )
        return WriteBackResult(done=True)

    @staticmethod
    def _mark_cash_paid(api: ShopifyApi, state: dict[str, Any], update: StoreUpdate) -> None:
        """Cash the carrier collected on delivery, recorded on Shopify: ``orderMarkAsPaid`` "marks an order as paid
        by recording a payment transaction for the outstanding amount ... orders created with manual payment
        methods (cash on delivery ...)"; it refuses an order with nothing outstanding or already PAID, so that is
        read first (a retry, or the merchant marked it). Needs ``write_orders`` and the staff permission
        ``mark_orders_as_paid``. https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderMarkAsPaid"""
        if update.order.payment.collected is None:
            return  # not cash on delivery, or nothing collected: nothing to record
        outstanding = ((state.get("totalOutstandingSet") or {}).get("shopMoney") or {}).get("amount") or "0"
        if state.get("displayFinancialStatus") == "PAID" or Decimal(str(outstanding)) <= 0:
            return
        api.mutate(ORDER_MARK_AS_PAID, "orderMarkAsPaid", {"input": {"id": state["id"]}})

    @staticmethod
    def _tag(api: ShopifyApi, state: dict[str, Any], tag: str) -> WriteBackResult:
        if tag in (state.get("tags") or []):
            return WriteBackResult(done=True, already=True, reference=tag)
        api.mutate(TAGS_ADD, "tagsAdd", {"id": state["id"], "tags": [tag]})
        return WriteBackResult(done=True, reference=tag)


def _still_to_ship(update: StoreUpdate, fulfillments: list[dict[str, Any]]) -> dict[str, int]:
    """Units per Shopify line item gid this shipment still has to report: what we shipped of each line
    (``Order.shipped_quantities``) less what fulfillments carrying its tracking number already took (an earlier
    attempt), so a retry sends only the rest, and nothing once all is sent."""
    taken: dict[str, int] = {}
    for fulfillment in fulfillments:
        for item in (fulfillment.get("fulfillmentLineItems") or {}).get("nodes") or []:
            line = str((item.get("lineItem") or {}).get("id") or "")
            taken[line] = taken.get(line, 0) + int(item.get("quantity") or 0)
    wanted = {f"gid://shopify/LineItem/{line_id}": qty for line_id, qty in update.order.shipped_quantities().items()}
    return {line: qty - taken.get(line, 0) for line, qty in wanted.items() if qty > taken.get(line, 0)}


def _by_location(open_orders: list[dict[str, Any]], to_ship: dict[str, int]) -> list[list[dict[str, Any]]]:
    """``lineItemsByFulfillmentOrder`` per assigned location: each fulfillment order with the line items (and
    quantities) of this shipment it holds, the fulfillment orders of one location in one call."""
    left = dict(to_ship)
    groups: dict[str, list[dict[str, Any]]] = {}
    for node in open_orders:
        items = []
        for item in (node.get("lineItems") or {}).get("nodes") or []:
            line = str((item.get("lineItem") or {}).get("id") or "")
            quantity = min(left.get(line, 0), int(item.get("remainingQuantity") or 0))
            if quantity > 0:
                items.append({"id": item["id"], "quantity": quantity})
                left[line] -= quantity
        if items:
            location = str(((node.get("assignedLocation") or {}).get("location") or {}).get("id") or "")
            groups.setdefault(location, []).append(
                {"fulfillmentOrderId": node["id"], "fulfillmentOrderLineItems": items}
            )
    return list(groups.values())


ORDER_PAYMENTS = """
query OrderPayments($id: ID!) {
  order(id: $id) {
    id
    transactions(first: 50) {
      id kind status gateway authorizationExpiresAt
      parentTransaction { id }
      amountSet { shopMoney { amount currencyCode } }
    }
  }
}
"""
ORDER_CAPTURE = """
mutation OrderCapture($input: OrderCaptureInput!) {
  orderCapture(input: $input) {
    transaction { id kind status amountSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""


class ShopifyPayments:
    """Captures an authorization Shopify holds: ``orderCapture`` against its AUTHORIZATION transaction (the parent),
    ``finalCapture: true`` so an uncaptured rest is released (Shopify Payments multi-capture). Before capturing,
    the order's transactions are read: a successful CAPTURE of that parent means a retry, answered ``already``.
    https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderCapture (scope ``write_orders``, and the
    staff permission to capture payments); transactions:
    https://shopify.dev/docs/api/admin-graphql/latest/objects/OrderTransaction"""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        api = ShopifyApi(self._http, store, credentials)
        gid = order.platform_refs.get("admin_graphql_api_id") or order_gid(order.external_id)
        state = api.graphql(ORDER_PAYMENTS, {"id": gid}).get("order")
        if not state:
            raise PlatformRejected(f"Shopify has no order {gid}", 404)
        transactions = state.get("transactions") or []
        succeeded = [t for t in transactions if t.get("status") == "SUCCESS"]
        for transaction in succeeded:
            if transaction.get("kind") in PAYMENT_KINDS:  # captured before (a retry), or paid at checkout
                return PaymentResult(
                    status="already", amount=_shop_money(transaction, order), reference=transaction["id"]
                )
        parent = next((t for t in succeeded if t.get("kind") == "AUTHORIZATION"), None)
        if parent is None:
            raise PlatformRejected(f"Shopify order {gid} has no authorization to capture", 422)
        captured = api.mutate(
            ORDER_CAPTURE,
            "orderCapture",
            {
                "input": {
                    "id": gid,
                    "parentTransactionId": parent["id"],
                    "amount": _decimal_text(amount),
                    "currency": amount.currency,
                    "finalCapture": True,
                }
            },
        )
        transaction = captured.get("transaction") or {}
        if transaction.get("status") != "SUCCESS":  # FAILURE / ERROR: the gateway declined the capture
            raise PaymentDeclined(f"Shopify declined the capture of {amount} on order {gid}", "capture_failed")
        return PaymentResult(status="captured", amount=_shop_money(transaction, order), reference=transaction["id"])

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        """``refundCreate`` to the original payment transaction, ``@idempotent`` on the key and its note marked
        with it (a refund carrying the mark is ``already``).
        https://shopify.dev/docs/api/admin-graphql/latest/mutations/refundCreate"""
        api = ShopifyApi(self._http, store, credentials)
        state = _write_back_state(api, order)
        update = StoreUpdate(
            kind=UpdateKind.REFUNDED, order=order, amount=amount, reason=reason, reference=idempotency_key
        )
        done = ShopifyWriteBack._refund(api, state, update)
        return PaymentResult(
            status="already" if done.already else "refunded", amount=amount, reference=done.reference or ""
        )

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        """Cancelling the order with a refund to the original methods releases its authorizations ("authorized
        payments are voided", orderCancel); a cancelled order is ``already``.
        https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderCancel"""
        api = ShopifyApi(self._http, store, credentials)
        state = _write_back_state(api, order)
        held = order.payment.authorized or order.totals.grand_total
        if state.get("cancelledAt"):
            return PaymentResult(status="already", amount=held, reference=str(state["id"]))
        result = api.mutate(
            ORDER_CANCEL,
            "orderCancel",
            {
                "orderId": state["id"],
                "reason": "OTHER",
                "refundMethod": {"originalPaymentMethodsRefund": True},
                "restock": True,
                "notifyCustomer": True,
                "staffNote": f"cancelled by fulfillment: authorization released [{idempotency_key}]"[:255],
            },
        )
        return PaymentResult(status="voided", amount=held, reference=str((result.get("job") or {}).get("id") or ""))


def _write_back_state(api: ShopifyApi, order: Order) -> dict[str, Any]:
    gid = order.platform_refs.get("admin_graphql_api_id") or order_gid(order.external_id)
    state: dict[str, Any] | None = api.graphql(WRITE_BACK_STATE, {"id": gid}).get("order")
    if not state:
        raise PlatformRejected(f"Shopify has no order {gid}", 404)
    return state


def _shop_money(transaction: dict[str, Any], order: Order) -> Money:
    shop_money = ((transaction.get("amountSet") or {}).get("shopMoney")) or {}
    return Money.parse(str(shop_money.get("amount") or "0"), str(shop_money.get("currencyCode") or order.currency))


def _decimal_text(amount: Money) -> str:
    value: Decimal = amount.to_decimal()
    return f"{value:f}"


ACCESS_SCOPES = "query AccessScopes { currentAppInstallation { accessScopes { handle } } }"
# What the write-back and fetch call: orders (fetch, tagsAdd, orderUpdate, orderCancel, refundCreate) and
# fulfillmentCreate on the shop's own locations' fulfillment orders (shopify.dev, mutations/fulfillmentCreate:
# write_merchant_managed_fulfillment_orders among the scopes it takes). A write scope implies its read.
REQUIRED_SCOPES = ("write_orders", "write_merchant_managed_fulfillment_orders")


def check(http: HttpClient) -> Callable[[Store, StoreCredentials], list[str]]:
    """Onboarding: the app installation's access scopes (currentAppInstallation.accessScopes) hold what we call."""

    def run(store: Store, credentials: StoreCredentials) -> list[str]:
        try:
            data = ShopifyApi(http, store, credentials).graphql(ACCESS_SCOPES, {})
        except PlatformRejected as refused:
            return [f"Shopify refused the registered credentials ({refused.status}): {refused}"]
        except TransientError as unreachable:
            return [f"Shopify could not be reached: {unreachable}"]
        granted = {
            str(scope.get("handle"))
            for scope in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])
            if isinstance(scope, dict)
        }
        missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
        return (
            [f"the app lacks the access scopes {', '.join(missing)}: ask the merchant to grant them"] if missing else []
        )

    return run


WEBHOOK_SUBSCRIPTIONS = "query WebhookSubscriptions { webhookSubscriptions(first: 100) { nodes { id topic uri } } }"
WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


def subscribe(http: HttpClient) -> Callable[[Store, StoreCredentials, str], list[str]]:
    """Our webhooks through ``webhookSubscriptionCreate(topic, webhookSubscription: {uri, format: JSON})`` (``uri``
    from 2025-10: changelog "webhookSubscriptionCreate and webhookSubscriptionUpdate support all URI types"), one per
    topic we take (``orders/create`` is ``ORDERS_CREATE``), unless a subscription of that topic has our URI."""

    def run(store: Store, credentials: StoreCredentials, url: str) -> list[str]:
        api = ShopifyApi(http, store, credentials)
        nodes = (api.graphql(WEBHOOK_SUBSCRIPTIONS, {}).get("webhookSubscriptions") or {}).get("nodes") or []
        have = {(str(node.get("topic")), str(node.get("uri"))) for node in nodes if isinstance(node, dict)}
        done = []
        for topic in sorted({*ORDER_TOPICS, REFUND_TOPIC}):
            enum = topic.upper().replace("/", "_")
            if (enum, url) in have:
                done.append(f"{enum}: already there")
                continue
            created = api.mutate(
                WEBHOOK_SUBSCRIPTION_CREATE,
                "webhookSubscriptionCreate",
                {"topic": enum, "webhookSubscription": {"uri": url, "format": "JSON"}},
            )
            done.append(f"{enum}: created ({(created.get('webhookSubscription') or {}).get('id')})")
        return done

    return run


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(
        inbound=ShopifyInbound(),
        write_back=ShopifyWriteBack(http),
        source=ShopifySource(http),
        payments=ShopifyPayments(http),
        check=check(http),
        subscribe=subscribe(http),
    )


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample delivery signed again (the body alone: replays are caught by event id, nothing is re-stamped)."""
    return body, headers | {"X-Shopify-Hmac-Sha256": shopify_signature(secret, body)}


SPEC = PlatformSpec(
    name="shopify",
    title="Shopify",
    build=build,
    identity_key="shop_domain",
    paid_sample="02_orders_paid.json",
    sign_sample=sign_sample,
    payments=PaymentCapabilities(
        # orderCapture takes an amount up to the authorization (multi-capture on Shopify Plus), synchronously;
        # refundCreate refunds to the original transactions; orderCancel(refund: true) refunds, and voids
        # authorizations whatever ``refund`` says. https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderCapture
        capture=Capture.PARTIAL,
        refund=Refund.ONLINE,
        cancel_with_refund=True,
        void=True,
        how="orderCapture (parent transaction, finalCapture); refundCreate; orderCancel(refund: true) voids",
    ),
)
