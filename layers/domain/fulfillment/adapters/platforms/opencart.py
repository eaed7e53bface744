"""OpenCart 4.0.2.x and 4.1.x, through our extension ``integrations/opencart`` (OpenCart sends no webhooks).

Verification: ``X-OC-Webhook-Signature`` = base64(HMAC-SHA256(secret, ``{X-OC-Webhook-Timestamp}.`` + raw
body)), the timestamp within ±5 minutes; ``X-OC-Webhook-Id`` (= ``event_id``) identifies the event for
dedupe. The envelope (``order.history_added``) carries the order as ``getOrder()`` returns it, with its
products and totals, so every delivery is a trusted snapshot.

Status rule (``order_status_id``, ids from OpenCart's install data; merchants may rename or add statuses):
- paid: 2 Processing, 3 Shipped, 5 Complete, 15 Processed — what ``config_processing_status`` and
  ``config_complete_status`` hold by default; a shop configured otherwise sets
  the store option ``paid_status_ids`` (e.g. ``"2,3,5,15,17"``; ``fulfillment stores register --option``).
- cancelled: 7 Canceled, 8 Denied, 10 Failed, 14 Expired, 16 Voided, and the refund statuses below
  (nothing is left to fulfil, as with WooCommerce's ``refunded``).
- refunded: 11 Refunded, 12 Reversed, 13 Chargeback → the whole total (a refund is a status in OpenCart,
  never an amount). 1 Pending and 9 Canceled Reversal are neither; 0 (never confirmed) is ignored.
- reported returns: a change *into* 11 Refunded (``previous_order_status_id`` another status) is one
  money-only report of the whole total, id ``status-refunded-<event_id>`` (the contract carries no history
  id; the event id names one ``addHistory`` call), its reason the history comment, so the service notes it
  once on a delivered order and skips the refund our write-back set (``(ref: <order key>:refunded:…)``).
  OpenCart's returns (``oc_return``) are not sent by the extension.

Mapping: products carry no SKU, so ``model`` is the SKU (the usual proxy). Amounts are strings in the
shop's default currency (``"126.0000"``) and are multiplied by ``currency_value`` into the order's
currency, as OpenCart displays them. Dates are the shop's local time: ``occurred_at`` (Unix time) is
the snapshot time, and its distance to ``date_modified`` (written in the same moment) gives the shop's
UTC offset for ``date_added``.

Write-back through the shop release's catalog API (``extra["opencart_version"]``): 4.0.2.x ``api/account/login``
(API username + key; the caller's IP must be allow-listed) → ``api_token``, then ``api/sale/order.addHistory``;
4.1.x (no login route any more) ``api/order`` with ``call=history_add``, every request signed
(``opencart41_signature``). SHIPPED → status 3 with
carrier, tracking number and link in the comment, customer notified; COMPLETED → 5; CANCELLED → 7;
REFUNDED → 11 for the whole total (a status only: OpenCart moves no money), a comment for a part;
PROCESSING and RETURNED (a return resolved) → a comment, status unchanged. Every comment carries
``(ref: <update.key>)``; the history is read first (the extension's ``history`` route: OpenCart's API
has no history read) and an entry with the same status and marker means the update is already there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import quote_plus, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fulfillment.adapters.http_client import HttpClient, HttpResponse
from fulfillment.adapters.platforms.base import (
    PlatformAdapters,
    PlatformSpec,
    as_utc,
    first_error,
    from_unix,
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
    TransientError,
)
from fulfillment.model import Address, Customer, LineItem, Money, Order, Totals
from fulfillment.model.capabilities import NO_PAYMENT_API
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.order import StoreReturnReport
from fulfillment.model.payment import enters_fulfillment, platform_payment
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult, partial_shipment_note

EVENT = "order.history_added"
TOLERANCE_SECONDS = 300

PAID_STATUSES = frozenset({2, 3, 5, 15})
CANCELLED_STATUSES = frozenset({7, 8, 10, 14, 16})
REFUNDED_STATUSES = frozenset({11, 12, 13})
NOT_FULFILLABLE = CANCELLED_STATUSES | REFUNDED_STATUSES | {0}  # 0: a "missing" order, never confirmed
SHIPPED, COMPLETE, CANCELED, REFUNDED = 3, 5, 7, 11
DISCOUNT_CODES = frozenset({"coupon", "voucher", "reward", "credit", "discount"})
HISTORY_ROUTE = "extension/order_webhook/module/order_webhook.history"


class _Lenient(BaseModel):
    # OpenCart's getOrder() sends numbers as strings, the envelope sends them as numbers: take both.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class OcAddress(_Lenient):
    firstname: str = ""
    lastname: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    postcode: str = ""
    zone: str = ""
    zone_code: str = ""
    iso_code_2: str = ""

    def to_address(self, phone: str) -> Address:
        return Address(
            name=f"{self.firstname} {self.lastname}".strip(),
            company=self.company,
            lines=tuple(line for line in (self.address_1, self.address_2) if line),
            city=self.city,
            region=self.zone_code or self.zone,
            postal_code=self.postcode,
            country=self.iso_code_2.upper(),
            phone=phone,
        )


class OcProduct(_Lenient):
    order_product_id: str
    product_id: str = "0"
    name: str
    model: str = ""
    quantity: int
    price: str  # per unit, before tax


class OcTotal(_Lenient):
    code: str
    value: str


class OcOrder(_Lenient):
    order_id: str
    store_url: str = ""
    customer_id: str = "0"
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    telephone: str = ""
    billing: OcAddress
    shipping: OcAddress
    total: str
    order_status_id: int
    currency_code: str
    currency_value: str = "1"
    date_added: datetime
    date_modified: datetime | None = None
    products: list[OcProduct]
    totals: list[OcTotal] = Field(default_factory=list)
    # OpenCart 4: {"name", "code": "cod.cod"}; OpenCart 3: the name here and the code in payment_code.
    payment_method: dict[str, Any] | str | None = None
    payment_code: str = ""

    def payment_gateway(self) -> str:
        if isinstance(self.payment_method, dict):
            return str(self.payment_method.get("code") or "").partition(".")[0]
        return self.payment_code

    @model_validator(mode="before")
    @classmethod
    def _group_addresses(cls, data: Any) -> Any:
        """getOrder() flattens both addresses into ``payment_*`` and ``shipping_*`` columns."""
        if not isinstance(data, Mapping):
            return data
        grouped = dict(data)
        for prefix, name in (("payment_", "billing"), ("shipping_", "shipping")):
            grouped[name] = {key.removeprefix(prefix): value for key, value in data.items() if key.startswith(prefix)}
        return grouped


class OcArgs(_Lenient):
    comment: str | None = None


class OcEnvelope(_Lenient):
    event_id: str | None = None
    event: str
    occurred_at: int | None = None
    store_url: str | None = None
    args: OcArgs | None = None
    previous_order_status_id: int | None = None
    order: OcOrder | None = None


def opencart_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac_sha256_base64(secret.encode(), f"{int(timestamp.strip())}.".encode() + body)


def paid_status_ids(store: Store) -> frozenset[int]:
    configured = store.options.get("paid_status_ids", "")
    ids = frozenset(int(part) for part in configured.replace(" ", "").split(",") if part.isdigit())
    return ids or PAID_STATUSES


class OpenCartInbound:
    """Reads our extension's deliveries."""

    name = "opencart"

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        return None  # the extension registers nothing with us: every request is a signed delivery

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        timestamp = request.header("x-oc-webhook-timestamp")
        require_fresh(timestamp, now, TOLERANCE_SECONDS)
        assert timestamp is not None  # require_fresh refuses a missing one
        expected = opencart_signature(credentials.webhook_secret, timestamp, request.body)
        if not same_signature(expected, request.header("x-oc-webhook-signature")):
            raise InvalidSignature("X-OC-Webhook-Signature does not match the timestamp and body")

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        paid = paid_status_ids(store)
        try:
            envelope = OcEnvelope.model_validate_json(request.body)
        except ValidationError as exc:
            raise MalformedPayload(f"not an OpenCart order event: {first_error(exc)}") from exc
        event_id = envelope.event_id or request.header("x-oc-webhook-id")
        identity = envelope.store_url or (envelope.order.store_url if envelope.order else None) or None

        def event(**outcome: Any) -> InboundEvent:
            return InboundEvent(
                platform=self.name, topic=envelope.event, event_id=event_id, store_identity=identity, **outcome
            )

        if envelope.event != EVENT:
            return event(ignore_reason=f"event {envelope.event} is not an order history change")
        if envelope.order is None:
            raise MalformedPayload("order: the order.history_added event carries no order")
        order_id = envelope.order.order_id
        if envelope.order.order_status_id == 0:
            return event(external_order_id=order_id, ignore_reason="order never confirmed (status 0: a checkout left)")
        try:
            order = to_order(envelope.order, store, envelope.occurred_at, paid)
        except (ValidationError, InvalidMoney, ValueError) as exc:
            raise MalformedPayload(f"not an OpenCart order: {first_error(exc)}") from exc
        report = _refund_report(envelope, event_id, order)
        if report is not None:
            order = order.model_copy(update={"reported_returns": (report,)})
        return event(external_order_id=order_id, order=order)


