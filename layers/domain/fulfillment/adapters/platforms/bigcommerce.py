"""BigCommerce: thin, Standard-Webhooks-signed deliveries; orders read from and written to the V2/V3 REST API.

Verification: ``webhook-signature: v1,<b64>`` (a space-separated list may carry several) =
base64(HMAC-SHA256(client secret bytes, ``{webhook-id}.{webhook-timestamp}.`` + raw body)); the
timestamp must be within ±5 minutes. The body only names the order, so every order scope is fetched.

Scopes: ``store/order/created|updated|statusUpdated|archived|refund/created`` → fetch the order.
``store/shipment/*`` is ignored: a shipment (usually our own write-back) also changes the order's
status, which arrives as ``store/order/statusUpdated`` and is fetched then. Everything else is ignored.

Status rule (``status_id``; labels are renamable, ids are not):
- paid: 11 Awaiting Fulfillment, 9 Awaiting Shipment, 8 Awaiting Pickup, 3 Partially Shipped,
  2 Shipped, 10 Completed, 14 Partially Refunded (the rest of the order is still paid for).
  Not paid: 0 Incomplete, 1 Pending, 7 Awaiting Payment, 12 Manual Verification Required, 13 Disputed.
- cancelled: 5 Cancelled, 6 Declined, 4 Refunded (nothing is left to fulfil).
- who holds the money (``payment_status``): ``authorized`` (or ``capture pending``) is an authorization we
  capture through ``POST /v3/orders/{id}/payment_actions/capture`` (the order enters fulfillment with that
  obligation); ``payment_method`` "Cash on Delivery" is cash on delivery; otherwise a paid status is paid.
- refunded: ``refunded_amount`` when above zero; the grand total for 4 Refunded if it says zero.
- reported returns, read only when the order says something was refunded (so an order without refunds
  costs no extra call): each of ``GET /v3/orders/{id}/payment_actions/refunds`` (id ``refund-<id>``): its
  ``PRODUCT`` items (``item_id`` = the order product id = our line id) are goods coming back (a return is
  opened once the order is delivered), ``total_amount`` money BigCommerce already paid back; a refund
  without product items is money only. Refunds our write-back made carry ``[<order key>:refunded:…]`` in
  their reasons and are left out by the service.

Write-back: SHIPPED → ``POST /v2/orders/{id}/shipments`` unless a shipment with the tracking number
exists; COMPLETED/CANCELLED → ``PUT /v2/orders/{id}`` ``status_id`` 10/5 unless already there;
PROCESSING → ``status_id`` 11 only from 0/1/7 (never over a later, cancelled or held status; a cash-on-delivery order
stays 7, Awaiting Payment, until COMPLETED);
REFUNDED → V3 ``refund_quotes`` then ``refunds`` of an ``ORDER`` amount, marked ``[<update key>]`` in the item
``reason`` (an existing refund with that marker counts as done; so does one of the same amount, unless the
refund is a return's: two returns of equal value are two refunds); RETURNED (a return resolved) → a line
appended to the order's ``staff_notes`` unless it holds the marker.
"""

from __future__ import annotations

import csv
import email.utils
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import (
    PlatformAdapters,
    PlatformSpec,
    as_utc,
    first_error,
    hmac_sha256_base64,
    require_fresh,
    same_signature,
)
from fulfillment.errors import (
    InvalidMoney,
    InvalidSignature,
    MalformedPayload,
    OrderInvalid,
    PlatformRejected,
    RefundNotPossible,
)
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.capabilities import Capture, PaymentCapabilities, Refund
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.order import ReportedLine, StoreReturnReport
from fulfillment.model.payment import PaymentMethod, PaymentResult, enters_fulfillment, platform_payment
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult

DEFAULT_API_BASE = "https://api.bigcommerce.com"
TOLERANCE_SECONDS = 300

