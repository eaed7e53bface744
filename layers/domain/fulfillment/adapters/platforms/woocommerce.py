"""WooCommerce webhooks: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret, raw body)).

Woo has no paid/cancelled topics: payment is read from the order's ``status`` (``processing``
and ``completed`` mean paid; ``on-hold`` with an uncaptured card charge is an authorization we capture
through the status change; ``pending``, other ``on-hold``, ``failed`` and drafts are not paid).
``refunds[]`` ({id, reason, total}) name no lines: each is reported as money refunded only.

A line whose product was deleted arrives with ``"sku": null`` (``WC_REST_Orders_V2_Controller::
get_order_item_data``: ``$item->get_product() ? $item->get_product()->get_sku() : null``; an existing product
without a SKU gives ``""``). Refusing the delivery would count as a failed delivery (Woo disables a webhook after
more than 5 in a row) and lose the order, so it is recorded, its line under a placeholder SKU, and flagged for a
person (``platform_refs["flagged"]``: the review step holds it for approval).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformAdapters, PlatformSpec, as_utc, first_error, same_signature
from fulfillment.errors import (
    InvalidMoney,
    InvalidSignature,
    MalformedPayload,
    OrderInvalid,
    PaymentDeclined,
    PlatformRejected,
    RefundNotPossible,
    TransientError,
)
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.capabilities import Capture, PaymentCapabilities, Refund
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.order import PaymentRecord, StoreReturnReport
from fulfillment.model.payment import PaymentResult, enters_fulfillment, platform_payment
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult, partial_shipment_note

PAID_STATUSES = frozenset({"processing", "completed"})
# A checkout that went through: cash on delivery lands in processing (on-hold with downloads) and an authorize-only
# gateway in on-hold (WC_Gateway_COD::process_payment, woocommerce/includes/gateways/cod/class-wc-gateway-cod.php);
# pending, failed and checkout-draft are checkouts that never finished, nothing to deliver or collect. A store whose
# plugin filters woocommerce_cod_process_payment_order_status to pending waits until it moves the order on.
PLACED_STATUSES = frozenset({"on-hold", "processing", "completed"})
AUTHORIZED_STATUS = "on-hold"  # what authorize-only gateways leave an order in until it is captured
STRIPE_CAPTURED = "_stripe_charge_captured"  # the Stripe extension's meta: "no" while authorized, "yes" once captured
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
    sku: str | None = ""  # null: the product was deleted (module docstring)
    product_id: int = 0
    variation_id: int = 0
    subtotal: str = "0"
    total: str = "0"
    price: float | str = 0


class WooRefund(_Lenient):
    id: int
    reason: str = ""
    total: str = "0"  # negative: "-17.26"


class WooMeta(_Lenient):
    key: str = ""
    value: Any = None


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
    refunds: list[WooRefund] = []
    payment_method: str = ""  # the gateway id: "cod" is cash on delivery, "bacs" a bank transfer, …
    transaction_id: str = ""  # the gateway's charge / PaymentIntent id
    meta_data: list[WooMeta] = []

    def meta(self, key: str) -> str:
        return next((str(item.value) for item in self.meta_data if item.key == key), "")


def _payment(woo: WooOrder, money: Callable[[str], Money]) -> PaymentRecord:
    """``on-hold`` with an uncaptured charge is an authorization left on the store: the Stripe extension's
    "authorize only" (``_stripe_charge_captured`` = ``no``; it captures when the order moves to processing or
    completed, ``WC_Stripe_Order_Handler::capture_payment``) and WooPayments' manual capture
    (``_intention_status`` = ``requires_capture``). Any other ``on-hold`` (a bank transfer) is not paid.
    https://woocommerce.com/document/stripe/admin-experience/order-statuses/"""
    uncaptured = woo.meta(STRIPE_CAPTURED) == "no" or woo.meta("_intention_status") == "requires_capture"
    holds = woo.status == AUTHORIZED_STATUS and uncaptured
    intent = woo.transaction_id or woo.meta("_stripe_intent_id") or woo.meta("_intent_id")
    return platform_payment(
        paid=woo.status in PAID_STATUSES,
        gateway=woo.payment_method,
        authorized=money(woo.total) if holds else None,
        authorization_ids=(intent,),
    )


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
                sku=_sku_of(item),
                name=item.name,
                quantity=item.quantity,
                unit_price=money(item.price),
            )
            for item in woo.line_items
        )
        deleted = [f"line {item.id} ({item.name})" for item in woo.line_items if item.sku is None]
        refs = {"payment_method": woo.payment_method} if woo.payment_method else {}
        if deleted:
            refs["flagged"] = f"product deleted in WooCommerce, nothing to pick by SKU: {', '.join(deleted)}"
        items_total = sum((money(item.subtotal) for item in woo.line_items), Money.zero(currency))
        billing = woo.billing.to_address()
        payment = _payment(woo, money)
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
            paid=woo.status in PAID_STATUSES or (enters_fulfillment(payment, False) and woo.status in PLACED_STATUSES),
            cancelled=woo.status in CANCELLED_STATUSES,
            payment=payment,
            platform_refs=refs,
            # The webhook names no refunded lines: each refund is money only (a note, no return).
            reported_returns=tuple(
                StoreReturnReport(
                    external_id=f"refund-{refund.id}",
                    reason=refund.reason,
                    refunded_minor=abs(money(refund.total).minor),
                )
                for refund in woo.refunds
            ),
        )


