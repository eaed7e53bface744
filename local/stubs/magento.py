"""A Magento 2 shop's REST API (and Adobe I/O's key host) on a ``StubApi``, for tests and the local runtime.

Serves the demo shop (integration token ``API_TOKEN``): order 318 from
``events/magento/rest_GET_V1_orders_318.json`` (paid: invoiced, processing), and 319, the same order authorized
only (nothing invoiced, ``total_due`` the total), captured by an invoice with ``capture: true`` (``ledger``).
``GET /V1/invoices`` lists the invoices (318's from its sample); ``POST /V1/invoice/{id}/refund`` is a credit memo
against one, online where the method captured it online; every capture, refund and void is in ``ledger``.
Use the shop's root (``api.url``) as the store's ``api_base_url`` and as ``extra["adobe_key_base_url"]``: Adobe I/O's
test public keys are served at ``/prod/keys/pub-key{1,2}.pem``, as the sample deliveries name them.

Write-backs take effect roughly as on Magento: a shipment counts its items shipped (an invoiced,
fully shipped order becomes ``complete``); a credit memo raises ``total_refunded`` (all of it:
``closed``); cancel answers ``false`` for fully invoiced or finished orders, as ``canCancel()``
does; a comment is prepended to ``status_histories``. Every change moves ``updated_at``, so later
reads see the effects; ``writes`` records every accepted write.

Authentication as a default Magento 2.4.4+ install: the integration's access token is no standalone Bearer token
(``oauth/consumer/enable_integration_as_bearer`` is off: 401 "The consumer isn't authorized to access
%resources."; ``integration_as_bearer=True`` is a shop that enabled it), and requests are signed with OAuth 1.0a:
the ``oauth_*`` parameters of the ``Authorization: OAuth`` header with the query parameters, HMAC-SHA1 or
HMAC-SHA256, the URL without its query, a nonce used once (magento2 ``Framework/Oauth/Helper/Request.php``,
``Oauth.php``, ``Helper/Signature/Hmac.php``; 401 "The signature is invalid. Verify and try again.").

Multi-Source Inventory: ``sources`` names the shop's inventory sources; with more than one, a shipment must name
its source in ``arguments.extension_attributes.source_code`` (InventoryShipping deducts from it and falls back to
the default source only in single-source mode), and the shipment records it in its ``extension_attributes``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fulfillment.adapters.platforms.magento import OFFLINE_METHODS
from local.money_ledger import Kind, MoneyLedger
from local.stub_api import StubApi, StubRequest

API_TOKEN = "magento-demo-token"  # noqa: S105 - a local stub's fixed token, not a secret
# The demo integration's OAuth consumer and access token secret (Magento shows all four on activation).
CONSUMER_KEY = "magento-demo-consumer"
CONSUMER_SECRET = "magento-demo-consumer-secret"  # noqa: S105 - a local stub's fixed credential
ACCESS_TOKEN_SECRET = "magento-demo-token-secret"  # noqa: S105 - a local stub's fixed credential
DEMO_ORDER_ID = 318
EVENTS = Path(__file__).resolve().parents[2] / "events" / "magento"

ORDER_PATH = r"/rest/V1/orders/(\d+)"
SHIPMENTS_PATH = r"/rest/V1/shipments"
SHIP_PATH = r"/rest/V1/order/(\d+)/ship"
CREDITMEMOS_PATH = r"/rest/V1/creditmemos"
REFUND_PATH = r"/rest/V1/order/(\d+)/refund"
CANCEL_PATH = r"/rest/V1/orders/(\d+)/cancel"
COMMENTS_PATH = r"/rest/V1/orders/(\d+)/comments"
INVOICE_PATH = r"/rest/V1/order/(\d+)/invoice"
INVOICES_PATH = r"/rest/V1/invoices"  # InvoiceRepositoryInterface getList (searchCriteria, e.g. by order_id)
INVOICE_REFUND_PATH = r"/rest/V1/invoice/(\d+)/refund"  # salesRefundInvoiceV1: a credit memo against an invoice
CASH_ON_DELIVERY_ORDER_ID = 320  # 318 again, cash on delivery: new, nothing invoiced until the carrier collects
AUTHORIZED_ORDER_ID = 319  # 318 again, authorized only (an authorize-only method): captured by invoicing it
ADOBE_KEY_PATH = r"/prod/keys/pub-key([12])\.pem"
SOURCES_PATH = r"/rest/V1/inventory/sources"  # MSI's SourceRepositoryInterface getList

Answer = tuple[int, Any]
_NOT_FOUND = "The entity that was requested doesn't exist. Verify the entity and try again."
_FILTER = "searchCriteria[filter_groups][0][filters][0]"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _dec(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value or 0))


def _number(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _error(status: int, message: str) -> Answer:
    return status, {"message": message}


class MagentoShop:
    """The demo shop's state, and the routes that read and change it."""

    def __init__(
        self,
        token: str = API_TOKEN,
        *,
        integration_as_bearer: bool = False,
        sources: tuple[str, ...] = ("default",),
    ) -> None:
        self.token = token
        self.integration_as_bearer = integration_as_bearer
        self.sources = sources
        self.base_url = ""
        self._nonces: set[str] = set()
        self.orders: dict[int, dict[str, Any]] = {}
        self.shipments: list[dict[str, Any]] = []
        self.creditmemos: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, Any]] = []
        self._next_id = {"shipment": 51, "creditmemo": 28, "history": 800, "track": 61, "invoice": 40}
        self._lock = threading.Lock()
        self.add_order(json.loads((EVENTS / "rest_GET_V1_orders_318.json").read_text(encoding="utf-8")))
        self.add_order(_authorized(self.orders[DEMO_ORDER_ID], AUTHORIZED_ORDER_ID))
        self.add_order(_cash_on_delivery(self.orders[DEMO_ORDER_ID], CASH_ON_DELIVERY_ORDER_ID))
        self.ledger = MoneyLedger()  # the money this shop really moved, per order id
        # 318 is invoiced in its sample (total_invoiced = grand_total): its invoice, as GET /V1/invoices lists it.
        self.invoices: list[dict[str, Any]] = [self._invoice_row(self.orders[DEMO_ORDER_ID], self._take("invoice"))]

    def add_order(self, order: dict[str, Any]) -> None:
        """Serve this REST order (e.g. a sample delivery's ``data``) under its ``entity_id``."""
        self.orders[int(order["entity_id"])] = copy.deepcopy(order)

    def install(self, api: StubApi) -> None:
        self.base_url = api.url
        routes: list[tuple[str, str, Callable[[StubRequest, re.Match[str]], Answer]]] = [
            ("GET", ORDER_PATH, self._get_order),
            ("GET", SHIPMENTS_PATH, self._list(self.shipments)),
            ("POST", SHIP_PATH, self._ship),
            ("GET", CREDITMEMOS_PATH, self._list(self.creditmemos)),
            ("POST", REFUND_PATH, self._refund),
            ("POST", CANCEL_PATH, self._cancel),
            ("POST", COMMENTS_PATH, self._comment),
            ("POST", INVOICE_PATH, self._invoice),
            ("GET", INVOICES_PATH, self._list(self.invoices)),
            ("POST", INVOICE_REFUND_PATH, self._refund_invoice),
            ("GET", SOURCES_PATH, self._sources),
        ]
        for method, path, handler in routes:
            api.route(method, path, self._authorized(handler))
        api.route("GET", ADOBE_KEY_PATH, self._adobe_key)
        self.ledger.install(api)

    def _authorized(
        self, handler: Callable[[StubRequest, re.Match[str]], Answer]
    ) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            refusal = self._refusal(request)
            if refusal:
                return _error(401, refusal)
            with self._lock:
                return handler(request, match)

        return answer

    def _refusal(self, request: StubRequest) -> str | None:
        header = request.headers.get("authorization") or ""
        if header == f"Bearer {self.token}":
            return None if self.integration_as_bearer else "The consumer isn't authorized to access %resources."
        if not header.lower().startswith("oauth "):
            return "The consumer isn't authorized to access %resources."
        params = {  # Request::_processHeader: name="value" pairs after "OAuth ", raw-url-decoded
            unquote(name.strip()): unquote(value.strip().strip('"'))
            for name, _, value in (pair.partition("=") for pair in header[6:].split(","))
            if name.strip().startswith("oauth_")
        }
        algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(
            params.get("oauth_signature_method", "")
        )
        if (
            algorithm is None
            or params.get("oauth_consumer_key") != CONSUMER_KEY
            or params.get("oauth_token") != self.token
        ):
            return "The consumer isn't authorized to access %resources."
        with self._lock:
            if params.get("oauth_nonce", "") in self._nonces:
                return "The nonce is already being used by the consumer with ID 1."
            self._nonces.add(params.get("oauth_nonce", ""))
        signed = {k: v for k, v in params.items() if k != "oauth_signature"} | request.query
        pairs = sorted((quote(k, safe="~"), quote(v, safe="~")) for k, v in signed.items())
        base = "&".join(
            quote(part, safe="~")
            for part in (request.method.upper(), self.base_url + request.path, "&".join(f"{k}={v}" for k, v in pairs))
        )
        key = f"{quote(CONSUMER_SECRET, safe='~')}&{quote(ACCESS_TOKEN_SECRET, safe='~')}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), algorithm).digest()).decode()
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            return "The signature is invalid. Verify and try again."
        return None

    def _sources(self, request: StubRequest, match: re.Match[str]) -> Answer:
        items = [{"source_code": code, "name": code, "enabled": True} for code in self.sources]
        return 200, {"items": items, "search_criteria": {}, "total_count": len(items)}

    @staticmethod
    def _adobe_key(request: StubRequest, match: re.Match[str]) -> Answer:
        # StubApi answers JSON: the PEM text goes out as a JSON string (the adapter accepts both).
        return 200, (EVENTS / "test-keys" / f"adobe-io-pub-key{match[1]}.pem").read_text(encoding="ascii")

    def _order(self, match: re.Match[str]) -> dict[str, Any] | None:
        return self.orders.get(int(match[1]))

    def _get_order(self, request: StubRequest, match: re.Match[str]) -> Answer:
        order = self._order(match)
        return (200, copy.deepcopy(order)) if order is not None else _error(404, _NOT_FOUND)

    @staticmethod
    def _list(documents: list[dict[str, Any]]) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            field, value = request.query.get(f"{_FILTER}[field]"), request.query.get(f"{_FILTER}[value]")
            found = [doc for doc in documents if field is None or str(doc.get(field)) == value]
            return 200, {"items": copy.deepcopy(found), "search_criteria": {}, "total_count": len(found)}

        return answer

    def _record(self, request: StubRequest, order: dict[str, Any]) -> Any:
        body = request.json() or {}
        self.writes.append((request.method, request.path, body))
        order["updated_at"] = _now()
        return body

    def _ship(self, request: StubRequest, match: re.Match[str]) -> Answer:
        order = self._order(match)
        if order is None:
            return _error(404, _NOT_FOUND)
        if order["state"] in {"canceled", "closed", "complete"}:
            return _error(400, "Shipment Document Validation Error(s):\nThe order does not allow a shipment.")
        source = ((request.json() or {}).get("arguments") or {}).get("extension_attributes", {}).get("source_code")
        if source is None and len(self.sources) > 1:
            return _error(400, "Source code is required for the shipment in multi-source mode.")
        if source is not None and source not in self.sources:
            return _error(400, f'Source "{source}" does not exist.')
        body = self._record(request, order)
        by_id = {item["item_id"]: item for item in order["items"]}
        for line in body.get("items") or []:
            item = by_id.get(line["order_item_id"])
            if item is None or _dec(line["qty"]) > _dec(item["qty_ordered"]) - _dec(item.get("qty_shipped")):
                return _error(
                    400, "Shipment Document Validation Error(s):\nYou can't create a shipment without products."
                )
            for shipped in [
                item,
                *(child for child in order["items"] if child.get("parent_item_id") == item["item_id"]),
            ]:
                shipped["qty_shipped"] = float(_dec(shipped.get("qty_shipped")) + _dec(line["qty"]))
        shipment_id = self._take("shipment")
        tracks = [
            {**track, "entity_id": self._take("track"), "parent_id": shipment_id, "order_id": order["entity_id"]}
            for track in body.get("tracks") or []
        ]
        self.shipments.append(
            {
                "entity_id": shipment_id,
                "order_id": order["entity_id"],
                "items": body.get("items"),
                "tracks": tracks,
                "extension_attributes": {"source_code": source or self.sources[0]},
            }
        )
        everything = all(_dec(i.get("qty_shipped")) >= _dec(i["qty_ordered"]) for i in order["items"])
        if everything and _dec(order.get("total_invoiced")) >= _dec(order["grand_total"]):
            order["state"] = order["status"] = "complete"
        return 200, shipment_id

    def _refund(self, request: StubRequest, match: re.Match[str]) -> Answer:
        """``POST /V1/order/{id}/refund`` (salesRefundOrderV1): an offline credit memo, recorded in Magento, no
        money moved (ledger ``online=False``). Answers the credit memo id.
        https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-issue-refund/"""
        order = self._order(match)
        if order is None:
            return _error(404, _NOT_FOUND)
        return self._credit_memo(request, order, None)

    def _refund_invoice(self, request: StubRequest, match: re.Match[str]) -> Answer:
        """``POST /V1/invoice/{invoiceId}/refund`` (salesRefundInvoiceV1): a credit memo against that invoice,
        ``isOnline: true`` asking the payment method to refund what the invoice captured. Answers the credit memo id
        as a bare integer (``RefundInvoiceInterface::execute`` returns int). Refused with 400 when it asks more than
        the invoice has left to refund ("The most money available to refund is …", as Magento's credit memo
        validation words it). The money moves only where magento2 ``Sales/Model/Order/Payment.php`` ``refund()``
        calls the gateway: online requested, a method that can refund, an invoice captured online (its
        ``transaction_id``); otherwise the memo is recorded offline (ledger ``online=False``).
        https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-issue-refund/"""
        invoice = next((row for row in self.invoices if row["entity_id"] == int(match[1])), None)
        if invoice is None:
            return _error(404, _NOT_FOUND)
        order = self.orders[int(invoice["order_id"])]
        method = str((order.get("payment") or {}).get("method") or "")
        online = (
            bool((request.json() or {}).get("isOnline"))
            and method not in OFFLINE_METHODS
            and bool(invoice.get("transaction_id"))
        )
        return self._credit_memo(request, order, invoice, online=online)

    def _credit_memo(
        self, request: StubRequest, order: dict[str, Any], invoice: dict[str, Any] | None, *, online: bool = False
    ) -> Answer:
        refundable = _dec(order.get("total_paid")) - _dec(order.get("total_refunded"))
        if invoice is not None:  # never more than this invoice captured less what was refunded against it
            refundable = min(refundable, _dec(invoice["grand_total"]) - _dec(invoice.get("base_total_refunded")))
        if order["state"] in {"canceled", "closed"} or refundable <= 0:
            return _error(400, "The order does not allow a creditmemo to be created.")
        body = request.json() or {}
        lines = body.get("items") or []
        quantities = {line["order_item_id"]: _dec(line["qty"]) for line in lines}
        if not lines:  # an empty list refunds every item (Magento's CreditmemoFactory)
            quantities = {item["item_id"]: _dec(item["qty_ordered"]) for item in order["items"]}
        by_id = {item["item_id"]: item for item in order["items"]}
        if any(item_id not in by_id for item_id in quantities):
            return _error(400, "The creditmemo contains an item that is not in the order.")
        total = sum((_dec(by_id[item_id]["price_incl_tax"]) * qty for item_id, qty in quantities.items()), Decimal(0))
        arguments = body.get("arguments") or {}
        shipping = arguments.get("shipping_amount", order.get("shipping_incl_tax"))
        total += (
            _dec(shipping) + _dec(arguments.get("adjustment_positive")) - _dec(arguments.get("adjustment_negative"))
        )
        if total <= 0 or total > refundable:
            return _error(400, f"The most money available to refund is {refundable}.")
        self._record(request, order)  # refused above: nothing written, nothing moved
        order["total_refunded"] = _number(_dec(order.get("total_refunded")) + total)
        if _dec(order["total_refunded"]) >= _dec(order["grand_total"]):
            order["state"] = order["status"] = "closed"
        memo_id = self._take("creditmemo")
        comment = (body.get("comment") or {}).get("comment")
        self.creditmemos.append(
            {
                "entity_id": memo_id,
                "order_id": order["entity_id"],
                "invoice_id": invoice["entity_id"] if invoice is not None else None,
                "grand_total": _number(total),
                "order_currency_code": order["order_currency_code"],
                "items": lines,
                "comments": [{"comment": comment, "parent_id": memo_id}] if comment else [],
            }
        )
        if invoice is not None:
            invoice["base_total_refunded"] = _number(_dec(invoice.get("base_total_refunded")) + total)
        self.ledger.record(str(order["entity_id"]), "refund", total, f"creditmemo-{memo_id}", online=online)
        return 200, memo_id

    def _cancel(self, request: StubRequest, match: re.Match[str]) -> Answer:
        """``POST /V1/orders/{id}/cancel`` answers ``false`` (HTTP 200) when ``Order::canCancel()`` is false: once
        every item is invoiced (money was captured: that takes a credit memo), or the order is finished, held or in
        payment review (magento2 ``Sales/Model/Order.php`` canCancel, ``OrderManagement::cancel``). Cancelling an
        order nothing was invoiced from releases its authorization (``Payment::cancel`` voids it): ledger ``void``."""
        order = self._order(match)
        if order is None:
            return _error(404, _NOT_FOUND)
        invoiced = all(_dec(i.get("qty_invoiced")) >= _dec(i["qty_ordered"]) for i in order["items"])
        if order["state"] in {"canceled", "complete", "closed", "holded", "payment_review"} or invoiced:
            return 200, False
        self._record(request, order)
        order["state"] = order["status"] = "canceled"
        for item in order["items"]:
            item["qty_canceled"] = item["qty_ordered"]
        authorized = _dec((order.get("payment") or {}).get("amount_authorized"))
        if authorized > 0 and _dec(order.get("total_paid")) <= 0:
            self.ledger.record(str(order["entity_id"]), "void", authorized, f"cancel-{order['entity_id']}")
        return 200, True

    def _comment(self, request: StubRequest, match: re.Match[str]) -> Answer:
        order = self._order(match)
        if order is None:
            return _error(404, _NOT_FOUND)
        history = self._record(request, order).get("statusHistory") or {}
        entry = {
            "comment": history.get("comment"),
            "created_at": order["updated_at"],
            "entity_id": self._take("history"),
            "entity_name": "order",
            "is_customer_notified": history.get("is_customer_notified", 0),
            "is_visible_on_front": history.get("is_visible_on_front", 0),
            "parent_id": order["entity_id"],
            "status": order["status"],  # adding a comment never changes the order's status
        }
        order.setdefault("status_histories", []).insert(0, entry)
        return 200, True

    def _invoice(self, request: StubRequest, match: re.Match[str]) -> Answer:
        """``POST /V1/order/{id}/invoice``: invoices every item not yet invoiced; with ``capture: true`` the
        method captures online (the money moves), without it the invoice is only recorded. An order with
        nothing left to invoice is refused with 400, as ``Order::canInvoice()`` refuses it; answers the
        invoice id. https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-create-invoice/"""
        order = self._order(match)
        if order is None:
            return _error(404, _NOT_FOUND)
        due = _dec(order.get("total_due"))
        if due <= 0 or order["state"] not in {"new", "processing"}:
            return _error(400, "The order does not allow an invoice to be created.")
        body = self._record(request, order)
        invoice_id = self._take("invoice")
        for item in order["items"]:
            item["qty_invoiced"] = item["qty_ordered"]
        for field in ("total_invoiced", "total_paid", "base_total_invoiced", "base_total_paid"):
            order[field] = order["grand_total"]
        order["total_due"] = order["base_total_due"] = 0.0
        order["state"] = order["status"] = "processing"
        online = bool(body.get("capture"))
        self.invoices.append(self._invoice_row(order, invoice_id, due, captured_online=online))
        # Online the method captured (InvoiceOrder -> PayOperation: $invoice->capture()); offline the invoice is only
        # marked paid ($invoice->pay(): a cash-on-delivery or check payment received outside Magento).
        # https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/Sales/Model/Order/Invoice/PayOperation.php
        kind: Kind = "capture" if online else "recorded_paid"
        self.ledger.record(str(order["entity_id"]), kind, due, f"invoice-{invoice_id}", online=online)
        return 200, invoice_id

    @staticmethod
    def _invoice_row(
        order: dict[str, Any], invoice_id: int, amount: Decimal | None = None, *, captured_online: bool = False
    ) -> dict[str, Any]:
        """An invoice as ``GET /V1/invoices`` lists it (SalesDataInvoiceInterface): state 2 is paid; a
        ``transaction_id`` only when the method captured online (what an online credit memo refunds)."""
        last = (order.get("payment") or {}).get("last_trans_id")
        return {
            "entity_id": invoice_id,
            "order_id": order["entity_id"],
            "grand_total": _number(amount if amount is not None else _dec(order["grand_total"])),
            "base_total_refunded": 0.0,
            "order_currency_code": order["order_currency_code"],
            "state": 2,
            "transaction_id": f"{last}-capture" if captured_online and last else None,
        }

    def _take(self, kind: str) -> int:
        self._next_id[kind] += 1
        return self._next_id[kind]