AWAITING_FULFILLMENT, COMPLETED, CANCELLED, REFUNDED = 11, 10, 5, 4
PAID_STATUSES = frozenset({11, 9, 8, 3, 2, 10, 14})
CANCELLED_STATUSES = frozenset({5, 6, 4})
# 0 Incomplete (the shopper reached the payment page and did not complete the transaction) and 1 Pending (started
# the checkout and did not complete it), BigCommerce's order statuses; an offline method such as Cash on Delivery
# places the order in 7 Awaiting Payment (support.bigcommerce.com, "Offline Payment Methods").
UNPLACED_STATUSES = frozenset({0, 1})
# V2 Order ``payment_status`` values of an authorization not yet captured (a capture we asked for is pending).
# https://developer.bigcommerce.com/docs/rest-management/orders (payment_status); payment actions:
# https://developer.bigcommerce.com/docs/rest-management/orders/payment-actions
AUTHORIZED_PAYMENT_STATUSES = frozenset({"authorized", "capture pending"})
STORE_CREDIT = "storecredit"  # the refund quote's provider_id of store credit
STORE_CREDIT_OPTION = "refund_to_store_credit"  # ``Store.options``: refunds may go to store credit
# PROCESSING may move an order to Awaiting Fulfillment only from these; any other status is either
# further along (leave it) or held/cancelled by the merchant (never overwrite).
AWAITING_PAYMENT = 7
BEFORE_FULFILLMENT = frozenset({0, 1, AWAITING_PAYMENT})
HELD_OR_CLOSED = frozenset({4, 5, 6, 12, 13})

FETCHED_SCOPES = frozenset(
    {
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/archived",
        "store/order/refund/created",
    }
)
# BigCommerce's own shipping modules go in ``shipping_provider``; any other carrier is an AfterShip
# slug for ``tracking_carrier``.
SHIPPING_PROVIDERS = frozenset(  # "auspost, canadapost, endicia, usps, fedex, ups, upsready, upsonline, or shipperhq"
    {"auspost", "canadapost", "endicia", "usps", "fedex", "royalmail", "ups", "upsready", "upsonline", "shipperhq"}
)
# BigCommerce's published tracking-carrier values (bigcommerce/dev-docs assets/csv/tracking_carrier_values.csv, kept
# as data/bigcommerce_tracking_carriers.csv): "Acceptable values for tracking_carrier include an empty string or
# one of the valid tracking-carrier values" (V2 Order Shipments, Create Order Shipment, usage notes).
TRACKING_CARRIERS_CSV = Path(__file__).resolve().parents[2] / "data" / "bigcommerce_tracking_carriers.csv"


@cache
def tracking_carriers() -> frozenset[str]:
    with TRACKING_CARRIERS_CSV.open(encoding="utf-8", newline="") as rows:
        return frozenset(row[1].strip() for row in list(csv.reader(rows))[1:] if len(row) > 1 and row[1].strip())


_PAGE = 250  # V2's largest page