def _sku_of(item: WooLineItem) -> str:
    product = item.variation_id or item.product_id
    if item.sku is None:  # the product is gone: a placeholder no stock matches, for a person to resolve
        return f"woo-deleted-product-{product or item.id}"
    return item.sku or f"woo-product-{product}"


def _order_id(body: bytes) -> str:
    try:
        return str(WooDeleted.model_validate_json(body).id)
    except ValidationError as exc:
        raise MalformedPayload(f"not a WooCommerce deletion: {first_error(exc)}") from exc


class WooDeleted(_Lenient):
    id: int


# --- write-back -----------------------------------------------------------------------------------
class WooCommerceApi:
    """Write-back over the REST API: consumer key/secret as Basic auth (Woo takes it over HTTPS only).

    SHIPPED → the Shipment Tracking plugin's ``POST /wp-json/wc-shipment-tracking/v3/orders/{id}/
    shipment-trackings`` unless its list holds the number: {tracking_provider, tracking_number} for a carrier
    in the store's provider list, {custom_tracking_provider, custom_tracking_link, tracking_number} for any
    other (a shop without the plugin, or an unlisted carrier without a tracking URL, gets a customer note
    with the tracking instead); COMPLETED / CANCELLED →
    ``PUT /wp-json/wc/v3/orders/{id}`` {"status"} unless the order has it; PROCESSING and RETURNED (a
    return resolved, with how) → a private note; REFUNDED → ``POST /orders/{id}/refunds`` {"amount",
    "reason", "api_refund": false}, which records the refund without asking the gateway to pay it (no
    amount given: the order total).
    Notes and refunds carry ``(ref: <update.key>)``; one with that marker means it is already there.
    """

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        rest = _WooRest(self._http, store, credentials)
        order_id = update.order.external_id
        if not order_id.isdigit():
            raise OrderInvalid(f"{order_id!r} is not a WooCommerce order id")
        match update.kind:
            case UpdateKind.SHIPPED:
                return self._ship(rest, order_id, update)
            case UpdateKind.COMPLETED:
                return self._set_status(rest, order_id, "completed")
            case UpdateKind.CANCELLED:
                return self._set_status(rest, order_id, "cancelled")
            case UpdateKind.PROCESSING:
                return self._note(rest, order_id, update, "Accepted for fulfillment", customer_note=False)
            case UpdateKind.REFUNDED:
                return self._refund(rest, order_id, update)
            case UpdateKind.RETURNED:
                return self._note(rest, order_id, update, update.reason or "Return resolved", customer_note=False)

    @staticmethod
    def _set_status(rest: _WooRest, order_id: str, target: str) -> WriteBackResult:
        path = f"/wp-json/wc/v3/orders/{order_id}"
        order = rest.call("GET", path)
        if isinstance(order, Mapping) and order.get("status") == target:
            return WriteBackResult(done=True, already=True, reference=order_id)
        rest.call("PUT", path, {"status": target})
        return WriteBackResult(done=True, reference=order_id)

    def _ship(self, rest: _WooRest, order_id: str, update: StoreUpdate) -> WriteBackResult:
        number = update.tracking_number
        if not number:
            raise OrderInvalid(f"order {update.order.key}: a shipment write-back needs a tracking number")
        path = f"/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"
        partial = partial_shipment_note(update.order)
        if partial:  # Woo ships whole orders: the customer is told what is missing (found again by its marker)
            self._note(rest, order_id, update, partial, customer_note=True, mark=f"(ref: {update.key}:partial)")
        try:
            trackings = rest.call("GET", path)
        except PlatformRejected as error:
            if error.status == 404 and "rest_no_route" in error.body:  # the plugin is not installed
                text = " ".join(
                    filter(None, [f"Shipped with {update.carrier or 'carrier'}:", number, update.tracking_url])
                )
                return self._note(rest, order_id, update, text, customer_note=True)
            raise
        for tracking in _rows(trackings):
            if str(tracking.get("tracking_number", "")).strip() == number:
                return WriteBackResult(done=True, already=True, reference=_id_of(tracking, "tracking_id"))
        provider = _listed_provider(rest, update.carrier or "")
        if provider is not None:
            body = {"tracking_provider": provider, "tracking_number": number}
        elif update.tracking_url:
            # A carrier outside the extension's list: "omit tracking_provider and provide the two custom-provider
            # fields" (woocommerce.com, Shipment Tracking, "Create a custom-provider tracking item with the REST API").
            body = {
                "custom_tracking_provider": update.carrier or "Carrier",
                "custom_tracking_link": update.tracking_url,
                "tracking_number": number,
            }
        else:  # unlisted and no link to give: custom_tracking_link is required, so the customer gets a note instead
            text = f"Shipped with {update.carrier or 'carrier'}: {number}"
            return self._note(rest, order_id, update, text, customer_note=True)
        return WriteBackResult(done=True, reference=_id_of(rest.call("POST", path, body), "tracking_id"))

    @staticmethod
    def _note(
        rest: _WooRest, order_id: str, update: StoreUpdate, text: str, *, customer_note: bool, mark: str | None = None
    ) -> WriteBackResult:
        path = f"/wp-json/wc/v3/orders/{order_id}/notes"
        mark = mark or _marker(update)
        for note in _rows(rest.call("GET", path)):
            if mark in str(note.get("note", "")):
                return WriteBackResult(done=True, already=True, reference=_id_of(note, "id"))
        created = rest.call("POST", path, {"note": f"{text} {mark}", "customer_note": customer_note})
        return WriteBackResult(done=True, reference=_id_of(created, "id"))

    @staticmethod
    def _refund(rest: _WooRest, order_id: str, update: StoreUpdate, *, api_refund: bool = False) -> WriteBackResult:
        amount = update.amount or update.order.totals.grand_total
        if amount.currency != update.order.currency or amount.minor <= 0:
            raise OrderInvalid(f"order {update.order.key}: cannot record a refund of {amount}")
        path = f"/wp-json/wc/v3/orders/{order_id}/refunds"
        mark = _marker(update)
        for refund in _rows(rest.call("GET", f"{path}?per_page=100")):
            if mark in str(refund.get("reason", "")):
                return WriteBackResult(done=True, already=True, reference=_id_of(refund, "id"))
        body = {
            "amount": format(amount.to_decimal(), "f"),
            "reason": f"{update.reason or 'Refund'} {mark}",
            # true: the gateway pays it back (and Woo keeps no refund if the gateway fails); false: recorded only
            "api_refund": api_refund,
        }
        return WriteBackResult(done=True, reference=_id_of(rest.call("POST", path, body), "id"))