def _authorized(paid: dict[str, Any], entity_id: int) -> dict[str, Any]:
    """A paid order as an authorize-only method leaves it: processing, nothing invoiced, the total due."""
    order = copy.deepcopy(paid)
    order.update(entity_id=entity_id, increment_id=f"0000{entity_id}")
    for field in ("total_invoiced", "total_paid", "base_total_invoiced", "base_total_paid"):
        order[field] = 0.0
    order["total_due"] = order["base_total_due"] = order["grand_total"]
    order["payment"] = {
        **(order.get("payment") or {}),
        "method": "braintree",
        "amount_authorized": order["grand_total"],
    }
    order["payment"]["last_trans_id"] = "kx9t2c"
    for item in order["items"]:
        item["qty_invoiced"] = 0
        item["order_id"] = entity_id
    return order


def _cash_on_delivery(paid: dict[str, Any], entity_id: int) -> dict[str, Any]:
    """A paid order as Magento's offline method ``cashondelivery`` leaves it: state new (status pending), nothing
    invoiced or paid, the total due; invoiced (offline) once the cash is in."""
    order = _authorized(paid, entity_id)
    order.update(state="new", status="pending")
    order["payment"] = {key: value for key, value in order["payment"].items() if key != "amount_authorized"}
    order["payment"].update(method="cashondelivery", last_trans_id=None)
    return order


def install(api: StubApi) -> MagentoShop:
    shop = MagentoShop()
    shop.install(api)
    return shop


# What the end-to-end tests look for after the demo order 318 is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return (
        request.method == "POST"
        and request.path == "/rest/V1/order/318/ship"
        and tracking_number in request.body.decode()
    )


def wrote_completion(request: StubRequest) -> bool:
    return request.method == "POST" and request.path == "/rest/V1/orders/318/comments" and b"completed" in request.body