def _refund_report(envelope: OcEnvelope, event_id: str | None, order: Order) -> StoreReturnReport | None:
    """A change into Refunded: money only (OpenCart names no goods and moves no money; the status says all)."""
    raw = envelope.order
    if raw is None or raw.order_status_id != REFUNDED or envelope.previous_order_status_id == REFUNDED:
        return None
    if not event_id or order.refunded is None:
        return None  # nothing to take it once by
    return StoreReturnReport(
        external_id=f"status-refunded-{event_id}",
        reason=((envelope.args.comment if envelope.args else None) or "").strip(),
        refunded_minor=order.refunded.minor,
    )


_LARGEST = Decimal(10) ** 15  # as Money.parse: an amount (or a currency rate) this large is no amount


def _decimal(value: str, field: str) -> Decimal:
    try:
        amount = Decimal(value.strip())
    except InvalidOperation as exc:
        raise InvalidMoney(f"{field}: not an amount: {value!r}") from exc
    if not amount.is_finite() or abs(amount) >= _LARGEST:  # before the rate multiplies it past Decimal's range
        raise InvalidMoney(f"{field}: not an amount: {value!r}")
    return amount


def shop_utc_offset(occurred_at: int | None, local_modified: datetime | None) -> timedelta:
    """The shop's UTC offset, to the quarter hour: ``date_modified`` is local NOW() and ``occurred_at``
    is stamped by the extension in the same moment. Zero when either is missing or the gap is absurd."""
    if occurred_at is None or local_modified is None or local_modified.tzinfo is not None:
        return timedelta(0)
    gap = (local_modified - from_unix(occurred_at).replace(tzinfo=None)).total_seconds()
    quarters = round(gap / 900)
    return timedelta(seconds=quarters * 900) if abs(quarters) <= 14 * 4 else timedelta(0)