def _rfc2822(value: object) -> object:
    """V2 dates are RFC 2822 ("Tue, 03 Jun 2025 12:21:07 +0000")."""
    if isinstance(value, str):
        try:
            return as_utc(email.utils.parsedate_to_datetime(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not an RFC 2822 date: {value!r}") from exc
    return value


def _text(value: object) -> object:
    return "" if value is None else value


Rfc2822 = Annotated[datetime, BeforeValidator(_rfc2822)]
Text = Annotated[str, BeforeValidator(_text)]
Amount = str | int | float


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- the delivery -------------------------------------------------------------------------------
class HookData(_Lenient):
    type: str = ""
    id: int | str | None = None
    order_id: int | str | None = Field(default=None, alias="orderId")


class Hook(_Lenient):
    scope: str
    store_id: int | str | None = None
    producer: str = ""
    data: HookData
    hash: str | None = None
    created_at: int | None = None

    @property
    def store_hash(self) -> str | None:
        prefix, _, store_hash = self.producer.partition("/")
        if prefix == "stores" and store_hash:
            return store_hash
        return str(self.store_id) if self.store_id is not None else None


def bigcommerce_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1`` signature without its prefix (the timestamp is signed as the integer it denotes)."""
    return hmac_sha256_base64(secret.encode(), f"{webhook_id}.{int(timestamp)}.".encode() + body)


class BigCommerceInbound:
    name = "bigcommerce"

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        return None  # hooks are registered over the API; nothing is sent unsigned

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        webhook_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        signatures = request.header("webhook-signature")
        if not (webhook_id and timestamp and signatures):
            raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are all required")
        require_fresh(timestamp, now, TOLERANCE_SECONDS)
        expected = bigcommerce_signature(credentials.webhook_secret, webhook_id, timestamp, request.body)
        offered = (part.partition(",") for part in signatures.split())
        if not any(version == "v1" and same_signature(expected, value) for version, _, value in offered):
            raise InvalidSignature("webhook-signature does not match the delivery")

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        try:
            hook = Hook.model_validate_json(request.body)
        except ValidationError as exc:
            raise MalformedPayload(f"not a BigCommerce webhook: {first_error(exc)}") from exc
        event_id = request.header("webhook-id") or hook.hash
        common: dict[str, Any] = {
            "platform": self.name,
            "topic": hook.scope,
            "event_id": event_id,
            "store_identity": hook.store_hash,
        }
        if hook.scope.startswith("store/shipment/"):
            order_id = hook.data.order_id
            return InboundEvent(
                **common,
                external_order_id=str(order_id) if order_id is not None else None,
                ignore_reason="shipments change the order status too; that arrives as store/order/statusUpdated",
            )
        if hook.scope not in FETCHED_SCOPES:
            return InboundEvent(**common, ignore_reason=f"scope {hook.scope} does not change an order")
        if hook.data.id is None or not str(hook.data.id).isdigit():
            raise MalformedPayload(f"not a BigCommerce order webhook: data.id is {hook.data.id!r}")
        return InboundEvent(**common, external_order_id=str(hook.data.id), needs_fetch=True)


# --- the REST order -----------------------------------------------------------------------------
class BcAddress(_Lenient):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    street_1: Text = ""
    street_2: Text = ""
    city: Text = ""
    state: Text = ""
    zip: Text = ""
    country_iso2: Text = ""
    phone: Text = ""
    email: Text = ""

    def to_address(self) -> Address:
        return Address(
            name=f"{self.first_name} {self.last_name}".strip(),
            company=self.company,
            lines=tuple(line for line in (self.street_1, self.street_2) if line),
            city=self.city,
            region=self.state,
            postal_code=self.zip,
            country=self.country_iso2.upper(),
            phone=self.phone,
        )


class BcShippingAddress(BcAddress):
    id: int


class BcProduct(_Lenient):
    id: int
    product_id: int = 0
    order_address_id: int | None = None  # the shipping address this product goes to (multi-address orders)
    sku: Text = ""
    name: Text = ""
    quantity: int
    price_ex_tax: Amount


class BcOrder(_Lenient):
    id: int
    customer_id: int = 0
    date_created: Rfc2822
    date_modified: Rfc2822
    status_id: int
    currency_code: str
    subtotal_ex_tax: Amount
    shipping_cost_ex_tax: Amount = "0"
    handling_cost_ex_tax: Amount = "0"
    wrapping_cost_ex_tax: Amount = "0"
    total_tax: Amount = "0"
    total_inc_tax: Amount
    discount_amount: Amount = "0"
    coupon_discount: Amount = "0"
    refunded_amount: Amount = "0"
    billing_address: BcAddress
    # "authorized", "captured", "capture pending", "void", "void pending", "partially refunded", "refunded", …
    payment_status: Text = ""
    payment_method: Text = ""  # "Credit Card", "Cash on Delivery", "Manual", …


def to_order(store: Store, raw: BcOrder, products: list[BcProduct], addresses: list[BcShippingAddress]) -> Order:
    currency = raw.currency_code.upper()

    def money(value: Amount) -> Money:
        return Money.parse(value, currency)

    billing = raw.billing_address.to_address()
    payment = platform_payment(
        paid=raw.status_id in PAID_STATUSES,
        gateway=raw.payment_method,
        authorized=money(raw.total_inc_tax) if raw.payment_status.lower() in AUTHORIZED_PAYMENT_STATUSES else None,
    )
    refunded = money(raw.refunded_amount)
    if refunded.minor <= 0:
        refunded = money(raw.total_inc_tax) if raw.status_id == REFUNDED else refunded
    return Order(
        store_id=store.store_id,
        platform="bigcommerce",
        external_id=str(raw.id),
        number=str(raw.id),  # BigCommerce shows customers the order id
        currency=currency,
        customer=Customer(
            email=raw.billing_address.email or None,
            name=billing.name,
            external_id=str(raw.customer_id) if raw.customer_id else None,  # 0 is a guest
        ),
        billing_address=billing,
        shipping_address=addresses[0].to_address() if addresses else billing,
        # Every shipping address by its id: an order shipped to several names one per product (order_address_id).
        destinations={str(address.id): address.to_address() for address in addresses},
        lines=tuple(
            LineItem(
                line_id=str(product.id),  # the order product row id, which shipments name
                sku=product.sku or f"bc-product-{product.product_id}",
                name=product.name,
                quantity=product.quantity,
                unit_price=money(product.price_ex_tax),
                destination=str(product.order_address_id or addresses[0].id) if addresses else None,
            )
            for product in products
        ),
        totals=Totals(
            items=money(raw.subtotal_ex_tax),
            # handling and gift wrapping ride with shipping so the totals add up to the grand total
            shipping=money(raw.shipping_cost_ex_tax)
            + money(raw.handling_cost_ex_tax)
            + money(raw.wrapping_cost_ex_tax),
            tax=money(raw.total_tax),
            discount=money(raw.discount_amount) + money(raw.coupon_discount),
            grand_total=money(raw.total_inc_tax),
        ),
        placed_at=raw.date_created,
        source_modified_at=raw.date_modified,
        paid=raw.status_id in PAID_STATUSES
        or (enters_fulfillment(payment, False) and raw.status_id not in CANCELLED_STATUSES | UNPLACED_STATUSES),
        cancelled=raw.status_id in CANCELLED_STATUSES,
        refunded=refunded if refunded.minor > 0 else None,
        payment=payment,
        platform_refs={"order_address_id": str(addresses[0].id)} if addresses else {},
    )


class BcRefundItem(_Lenient):
    item_type: Text = ""
    item_id: int | str | None = None
    quantity: int | None = None
    reason: Text = ""


class BcRefund(_Lenient):
    """One of ``GET /v3/orders/{id}/payment_actions/refunds``."""

    id: int | str
    reason: Text = ""
    total_amount: Amount = 0
    items: list[BcRefundItem] = Field(default_factory=list)


def refund_reports(answer: Any, order: Order) -> tuple[StoreReturnReport, ...]:
    """The refunds answer (``{"data": [...]}``) as reported returns of ``order``."""
    rows = _data(answer)
    if not isinstance(rows, list):
        raise PlatformRejected(f"the refunds of order {order.external_id} are not a list")
    return tuple(_reported(BcRefund.model_validate(row), order) for row in rows)


def _reported(refund: BcRefund, order: Order) -> StoreReturnReport:
    """PRODUCT items name order product rows (our line ids); ORDER, SHIPPING, HANDLING, … items move money only."""
    line_ids = {line.line_id for line in order.lines}
    quantities: dict[str, int] = {}
    for item in refund.items:
        line_id = str(item.item_id)
        if item.item_type.upper() == "PRODUCT" and line_id in line_ids and (item.quantity or 0) > 0:
            quantities[line_id] = quantities.get(line_id, 0) + (item.quantity or 0)
    reasons = [refund.reason, *(item.reason for item in refund.items)]
    paid_back = Money.parse(refund.total_amount, order.currency).minor
    return StoreReturnReport(
        external_id=f"refund-{refund.id}",
        lines=tuple(ReportedLine(line_id=line_id, quantity=quantity) for line_id, quantity in quantities.items()),
        reason=" ".join(dict.fromkeys(reason.strip() for reason in reasons if reason.strip())),
        refunded_minor=max(paid_back, 0),
    )


# --- the API ------------------------------------------------------------------------------------
class BigCommerceApi:
    """One store's V2/V3 API: ``{base}/stores/{hash}/…`` with ``X-Auth-Token``."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        if not store.platform_store_id:
            raise PlatformRejected(f"store {store.store_id} has no BigCommerce store hash (platform_store_id)")
        if not credentials.api_token:
            raise PlatformRejected(f"store {store.store_id} has no BigCommerce API token")
        base = (credentials.api_base_url or DEFAULT_API_BASE).rstrip("/")
        self._root = f"{base}/stores/{quote(store.platform_store_id, safe='')}"
        self._headers = {"X-Auth-Token": credentials.api_token}
        self._http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self._root}{path}", headers=self._headers, json_body=body)
        try:
            return response.json()  # V2 answers an empty list or page with 204 and no body
        except json.JSONDecodeError as exc:
            raise PlatformRejected(f"{method} {path} answered something that is not JSON", response.status) from exc

    def pages(self, path: str) -> list[Any]:
        rows: list[Any] = []
        for page in range(1, 1000):
            batch = self.call("GET", f"{path}?page={page}&limit={_PAGE}") or []
            if not isinstance(batch, list):
                raise PlatformRejected(f"GET {path} answered {type(batch).__name__}, not a list")
            rows.extend(batch)
            if len(batch) < _PAGE:
                break
        return rows


def _order_path(external_order_id: str) -> str:
    if not external_order_id.isdigit():
        raise OrderInvalid(f"{external_order_id!r} is not a BigCommerce order id")
    return f"/v2/orders/{external_order_id}"


class BigCommerceSource:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        api = BigCommerceApi(self._http, store, credentials)
        path = _order_path(external_order_id)
        order = api.call("GET", path)
        products = api.pages(f"{path}/products")
        addresses = api.pages(f"{path}/shipping_addresses")
        try:
            fetched = to_order(
                store,
                BcOrder.model_validate(order),
                [BcProduct.model_validate(row) for row in products],
                [BcShippingAddress.model_validate(row) for row in addresses],
            )
            if fetched.refunded is None:
                return fetched
            try:
                refunds = api.call("GET", f"/v3/orders/{external_order_id}/payment_actions/refunds")
                reports = refund_reports(refunds, fetched)
            except PlatformRejected:
                # A token without the refunds scope (or an answer we cannot read) must not cost the order
                # itself: it is recorded without the store's refund details; transient errors still retry.
                return fetched
            return fetched.model_copy(update={"reported_returns": reports})
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise PlatformRejected(f"BigCommerce order {external_order_id} cannot be read: {first_error(exc)}") from exc


class BigCommerceWriteBack:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        api = BigCommerceApi(self._http, store, credentials)
        path = _order_path(update.order.external_id)
        match update.kind:
            case UpdateKind.SHIPPED:
                return self._ship(api, path, update)
            case UpdateKind.REFUNDED:
                return self._refund(api, update)
            case UpdateKind.RETURNED:
                return self._staff_note(api, path, update)
            case UpdateKind.COMPLETED:
                return self._set_status(api, path, COMPLETED)
            case UpdateKind.CANCELLED:
                return self._set_status(api, path, CANCELLED)
            case UpdateKind.PROCESSING:
                status = _status_of(api.call("GET", path))
                if status == AWAITING_PAYMENT and update.order.payment.method == PaymentMethod.CASH_ON_DELIVERY:
                    # BigCommerce's 11 "Awaiting Fulfillment" says "payment has been confirmed"; cash on delivery
                    # is paid when the parcel arrives, so 7 "Awaiting Payment" stays true until COMPLETED (10).
                    # GET /v2/order_statuses; https://support.bigcommerce.com/articles/Public/Offline-Payment-Methods
                    return WriteBackResult(done=True, already=True, reference="awaiting payment: cash on delivery")
                if status in BEFORE_FULFILLMENT:
                    return self._set_status(api, path, AWAITING_FULFILLMENT, current=status)
                if status in HELD_OR_CLOSED:
                    return WriteBackResult(done=False, reference=f"left alone: the store holds status {status}")
                return WriteBackResult(done=True, already=True)

    @staticmethod
    def _set_status(api: BigCommerceApi, path: str, target: int, current: int | None = None) -> WriteBackResult:
        if current is None:
            current = _status_of(api.call("GET", path))
        if current == target:
            return WriteBackResult(done=True, already=True)
        api.call("PUT", path, {"status_id": target})
        return WriteBackResult(done=True)

    @staticmethod
    def _staff_note(api: BigCommerceApi, path: str, update: StoreUpdate) -> WriteBackResult:
        """V2 orders have no note history: the line goes at the end of ``staff_notes`` (never shown to shoppers)."""
        order = api.call("GET", path)
        notes = str(order.get("staff_notes") or "") if isinstance(order, Mapping) else ""
        if update.key in notes:
            return WriteBackResult(done=True, already=True)
        line = f"{update.reason or 'Return resolved'} [{update.key}]"
        api.call("PUT", path, {"staff_notes": f"{notes}\n{line}" if notes else line})
        return WriteBackResult(done=True)

    @staticmethod
    def _ship(api: BigCommerceApi, path: str, update: StoreUpdate) -> WriteBackResult:
        """One V2 shipment per shipping address: a shipment is for one ``order_address_id`` and only items of that
        address (BigCommerce V2 Order Shipments, "Create Order Shipment"). Each lists the units that left the
        warehouse (``Order.shipped_quantities``, so a short line ships short and its rest stays unshipped), less
        what shipments already on the order took. Each carries the label of a package shipped to its address
        (``_tracking_for``); an address with a shipment of that tracking number is done, so a retry adds nothing."""
        if not update.tracking_number:
            raise OrderInvalid(f"order {update.order.key}: a shipment write-back needs a tracking number")
        shipments = api.pages(f"{path}/shipments")
        shipped = _shipped_quantities(shipments)
        fallback = update.order.platform_refs.get("order_address_id")

        def tracking(address_id: str) -> tuple[str, str | None, str | None]:
            return _tracking_for(update, address_id, fallback)

        ours = {
            str(s.get("order_address_id"))
            for s in shipments
            if _same_tracking(s, tracking(str(s.get("order_address_id")))[0])
        }
        sent = update.order.shipped_quantities()
        by_address: dict[str, list[dict[str, int]]] = {}
        for line in update.order.lines:
            address_id = line.destination or fallback or _first_address_id(api, path)
            quantity = sent.get(line.line_id, 0) - shipped.get(line.line_id, 0)
            if quantity > 0 and address_id not in ours:
                by_address.setdefault(address_id, []).append(
                    {"order_product_id": int(line.line_id), "quantity": quantity}
                )
        if not by_address:  # every address has its shipment (ours, or made elsewhere): a new one would be refused
            done = [s for s in shipments if str(s.get("order_address_id")) in ours] or shipments
            return WriteBackResult(done=True, already=True, reference=str(done[-1].get("id")) if done else None)
        created = []
        for address_id, items in by_address.items():
            number, carrier, url = tracking(address_id)
            body = {"order_address_id": int(address_id), "tracking_number": number, "items": items}
            created.append(_id_of(api.call("POST", f"{path}/shipments", {**body, **_carrier_fields(carrier, url)})))
        return WriteBackResult(done=True, reference=",".join(str(shipment) for shipment in created))

    @staticmethod
    def _refund(api: BigCommerceApi, update: StoreUpdate, *, store_credit: bool = True) -> WriteBackResult:
        amount = update.amount
        if amount is None or amount.minor <= 0:
            raise OrderInvalid(f"order {update.order.key}: a refund write-back needs a positive amount")
        if amount.currency != update.order.currency:
            raise OrderInvalid(
                f"order {update.order.key}: refund in {amount.currency}, order in {update.order.currency}"
            )
        actions = f"/v3/orders/{update.order.external_id}/payment_actions"
        marker = update.key  # per amount; per return when the refund is a return's (two equal returns, two refunds)
        existing = _data(api.call("GET", f"{actions}/refunds"))
        for refund in existing if isinstance(existing, list) else []:
            # A refund of the same amount made in the control panel counts, unless ours names what it is for.
            same_amount = not update.reference and _same_amount(refund.get("total_amount"), amount)
            if marker in _reasons(refund) or same_amount:
                return WriteBackResult(done=True, already=True, reference=str(refund.get("id")))
        reason = f"{(update.reason or 'Refund')[:900]} [{marker}]"  # BigCommerce keeps up to 1000 characters
        items = [
            {
                "item_type": "ORDER",
                "item_id": int(update.order.external_id),
                "amount": float(amount.to_decimal()),
                "reason": reason,
            }
        ]
        quote_ = _one(_data(api.call("POST", f"{actions}/refund_quotes", {"items": items})))
        payments = _refund_payments(quote_, store_credit=store_credit)
        created = api.call("POST", f"{actions}/refunds", {"items": items, "payments": payments})
        return WriteBackResult(done=True, reference=_id_of(_one(_data(created))))


def _status_of(order: Any) -> int:
    if not isinstance(order, Mapping) or not isinstance(order.get("status_id"), int):
        raise PlatformRejected("the order answer carries no status_id")
    return int(order["status_id"])


def _same_tracking(shipment: Any, number: str) -> bool:
    return str(shipment.get("tracking_number", "")).strip() == number


def _tracking_for(update: StoreUpdate, address_id: str, fallback: str | None) -> tuple[str, str | None, str | None]:
    """Tracking number, carrier and tracking link of the parcel shipped to ``address_id``: the label of the first
    package of that destination (a package without one is the shipping address's, ``fallback``). A V2 shipment
    has a single ``tracking_number`` (V2 Order Shipments, "Create Order Shipment"), so when several packages go to
    one address only the first one's is written back. An order without labels goes with the order's tracking."""
    for package in update.order.packages:
        if package.label and (package.destination or fallback) == address_id:
            return package.label.tracking_number, package.label.carrier, package.label.tracking_url
    return update.tracking_number or "", update.carrier, update.tracking_url


def _shipped_quantities(shipments: list[Any]) -> dict[str, int]:
    shipped: dict[str, int] = {}
    for shipment in shipments:
        for item in shipment.get("items") or []:
            line_id = str(item.get("order_product_id"))
            shipped[line_id] = shipped.get(line_id, 0) + int(item.get("quantity") or 0)
    return shipped


def _first_address_id(api: BigCommerceApi, path: str) -> str:
    addresses = api.pages(f"{path}/shipping_addresses")
    if not addresses:
        raise OrderInvalid(f"{path} has no shipping address to ship to")
    return str(addresses[0]["id"])


def _carrier_fields(carrier: str | None, tracking_url: str | None) -> dict[str, str]:
    """``shipping_provider`` for BigCommerce's own shipping modules; otherwise ``tracking_carrier``, which must be
    empty or a tracking-carrier slug BigCommerce knows (``tracking_carriers``): a carrier it does not know goes
    with an empty slug and the ``tracking_link``, so the customer can still follow the parcel."""
    slug = (carrier or "").strip().lower()
    if slug in SHIPPING_PROVIDERS or slug.startswith("carrier_"):
        fields = {"shipping_provider": slug}
    else:
        fields = {"shipping_provider": "", "tracking_carrier": slug if slug in tracking_carriers() else ""}
    if tracking_url:
        fields["tracking_link"] = tracking_url
    return fields


def _data(answer: Any) -> Any:
    """V3 wraps answers in ``{"data": …}``."""
    return answer.get("data") if isinstance(answer, Mapping) and "data" in answer else answer


def _one(data: Any) -> Any:
    """A created or quoted object, whether answered alone or as a list of one."""
    return data[0] if isinstance(data, list) and data else data


def _reasons(refund: Mapping[str, Any]) -> str:
    return " ".join(
        [str(refund.get("reason") or "")] + [str(item.get("reason") or "") for item in refund.get("items") or []]
    )


def _same_amount(value: Any, amount: Money) -> bool:
    try:
        return value is not None and Money.parse(value, amount.currency) == amount
    except InvalidMoney:
        return False


def _refund_payments(quote_: Any, *, store_credit: bool = True) -> list[dict[str, Any]]:
    """The quote's refund method that mirrors how the order was paid: every option online, and not store credit
    unless the store opts in (``refund_to_store_credit``; BigCommerce's own example quote offers "all as store
    credit" first, refused for guests). None such: ``RefundNotPossible`` (nothing is refunded offline for us).
    https://developer.bigcommerce.com/docs/rest-management/orders/payment-actions#create-a-refund-quote"""
    methods = quote_.get("refund_methods") if isinstance(quote_, Mapping) else None
    if not methods:
        raise PlatformRejected("the refund quote offers no refund method")

    def mirrors_payment(method: list[dict[str, Any]]) -> bool:
        online = not any(option.get("offline") for option in method)
        credit = any(option.get("provider_id") == STORE_CREDIT for option in method)
        return online and (store_credit or not credit)

    chosen = next((method for method in methods if mirrors_payment(method) and not _is_credit(method)), None)
    chosen = chosen or next((method for method in methods if mirrors_payment(method)), None)
    if chosen is None:
        offered = "; ".join(
            ", ".join(str(option.get("provider_description") or option.get("provider_id")) for option in method)
            for method in methods
        )
        raise RefundNotPossible(f"BigCommerce offers no online refund to the original payment ({offered})")
    return [
        {"provider_id": option["provider_id"], "amount": option["amount"], "offline": bool(option.get("offline"))}
        for option in chosen
    ]


def _is_credit(method: list[dict[str, Any]]) -> bool:
    return any(option.get("provider_id") == STORE_CREDIT for option in method)


def _id_of(created: Any) -> str | None:
    return str(created["id"]) if isinstance(created, Mapping) and "id" in created else None


class BigCommercePayments:
    """Captures an authorization BigCommerce holds: ``POST /v3/orders/{id}/payment_actions/capture`` (no amount:
    the whole authorization). BigCommerce answers before the gateway settles, so a capture is ``pending``
    (``payment_status`` "capture pending") until the order's transactions show a successful ``capture``; asking
    again reads them first and answers ``already`` once settled, ``pending`` while not, and captures nothing twice.
    Scope: Orders modify, Order Transactions read-only.
    https://developer.bigcommerce.com/docs/rest-management/orders/payment-actions#capture-order-payment,
    https://developer.bigcommerce.com/docs/rest-management/transactions#get-transactions"""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        api = BigCommerceApi(self._http, store, credentials)
        order_id = order.external_id
        current = api.call("GET", _order_path(order_id)) or {}
        status = str(current.get("payment_status") or "").lower()
        for row in _data(api.call("GET", f"/v3/orders/{order_id}/transactions")) or []:
            if row.get("event") in ("capture", "purchase") and row.get("status") == "ok":
                paid = Money.parse(row.get("amount") or 0, order.currency)
                return PaymentResult(status="already", amount=paid, reference=f"transaction-{row.get('id')}")
        if status == "capture pending":
            return PaymentResult(status="pending", amount=amount, reference=f"capture-{order_id}")
        if status != "authorized":
            raise PlatformRejected(f"BigCommerce order {order_id} has no authorization to capture ({status})", 422)
        api.call("POST", f"/v3/orders/{order_id}/payment_actions/capture")
        return PaymentResult(status="pending", amount=amount, reference=f"capture-{order_id}")

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        """A refund quote, then a refund through its method that mirrors the payment (``_refund_payments``), marked
        with the key in its reason; a refund carrying the key is ``already``."""
        update = StoreUpdate(
            kind=UpdateKind.REFUNDED, order=order, amount=amount, reason=reason, reference=idempotency_key
        )
        credit = store.options.get(STORE_CREDIT_OPTION, "").strip().lower() in {"1", "true", "yes"}
        done = BigCommerceWriteBack._refund(BigCommerceApi(self._http, store, credentials), update, store_credit=credit)
        return PaymentResult(
            status="already" if done.already else "refunded", amount=amount, reference=done.reference or ""
        )

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        """``POST /v3/orders/{id}/payment_actions/void`` while ``payment_status`` is authorized; void or void
        pending already is ``already``."""
        api = BigCommerceApi(self._http, store, credentials)
        current = api.call("GET", _order_path(order.external_id)) or {}
        status = str(current.get("payment_status") or "").lower()
        held = order.payment.authorized or order.totals.grand_total
        if status in ("void", "void pending"):
            return PaymentResult(status="already", amount=held, reference=f"void-{order.external_id}")
        if status != "authorized":
            raise PlatformRejected(
                f"BigCommerce order {order.external_id} has no authorization to void ({status})", 422
            )
        api.call("POST", f"/v3/orders/{order.external_id}/payment_actions/void")
        return PaymentResult(status="voided", amount=held, reference=f"void-{order.external_id}")


def subscribe(http: HttpClient) -> Callable[[Store, StoreCredentials, str], list[str]]:
    """Our webhooks through ``POST /v3/hooks`` {scope, destination, is_active} (BigCommerce Webhooks API, "Create a
    webhook"), one per order scope we fetch on, unless a hook for that scope and destination exists (re-activated
    when BigCommerce deactivated it: ``PUT /v3/hooks/{id}`` {is_active: true})."""

    def run(store: Store, credentials: StoreCredentials, url: str) -> list[str]:
        api = BigCommerceApi(http, store, credentials)
        hooks = [hook for hook in _data(api.call("GET", "/v3/hooks")) or [] if isinstance(hook, Mapping)]
        done = []
        for scope in sorted(FETCHED_SCOPES):
            hook = next((h for h in hooks if h.get("scope") == scope and h.get("destination") == url), None)
            if hook is None:
                created = _data(api.call("POST", "/v3/hooks", {"scope": scope, "destination": url, "is_active": True}))
                done.append(f"{scope}: created (id {_id_of(created)})")
            elif not hook.get("is_active"):
                api.call("PUT", f"/v3/hooks/{hook.get('id')}", {"is_active": True})
                done.append(f"{scope}: re-activated")
            else:
                done.append(f"{scope}: already there")
        return done

    return run


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(
        inbound=BigCommerceInbound(),
        source=BigCommerceSource(http),
        write_back=BigCommerceWriteBack(http),
        payments=BigCommercePayments(http),
        subscribe=subscribe(http),
    )


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample delivery stamped ``now`` and signed again (its recorded webhook-id kept, a new one if none)."""
    stamp = str(int(now))
    webhook_id = headers.get("webhook-id") or _new_webhook_id()
    return body, headers | {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + bigcommerce_signature(secret, webhook_id, stamp, body),
    }


def _new_webhook_id() -> str:
    import uuid  # only the local tooling signs samples: the intake never pays for this import

    return str(uuid.uuid4())


SPEC = PlatformSpec(
    name="bigcommerce",
    title="BigCommerce",
    build=build,
    identity_key="store_hash",
    paid_sample="02_store_order_statusUpdated_paid.json",
    sign_sample=sign_sample,
    signs_timestamp=True,
    payments=PaymentCapabilities(
        # POST /v3/orders/{id}/payment_actions/capture takes no amount and answers before the gateway settles:
        # payment_status "capture pending" until the transactions say captured; refunds through the refund
        # quote's methods; POST …/payment_actions/void releases an authorization. Cancelling (status 5) moves
        # no money. https://developer.bigcommerce.com/docs/rest-management/orders/payment-actions
        capture=Capture.WHOLE,
        capture_async=True,
        refund=Refund.ONLINE,
        void=True,
        how="payment_actions/capture (asynchronous), refund_quotes + refunds, payment_actions/void",
    ),
)