class _WooRest:
    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        base = credentials.api_base_url or store.site_url
        if not base:
            raise PlatformRejected(f"store {store.store_id} has neither an api_base_url nor a site_url")
        if not credentials.api_key or not credentials.api_secret:
            raise PlatformRejected(f"store {store.store_id} needs a consumer key (api_key) and secret (api_secret)")
        token = base64.b64encode(f"{credentials.api_key}:{credentials.api_secret}".encode()).decode()
        self._base = base.rstrip("/")
        self._headers = {"Authorization": f"Basic {token}"}
        self._http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self._base}{path}", headers=self._headers, json_body=body)
        try:
            return response.json()
        except ValueError as exc:  # an HTML page: a security plugin or maintenance mode answered
            raise PlatformRejected(f"{method} {path} answered something that is not JSON", response.status) from exc


PROVIDERS_PATH = "/wp-json/wc-shipment-tracking/v3/shipment-trackings/providers"


def _listed_provider(rest: _WooRest, carrier: str) -> str | None:
    """The provider name as the store's extension lists it (``GET …/shipment-trackings/providers``: region →
    {name: URL format}; woocommerce.com, "List Shipment Tracking providers with the REST API"), or None."""
    wanted = carrier.strip().casefold()
    groups = rest.call("GET", PROVIDERS_PATH) if wanted else None
    for providers in groups.values() if isinstance(groups, Mapping) else ():
        for name in providers if isinstance(providers, Mapping) else ():
            if str(name).strip().casefold() == wanted:
                return str(name)
    return None