def _utc(local: datetime, offset: timedelta) -> datetime:
    return as_utc(local) if local.tzinfo is not None else (local - offset).replace(tzinfo=UTC)


def to_order(raw: OcOrder, store: Store, occurred_at: int | None, paid_statuses: frozenset[int]) -> Order:
    currency = raw.currency_code.upper()
    rate = _decimal(raw.currency_value, "currency_value")

    def money(value: str, field: str) -> Money:
        return Money.parse(_decimal(value, field) * rate, currency)

    def summed(codes: frozenset[str]) -> Money:
        return sum(
            (money(total.value, f"totals.{total.code}") for total in raw.totals if total.code in codes),
            Money.zero(currency),
        )

    lines = tuple(
        LineItem(
            line_id=product.order_product_id,
            sku=product.model.strip() or f"oc-product-{product.product_id}",
            name=product.name,
            quantity=product.quantity,
            unit_price=money(product.price, "products.price"),
        )
        for product in raw.products
    )
    grand_total = money(raw.total, "total")
    has_subtotal = any(total.code == "sub_total" for total in raw.totals)
    items = (
        summed(frozenset({"sub_total"}))
        if has_subtotal
        else sum((line.subtotal for line in lines), Money.zero(currency))
    )
    offset = shop_utc_offset(occurred_at, raw.date_modified)
    modified = from_unix(occurred_at) if occurred_at is not None else _utc(raw.date_modified or raw.date_added, offset)
    status = raw.order_status_id
    billing = raw.billing.to_address(raw.telephone)
    payment = platform_payment(paid=status in paid_statuses, gateway=raw.payment_gateway())
    return Order(
        store_id=store.store_id,
        platform="opencart",
        external_id=raw.order_id,
        number=raw.order_id,  # OpenCart shows customers the order id; invoice numbers come later, if ever
        currency=currency,
        customer=Customer(
            email=raw.email or None,
            name=f"{raw.firstname} {raw.lastname}".strip(),
            external_id=raw.customer_id if raw.customer_id not in ("", "0") else None,
        ),
        billing_address=billing,
        shipping_address=raw.shipping.to_address(raw.telephone) if raw.shipping.address_1 else billing,
        lines=lines,
        totals=Totals(
            items=items,
            shipping=summed(frozenset({"shipping"})),
            tax=summed(frozenset({"tax"})),
            discount=Money(minor=-summed(DISCOUNT_CODES).minor, currency=currency),
            grand_total=grand_total,
        ),
        placed_at=_utc(raw.date_added, offset),
        source_modified_at=modified,
        # OpenCart has no payment API: a paid status is paid; cash on delivery ("cod") is fulfilled while pending.
        paid=enters_fulfillment(payment, status in paid_statuses) and status not in NOT_FULFILLABLE,
        payment=payment,
        cancelled=status in CANCELLED_STATUSES or status in REFUNDED_STATUSES,
        refunded=grand_total if status in REFUNDED_STATUSES else None,
    )