def _marker(update: StoreUpdate) -> str:
    return f"(ref: {update.key})"


def _rows(answer: Any) -> list[Mapping[str, Any]]:
    return [row for row in answer if isinstance(row, Mapping)] if isinstance(answer, list) else []


def _id_of(created: Any, field: str) -> str | None:
    return str(created[field]) if isinstance(created, Mapping) and created.get(field) is not None else None


class WooCommercePayments:
    """Captures an authorization WooCommerce's gateway holds the only way Woo's REST API can: by the status change
    the gateway captures on. The Stripe extension captures an uncaptured charge when the order moves to
    processing (``WC_Stripe_Order_Handler::capture_payment`` on ``woocommerce_order_status_processing``) and
    records ``_stripe_charge_captured`` = ``yes``; that meta, read before and after, is the truth: captured before
    is ``already``, still uncaptured after the change is a decline. Other gateways are never asked
    (``PaymentCapabilities.captures_on_status``): an operator captures them.
    https://woocommerce.com/document/stripe/admin-experience/order-statuses/"""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        if not order.external_id.isdigit():
            raise OrderInvalid(f"{order.external_id!r} is not a WooCommerce order id")
        rest = _WooRest(self._http, store, credentials)
        path = f"/wp-json/wc/v3/orders/{order.external_id}"
        current = WooOrder.model_validate(rest.call("GET", path))
        if current.meta(STRIPE_CAPTURED) == "yes":
            return PaymentResult(status="already", amount=amount, reference=current.transaction_id or path)
        if current.status != AUTHORIZED_STATUS or current.meta(STRIPE_CAPTURED) != "no":
            raise PlatformRejected(f"WooCommerce order {order.external_id} holds no charge to capture", 422)
        after = WooOrder.model_validate(rest.call("PUT", path, {"status": "processing"}))
        if after.meta(STRIPE_CAPTURED) != "yes":
            raise PaymentDeclined(f"the {current.payment_method} gateway did not capture order {order.number}")
        return PaymentResult(status="captured", amount=amount, reference=after.transaction_id or path)

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        """``POST /orders/{id}/refunds`` with ``api_refund: true``: the order's gateway refunds it. Asked only where
        the gateway says it can (``GET /payment_gateways/{id}``: ``method_supports`` holds ``refunds``); otherwise
        ``RefundNotPossible`` and nothing is created. Marked ``(ref: <key>)``: a refund carrying it is ``already``.
        https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-refund,
        https://woocommerce.github.io/woocommerce-rest-api-docs/#payment-gateway-properties"""
        if not order.external_id.isdigit():
            raise OrderInvalid(f"{order.external_id!r} is not a WooCommerce order id")
        rest = _WooRest(self._http, store, credentials)
        gateway = order.payment.gateway or str(
            rest.call("GET", f"/wp-json/wc/v3/orders/{order.external_id}").get("payment_method") or ""
        )
        update = StoreUpdate(
            kind=UpdateKind.REFUNDED, order=order, amount=amount, reason=reason, reference=idempotency_key
        )
        mark = _marker(update)
        for refund in _rows(rest.call("GET", f"/wp-json/wc/v3/orders/{order.external_id}/refunds?per_page=100")):
            if mark in str(refund.get("reason", "")):
                return PaymentResult(status="already", amount=amount, reference=_id_of(refund, "id") or "")
        supports = rest.call("GET", f"/wp-json/wc/v3/payment_gateways/{gateway}") if gateway else {}
        if "refunds" not in (supports.get("method_supports") or [] if isinstance(supports, Mapping) else []):
            raise RefundNotPossible(f"WooCommerce's {gateway or 'unknown'} gateway cannot refund through the API")
        done = WooCommerceApi._refund(rest, order.external_id, update, api_refund=True)
        return PaymentResult(status="refunded", amount=amount, reference=done.reference or "")

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        """Cancelling the order releases an uncaptured Stripe charge (``WC_Stripe_Order_Handler::cancel_payment`` on
        ``woocommerce_order_status_cancelled``); a cancelled order is ``already``."""
        rest = _WooRest(self._http, store, credentials)
        path = f"/wp-json/wc/v3/orders/{order.external_id}"
        held = order.payment.authorized or order.totals.grand_total
        current = WooOrder.model_validate(rest.call("GET", path))
        if current.status == "cancelled":
            return PaymentResult(status="already", amount=held, reference=path)
        rest.call("PUT", path, {"status": "cancelled"})
        return PaymentResult(status="voided", amount=held, reference=current.transaction_id or path)


def check(http: HttpClient) -> Callable[[Store, StoreCredentials], list[str]]:
    """Onboarding: read an order no shop has (a 404 means the consumer key got in), then whether the Shipment
    Tracking extension answers (without it, shipments reach the customer as an order note only)."""

    def run(store: Store, credentials: StoreCredentials) -> list[str]:
        try:
            rest = _WooRest(http, store, credentials)
            rest.call("GET", "/wp-json/wc/v3/orders/999999999")
        except PlatformRejected as refused:
            if refused.status != 404:
                return [f"WooCommerce refused the consumer key ({refused.status}): {refused}; it needs Read/Write"]
        except TransientError as unreachable:
            return [f"WooCommerce could not be reached: {unreachable}"]
        try:
            rest.call("GET", PROVIDERS_PATH)
        except PlatformRejected:
            return ["the Shipment Tracking extension does not answer: tracking numbers go to customer notes only"]
        return []

    return run


WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted")


def subscribe(http: HttpClient) -> Callable[[Store, StoreCredentials, str], list[str]]:
    """Our webhooks through ``POST /wp-json/wc/v3/webhooks`` {name, topic, delivery_url, secret, status}
    (woocommerce-rest-api-docs, "Create a webhook"), one per topic unless one for that topic and URL exists."""

    def run(store: Store, credentials: StoreCredentials, url: str) -> list[str]:
        rest = _WooRest(http, store, credentials)
        existing = _rows(rest.call("GET", "/wp-json/wc/v3/webhooks?per_page=100"))
        done = []
        for topic in WEBHOOK_TOPICS:
            if any(row.get("topic") == topic and row.get("delivery_url") == url for row in existing):
                done.append(f"{topic}: already there")
                continue
            body = {
                "name": f"Fulfillment {topic}",
                "topic": topic,
                "delivery_url": url,
                "secret": credentials.webhook_secret,
                "status": "active",
            }
            done.append(f"{topic}: created (id {_id_of(rest.call('POST', '/wp-json/wc/v3/webhooks', body), 'id')})")
        return done

    return run


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(
        inbound=WooCommerceInbound(),
        write_back=WooCommerceApi(http),
        payments=WooCommercePayments(http),
        check=check(http),
        subscribe=subscribe(http),
    )


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample delivery signed as WooCommerce signs it: the body alone, so nothing is re-stamped."""
    return body, headers | {"X-WC-Webhook-Signature": woocommerce_signature(secret, body)}


SPEC = PlatformSpec(
    name="woocommerce",
    title="WooCommerce",
    build=build,
    identity_key="site_url",
    paid_sample="order_updated_paid.json",
    sign_sample=sign_sample,
    payments=PaymentCapabilities(
        # No capture call: the Stripe extension captures an authorized charge when the order moves to processing
        # or completed, and cancels it when the order is cancelled (WC_Stripe_Order_Handler); other gateways need
        # a person. POST /wc/v3/orders/{id}/refunds with api_refund: true refunds through the gateway, and fails
        # where the gateway cannot. https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-refund
        capture=Capture.WHOLE,
        refund=Refund.ONLINE_IF_GATEWAY,
        void=True,
        captures_on_status=frozenset({"stripe"}),
        how="status processing captures (Stripe extension); refunds with api_refund: true; cancelled voids",
    ),
)