# --- write-back -----------------------------------------------------------------------------------
class OcHistory(_Lenient):
    order_history_id: str | None = None
    order_status_id: int
    comment: str = ""


class OcHistoryAnswer(_Lenient):
    order_status_id: int
    histories: list[OcHistory]


SIGNED_API_SINCE = (4, 1, 0, 0)
DEFAULT_VERSION = "4.0.2.3"


def release(credentials: StoreCredentials) -> tuple[int, ...]:
    """The shop's OpenCart release (``extra["opencart_version"]``, e.g. "4.1.0.4"; 4.0.2.3 if unset)."""
    text = credentials.extra.get("opencart_version", DEFAULT_VERSION)
    parts = tuple(int(part) for part in text.split(".") if part.isdigit())
    if len(parts) < 2:
        raise PlatformRejected(f"opencart_version {text!r} is not an OpenCart release (e.g. 4.1.0.4)")
    return parts


def php_urlencode(text: str) -> str:
    """PHP's ``urlencode`` (``http_build_query``'s default, RFC 1738): every byte but ``A-Za-z0-9-_.`` is
    %-encoded and a space is ``+``; Python's ``quote_plus`` keeps ``~``, PHP does not."""
    return quote_plus(text, safe="").replace("~", "%7E")


def opencart_clean(text: str) -> str:
    """What OpenCart's Request holds for a submitted value (system/library/request.php ``clean``):
    ``trim(htmlspecialchars($value, ENT_COMPAT, 'UTF-8'))`` — ``&``, ``<``, ``>`` and ``"`` escaped."""
    return html.escape(text, quote=False).replace('"', "&quot;").strip(" \t\n\r\0\x0b")


def opencart41_signature(
    key: str,
    *,
    route: str,
    call: str,
    username: str,
    host: str,
    path: str,
    store_id: str,
    language: str,
    currency: str,
    form: Mapping[str, str],
    time: str,
) -> str:
    """OpenCart 4.1's catalog API signature (catalog/controller/startup/api.php, 4.1.0.0–4.1.0.4): base64 of the
    raw HMAC-SHA1 with the API key over route, call, username, HTTP host, path (``dirname(PHP_SELF)`` with a
    trailing ``/``), store id, language, currency, the md5 of ``http_build_query`` of the cleaned form, and the
    time, each followed by a newline."""
    query = "&".join(f"{php_urlencode(k)}={php_urlencode(opencart_clean(v))}" for k, v in form.items())
    digest = hashlib.md5(query.encode(), usedforsecurity=False).hexdigest()  # OpenCart's choice, not ours
    fields = [route, call, username, host, path, store_id, language, currency, digest]
    message = "".join(f"{field}\n" for field in [*fields, time])
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha1).digest()).decode()


class OpenCartApi(Protocol):
    def history(self, order_id: str) -> OcHistoryAnswer: ...

    def add_history(self, order_id: str, status_id: int, comment: str, *, notify: bool, currency: str) -> None: ...


def open_api(http: HttpClient, store: Store, credentials: StoreCredentials) -> OpenCartApi:
    """The catalog API of the shop's release: 4.1 signs every request (and has no api/account/login), 4.0.2.x
    logs in for an ``api_token``."""
    if release(credentials) >= SIGNED_API_SINCE:
        return OpenCartSignedApi(http, store, credentials)
    return OpenCartSession(http, store, credentials)


class _Caller:
    """``index.php?route=…`` form posts and JSON answers; OpenCart answers its own refusals with HTTP 200 and
    ``{"error": …}`` (4.1's signature check with 403 and the same): those become PlatformRejected."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        base = credentials.api_base_url or store.site_url
        if not base:
            raise PlatformRejected(f"store {store.store_id} has neither an api_base_url nor a site_url")
        if not credentials.api_key or not credentials.api_secret:
            raise PlatformRejected(
                f"store {store.store_id} has no OpenCart API username (api_key) and key (api_secret)"
            )
        self._http = http
        self._base = base.rstrip("/")
        self._entry = f"{self._base}/index.php"
        self._username, self._key = credentials.api_key, credentials.api_secret

    def _call(
        self,
        route: str,
        *,
        query: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> dict[str, Any]:
        """GET, or POST a form; a POST is sent once unless ``retry`` (the next apply looks before it writes)."""
        url = f"{self._entry}?{urlencode({'route': route, **(query or {})})}"
        if form is None:
            response = self._http.request("GET", url)
        else:
            response = self._http.request(
                "POST",
                url,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data=urlencode(form).encode(),
                retry=retry,
            )
        return _answer(route, response)


class OpenCartSession(_Caller):
    """OpenCart 4.0.2.x: ``api/account/login`` (username + key, the caller's IP allow-listed) → ``api_token``,
    then ``api/sale/order.addHistory`` (catalog/controller/api/sale/order.php ``addHistory``)."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        super().__init__(http, store, credentials)
        login = {"username": self._username, "key": self._key}
        answer = self._call("api/account/login", form=login, retry=True)  # a second session harms nothing
        token = answer.get("api_token")
        if not isinstance(token, str) or not token:
            raise PlatformRejected("api/account/login answered no api_token")
        self._token = token

    def history(self, order_id: str) -> OcHistoryAnswer:
        return _history(self._call(HISTORY_ROUTE, query={"api_token": self._token, "order_id": order_id}))

    def add_history(self, order_id: str, status_id: int, comment: str, *, notify: bool, currency: str) -> None:
        del currency  # 4.0.2.x sessions carry the store's own
        self._call(
            "api/sale/order.addHistory",
            query={"api_token": self._token},
            form=_history_form(order_id, status_id, comment, notify),
        )


class OpenCartSignedApi(_Caller):
    """OpenCart 4.1: the catalog API lets only ``api/order`` and ``api/subscription`` through, each request signed
    (``opencart41_signature``) and naming its ``call``; history is ``route=api/order&call=history_add``
    (catalog/controller/api/order.php). The extension's history route checks the same signature, ``call=history``.
    ``extra``: ``store_id`` (0), ``language`` (the shop's default, "en-gb")."""

    def __init__(self, http: HttpClient, store: Store, credentials: StoreCredentials) -> None:
        super().__init__(http, store, credentials)
        parts = urlsplit(self._base)
        self._host = parts.netloc  # HTTP_HOST as the shop sees it: host, and the port when not the default
        self._path = parts.path.rstrip("/") + "/"  # dirname(PHP_SELF) of <base>/index.php, with its "/"
        self._store_id = credentials.extra.get("store_id", "0")
        self._language = credentials.extra.get("language", "en-gb")

    def _signed(self, route: str, call: str, currency: str, form: Mapping[str, str] | None) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = opencart41_signature(
            self._key,
            route=route,
            call=call,
            username=self._username,
            host=self._host,
            path=self._path,
            store_id=self._store_id,
            language=self._language,
            currency=currency,
            form=form or {},
            time=stamp,
        )
        return {
            "call": call,
            "username": self._username,
            "store_id": self._store_id,
            "language": self._language,
            "currency": currency,
            "time": stamp,
            "signature": signature,
        }

    def history(self, order_id: str) -> OcHistoryAnswer:
        query = self._signed(HISTORY_ROUTE, "history", "", None) | {"order_id": order_id}
        return _history(self._call(HISTORY_ROUTE, query=query))

    def add_history(self, order_id: str, status_id: int, comment: str, *, notify: bool, currency: str) -> None:
        form = _history_form(order_id, status_id, comment, notify)
        self._call("api/order", query=self._signed("api/order", "history_add", currency, form), form=form)


def _history_form(order_id: str, status_id: int, comment: str, notify: bool) -> dict[str, str]:
    return {
        "order_id": order_id,
        "order_status_id": str(status_id),
        "comment": comment,
        "notify": "1" if notify else "0",
        "override": "0",
    }


def _history(answer: dict[str, Any]) -> OcHistoryAnswer:
    try:
        return OcHistoryAnswer.model_validate(answer)
    except ValidationError as exc:
        raise PlatformRejected(f"the order history answer cannot be read: {first_error(exc)}") from exc


def _answer(route: str, response: HttpResponse) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError as exc:  # an HTML page: the route does not exist or the shop is in maintenance
        raise PlatformRejected(f"{route} answered something that is not JSON", response.status) from exc
    if not isinstance(answer, dict):
        raise PlatformRejected(f"{route} answered {type(answer).__name__}, not an object", response.status)
    if answer.get("error"):
        error = answer["error"]
        text = "; ".join(str(v) for v in error.values()) if isinstance(error, dict) else str(error)
        raise PlatformRejected(f"{route}: {text}", response.status, str(answer))
    return answer


def marker(update: StoreUpdate) -> str:
    return f"(ref: {update.key})"


class OpenCartWriteBack:
    """History entries through the catalog API; see the module docstring for what each kind writes."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
        order_id = update.order.external_id
        if not order_id.isdigit():
            raise OrderInvalid(f"{order_id!r} is not an OpenCart order id")
        status_id, comment, notify = _entry(update, credentials)
        session = open_api(self._http, store, credentials)
        history = session.history(order_id)
        for entry in history.histories:
            # A note (no status of its own) counts whatever status the order had when it was written.
            if marker(update) in entry.comment and status_id in (None, entry.order_status_id):
                return WriteBackResult(done=True, already=True, reference=entry.order_history_id)
        target = history.order_status_id if status_id is None else status_id
        session.add_history(order_id, target, comment, notify=notify, currency=update.order.currency)
        return WriteBackResult(done=True)


def _entry(update: StoreUpdate, credentials: StoreCredentials) -> tuple[int | None, str, bool]:
    """(status id, or None for a note that keeps the order's status; comment; notify the customer)."""
    extra = credentials.extra
    ref = marker(update)
    match update.kind:
        case UpdateKind.SHIPPED:
            if not update.tracking_number:
                raise OrderInvalid(f"order {update.order.key}: a shipment write-back needs a tracking number")
            parts = [f"Shipped with {update.carrier or 'carrier'}, tracking number {update.tracking_number}"]
            if update.tracking_url:
                parts.append(update.tracking_url)
            partial = partial_shipment_note(update.order)
            if partial:  # OpenCart's history has no per-product shipment: the comment says what is missing
                parts.append(partial)
            return _status(extra, "shipped_status_id", SHIPPED), " ".join([*parts, ref]), True
        case UpdateKind.COMPLETED:
            return _status(extra, "complete_status_id", COMPLETE), f"Delivered and completed {ref}", False
        case UpdateKind.CANCELLED:
            return _status(extra, "canceled_status_id", CANCELED), f"{update.reason or 'Cancelled'} {ref}", False
        case UpdateKind.REFUNDED:
            total = update.order.totals.grand_total
            amount = update.amount or total
            if amount.currency != total.currency or amount.minor <= 0:
                raise OrderInvalid(f"order {update.order.key}: cannot record a refund of {amount}")
            text = f"{update.reason or 'Refunded'}: {amount} {ref}"
            if amount.minor >= total.minor:
                return _status(extra, "refunded_status_id", REFUNDED), text, False
            return None, text, False  # OpenCart has no partially-refunded status: a note
        case UpdateKind.PROCESSING:
            return None, f"Accepted for fulfillment {ref}", False
        case UpdateKind.RETURNED:
            return None, f"{update.reason or 'Return resolved'} {ref}", False


def _status(extra: Mapping[str, str], key: str, default: int) -> int:
    value = extra.get(key, "")
    return int(value) if value.isdigit() else default


def check(http: HttpClient) -> Callable[[Store, StoreCredentials], list[str]]:
    """Onboarding: read the history of an order no shop has through the release's API: "not found" means the API
    user, its key and this service's IP (the API user's allow-list) all let us in."""

    def run(store: Store, credentials: StoreCredentials) -> list[str]:
        try:
            open_api(http, store, credentials).history("999999999")
        except PlatformRejected as refused:
            if refused.status == 404:
                return []
            signed = release(credentials) >= SIGNED_API_SINCE
            hint = (
                "the API user (Admin > System > Users > API) with that username and key, enabled, with this "
                "service's outgoing IP on its IP addresses tab, and the order_webhook extension installed"
            )
            if not signed and refused.status == 403:
                hint += "; a 4.1 shop refuses api/account/login: register extra.opencart_version (e.g. 4.1.0.4)"
            return [f"OpenCart refused the API call ({refused.status}: {refused}); check {hint}"]
        except TransientError as unreachable:
            return [f"OpenCart could not be reached: {unreachable}"]
        return []

    return run


def build(http: HttpClient) -> PlatformAdapters:
    return PlatformAdapters(inbound=OpenCartInbound(), write_back=OpenCartWriteBack(http), check=check(http))


def sign_sample(body: bytes, headers: dict[str, str], secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A sample delivery stamped ``now`` and signed again, as the extension signs it."""
    stamp = str(int(now))
    return body, headers | {
        "X-OC-Webhook-Timestamp": stamp,
        "X-OC-Webhook-Signature": opencart_signature(secret, stamp, body),
    }


SPEC = PlatformSpec(
    name="opencart",
    title="OpenCart",
    build=build,
    identity_key="site_url",
    paid_sample="02_order_status_processing_paid.json",
    sign_sample=sign_sample,
    signs_timestamp=True,
    payments=NO_PAYMENT_API,  # OpenCart has no payment API; our extension only reports orders
)
