"""A BigCommerce store's V2/V3 API on a ``StubApi``, for tests and the local runtime.

Serves the demo store (hash ``k3h9x2ab7q``, token ``API_TOKEN``): order 1187 from
``events/bigcommerce/rest_*.json``, and 1188 — the same order, cancelled, as sample delivery 06 names it; 1189, the
same order authorized only (``payment_status`` authorized): ``POST …/payment_actions/capture`` leaves it "capture
pending" until it settles (at the next read), when a ``capture`` transaction appears in ``GET
/v3/orders/{id}/transactions`` and in ``ledger``; ``POST …/payment_actions/void`` leaves it "void pending" until it
settles the same way (a ``void`` in ``ledger``; refused with 422 after a capture), and every refund is in ``ledger``
(``online`` unless the quote's method paid it offline). Write-backs take effect as on BigCommerce: ``PUT`` changes
the status or ``staff_notes``, a shipment marks its items shipped (status 2 or 3), a refund raises
``refunded_amount`` (status 14 or 4); every change moves ``date_modified``. Later reads see the effects, so
idempotency checks can be tested; ``writes`` records every accepted write. ``GET …/payment_actions/refunds`` lists
every refund recorded, ours and those ``refund_in_control_panel`` makes as a merchant would (``PRODUCT`` items by
order product id).
1190 is the same order shipped to two addresses (the torch to a second one), as BigCommerce keeps a multi-address
order: one shipping address row each, every product naming its ``order_address_id``. A shipment is for one
``order_address_id`` and only that address's products (V2 Order Shipments, "Create Order Shipment"); its
``tracking_carrier`` must be empty or a value of BigCommerce's published list (``tracking_carriers``), else 400.
"""

from __future__ import annotations

import copy
import email.utils
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fulfillment.adapters.platforms.bigcommerce import tracking_carriers
from local.money_ledger import Kind, MoneyLedger
from local.stub_api import StubApi, StubRequest

STORE_HASH = "k3h9x2ab7q"
API_TOKEN = "bc-demo-token"  # noqa: S105 - a local stub's fixed token, not a secret
EVENTS = Path(__file__).resolve().parents[2] / "events" / "bigcommerce"
MULTI_ADDRESS_ORDER = 1190
CASH_ON_DELIVERY_ORDER = 1191  # 1187 again, paid cash on delivery: Awaiting Payment (7) until the carrier collects

Answer = tuple[int, Any]
_STATUS_LABELS = (
    "Incomplete",
    "Pending",
    "Shipped",
    "Partially Shipped",
    "Refunded",
    "Cancelled",
    "Declined",
    "Awaiting Payment",
    "Awaiting Pickup",
    "Awaiting Shipment",
    "Completed",
    "Awaiting Fulfillment",
    "Manual Verification Required",
    "Disputed",
    "Partially Refunded",
)  # by status_id


_UNSETTLED = frozenset({"authorized", "capture pending", "void", "void pending"})  # nothing captured to refund


def _now() -> str:
    return email.utils.format_datetime(datetime.now(UTC))


def _error(status: int, message: str) -> Answer:
    return status, [{"status": status, "message": message}]


def _load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


class BigCommerceStore:
    """The demo store's state, and the routes that read and change it."""

    def __init__(self, store_hash: str = STORE_HASH, token: str = API_TOKEN) -> None:
        self.store_hash = store_hash
        self.token = token
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, list[dict[str, Any]]] = {}
        self.addresses: dict[int, list[dict[str, Any]]] = {}
        self.shipments: dict[int, list[dict[str, Any]]] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        self.writes: list[tuple[str, str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.transactions: dict[int, list[dict[str, Any]]] = {}
        self.ledger = MoneyLedger()  # the money this store really moved, per order id
        # Captures settle at the next read of the order or its transactions (BigCommerce captures asynchronously);
        # False keeps them pending.
        self.auto_settle = True
        self._pending_captures: dict[int, Decimal] = {}
        self._pending_voids: dict[int, Decimal] = {}
        self._next_transaction_id = 501
        self._next_shipment_id = 73  # sample delivery 05 names shipment 73
        self._next_refund_id = 41  # sample delivery 04 names refund 41
        self._lock = threading.Lock()
        self.add_order(
            _load("rest_GET_v2_orders_1187.json"),
            _load("rest_GET_v2_orders_1187_products.json"),
            _load("rest_GET_v2_orders_1187_shipping_addresses.json"),
        )
        self.add_order(*self._cancelled_copy(1188))
        self.add_order(*self._authorized_copy(1189))
        self.add_order(*self._two_address_copy(MULTI_ADDRESS_ORDER))
        self.add_order(*self._cash_on_delivery_copy(CASH_ON_DELIVERY_ORDER))

    def add_order(self, order: dict[str, Any], products: list[dict[str, Any]], addresses: list[dict[str, Any]]) -> None:
        order_id = int(order["id"])
        self.orders[order_id] = order
        self.products[order_id] = products
        self.addresses[order_id] = addresses
        self.shipments[order_id] = []
        self.refunds[order_id] = []
        status = str(order.get("payment_status") or "")
        event = {"authorized": "authorization", "captured": "purchase"}.get(status)
        self.transactions[order_id] = (
            [self._transaction(order_id, event, Decimal(order["total_inc_tax"]))] if event else []
        )

    def _transaction(self, order_id: int, event: str, amount: Decimal) -> dict[str, Any]:
        """One V3 transaction as ``GET /v3/orders/{id}/transactions`` lists it."""
        self._next_transaction_id += 1
        return {
            "id": self._next_transaction_id,
            "order_id": str(order_id),
            "event": event,
            "method": "credit_card",
            "amount": float(amount),
            "currency": self.orders[order_id]["currency_code"],
            "gateway": "braintree",
            "status": "ok",
            "date_created": _now(),
        }

    def _cancelled_copy(self, order_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        order, products, addresses = copy.deepcopy((self.orders[1187], self.products[1187], self.addresses[1187]))
        order.update(id=order_id, status_id=5, status="Cancelled", custom_status="Cancelled")
        for offset, row in enumerate(products, start=10):
            row.update(id=row["id"] + offset, order_id=order_id, order_address_id=addresses[0]["id"] + 1)
        addresses[0].update(id=addresses[0]["id"] + 1, order_id=order_id)
        return order, products, addresses

    def _authorized_copy(self, order_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """1187 again, authorized only (the store's gateway set to authorize; captured by us)."""
        order, products, addresses = copy.deepcopy((self.orders[1187], self.products[1187], self.addresses[1187]))
        order.update(id=order_id, status_id=11, status="Awaiting Fulfillment", payment_status="authorized")
        for offset, row in enumerate(products, start=20):
            row.update(id=row["id"] + offset, order_id=order_id, order_address_id=addresses[0]["id"] + 2)
        addresses[0].update(id=addresses[0]["id"] + 2, order_id=order_id)
        return order, products, addresses

    def _cash_on_delivery_copy(
        self, order_id: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """1187 again, paid with the offline method "Cash on Delivery": status 7 Awaiting Payment, no payment
        status and no transaction (an offline method takes nothing at checkout)."""
        order, products, addresses = copy.deepcopy((self.orders[1187], self.products[1187], self.addresses[1187]))
        order.update(
            id=order_id,
            status_id=7,
            status="Awaiting Payment",
            payment_status="",
            payment_method="Cash on Delivery",
            refunded_amount="0.0000",
        )
        for offset, row in enumerate(products, start=40):
            row.update(id=row["id"] + offset, order_id=order_id, order_address_id=addresses[0]["id"] + 40)
        addresses[0].update(id=addresses[0]["id"] + 40, order_id=order_id)
        return order, products, addresses

    def settle(self, order_id: int) -> None:
        """The gateway settles a pending capture (a ``capture`` transaction, ``payment_status`` captured) or void
        (a ``void`` transaction, status void)."""
        settlements: tuple[tuple[dict[int, Decimal], Kind, str], ...] = (
            (self._pending_captures, "capture", "captured"),
            (self._pending_voids, "void", "void"),
        )
        for pending, event, status in settlements:
            amount = pending.pop(order_id, None)
            if amount is None:
                continue
            transaction = self._transaction(order_id, event, amount)
            self.transactions[order_id].append(transaction)
            self.ledger.record(str(order_id), event, amount, f"transaction-{transaction['id']}")
            self.orders[order_id]["payment_status"] = status
            self._touch(order_id)

    def _read_order(self, _: StubRequest, order_id: int) -> Answer:
        if self.auto_settle:
            self.settle(order_id)
        return 200, self.orders[order_id]

    def _read_transactions(self, _: StubRequest, order_id: int) -> Answer:
        if self.auto_settle:
            self.settle(order_id)
        return 200, {"data": copy.deepcopy(self.transactions[order_id]), "meta": {}}

    def _capture(self, _: StubRequest, order_id: int) -> Answer:
        """Accepted for the gateway (201), settled later; only an ``authorized`` payment can be captured."""
        order = self.orders[order_id]
        if order.get("payment_status") != "authorized":
            return _error(422, f"The payment of order {order_id} cannot be captured ({order.get('payment_status')}).")
        order["payment_status"] = "capture pending"
        self._pending_captures[order_id] = Decimal(order["total_inc_tax"])
        self._touch(order_id)
        self.writes.append(("POST", f"/v3/orders/{order_id}/payment_actions/capture", None))
        return 201, {"data": {}, "meta": {}}

    def _void(self, _: StubRequest, order_id: int) -> Answer:
        """``POST /v3/orders/{id}/payment_actions/void``: accepted (201, an empty object) only while the payment is
        authorized; ``payment_status`` becomes "void pending" and the gateway voids later (settled as captures
        are: at the next read, a ``void`` transaction, status void, the ledger's void). Any other payment status
        is refused with 422, so a void after a capture moves nothing. BigCommerce Payment Actions, "Void":
        https://developer.bigcommerce.com/docs/rest-management/transactions/payment-actions#void"""
        order = self.orders[order_id]
        if order.get("payment_status") != "authorized":
            return _error(422, f"The payment of order {order_id} cannot be voided ({order.get('payment_status')}).")
        order["payment_status"] = "void pending"
        self._pending_voids[order_id] = Decimal(order["total_inc_tax"])
        self._touch(order_id)
        self.writes.append(("POST", f"/v3/orders/{order_id}/payment_actions/void", None))
        return 201, {"data": {}, "meta": {}}

    def _two_address_copy(self, order_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        order, products, addresses = copy.deepcopy((self.orders[1187], self.products[1187], self.addresses[1187]))
        order.update(id=order_id)
        home, office = addresses[0], copy.deepcopy(addresses[0])
        home.update(id=home["id"] + 20, order_id=order_id, items_total=3)
        office.update(
            id=home["id"] + 1,
            order_id=order_id,
            first_name="Dana",
            last_name="Whitfield",
            company="Whitfield Studio",
            street_1="455 Market St",
            city="San Francisco",
            zip="94105",
            state="California",
            items_total=1,
        )
        for row in products:
            torch = row["sku"] == "TORCH-CB-01"
            row.update(id=row["id"] + 30, order_id=order_id, order_address_id=(office if torch else home)["id"])
        return order, products, [home, office]

    def install(self, api: StubApi) -> None:
        self.ledger.install(api)
        v2 = rf"/stores/{re.escape(self.store_hash)}/v2/orders/(\d+)"
        v3 = rf"/stores/{re.escape(self.store_hash)}/v3/orders/(\d+)/payment_actions"
        routes: list[tuple[str, str, Callable[[StubRequest, int], Answer]]] = [
            ("GET", v2, self._read_order),
            ("PUT", v2, self._update_order),
            ("GET", rf"{v2}/products", lambda request, order_id: self._page(request, self.products[order_id])),
            (
                "GET",
                rf"{v2}/shipping_addresses",
                lambda request, order_id: self._page(request, self.addresses[order_id]),
            ),
            ("GET", rf"{v2}/shipments", lambda request, order_id: self._page(request, self.shipments[order_id])),
            ("POST", rf"{v2}/shipments", self._create_shipment),
            ("GET", rf"{v3}/refunds", lambda _, order_id: (200, {"data": self.refunds[order_id], "meta": {}})),
            ("POST", rf"{v3}/refund_quotes", self._quote),
            ("POST", rf"{v3}/refunds", self._create_refund),
            ("POST", rf"{v3}/capture", self._capture),
            ("POST", rf"{v3}/void", self._void),
            ("GET", rf"/stores/{re.escape(self.store_hash)}/v3/orders/(\d+)/transactions", self._read_transactions),
        ]
        for method, pattern, handler in routes:
            api.route(method, pattern, self._guarded(handler))
        # V3 webhooks (BigCommerce Webhooks API: list, create {scope, destination, is_active}, update)
        hooks = rf"/stores/{re.escape(self.store_hash)}/v3/hooks"
        api.route("GET", hooks, self._token_only(lambda _, __: (200, {"data": copy.deepcopy(self.hooks), "meta": {}})))
        api.route("POST", hooks, self._token_only(self._create_hook))
        api.route("PUT", rf"{hooks}/(\d+)", self._token_only(self._update_hook))

    def _token_only(
        self, handler: Callable[[StubRequest, re.Match[str]], Answer]
    ) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("x-auth-token") != self.token:
                return _error(401, "You don't have a valid API key.")
            with self._lock:
                return handler(request, match)

        return answer

    def _create_hook(self, request: StubRequest, _: re.Match[str]) -> Answer:
        body = request.json() or {}
        if not str(body.get("scope", "")).startswith("store/") or not str(body.get("destination", "")).startswith(
            "http"
        ):
            return 422, {"status": 422, "title": "scope and an https destination are required"}
        hook = {"id": 1000 + len(self.hooks), "is_active": bool(body.get("is_active", True)), **body}
        self.hooks.append(hook)
        self.writes.append(("POST", "/v3/hooks", body))
        return 200, {"data": hook, "meta": {}}

    def _update_hook(self, request: StubRequest, match: re.Match[str]) -> Answer:
        hook = next((h for h in self.hooks if h["id"] == int(match.group(1))), None)
        if hook is None:
            return 404, {"status": 404, "title": "Webhook not found"}
        hook.update(request.json() or {})
        self.writes.append(("PUT", f"/v3/hooks/{hook['id']}", request.json()))
        return 200, {"data": hook, "meta": {}}

    def _guarded(self, handler: Callable[[StubRequest, int], Answer]) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("x-auth-token") != self.token:
                return _error(401, "You don't have a valid API key.")
            order_id = int(match.group(1))
            with self._lock:
                if order_id not in self.orders:
                    return _error(404, "The requested resource was not found.")
                return handler(request, order_id)

        return answer

    @staticmethod
    def _page(request: StubRequest, rows: list[dict[str, Any]]) -> Answer:
        page, limit = int(request.query.get("page", "1")), int(request.query.get("limit", "50"))
        chunk = rows[(page - 1) * limit : page * limit]
        return (200, chunk) if chunk else (204, None)  # V2 answers an empty page with 204

    def _touch(self, order_id: int, status_id: int | None = None) -> None:
        order = self.orders[order_id]
        if status_id is not None:
            label = _STATUS_LABELS[status_id]
            order.update(status_id=status_id, status=label, custom_status=label)
        order["date_modified"] = _now()

    def _update_order(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        status_id = body.get("status_id")
        notes = body.get("staff_notes")
        if notes is None and status_id is None:
            return _error(400, "nothing to update: status_id or staff_notes")
        if status_id is not None and (not isinstance(status_id, int) or not 0 <= status_id < len(_STATUS_LABELS)):
            return _error(400, "status_id must be a status id from 0 to 14")
        if notes is not None and not isinstance(notes, str):
            return _error(400, "staff_notes must be a string")
        self.writes.append(("PUT", f"/v2/orders/{order_id}", body))
        if notes is not None:
            self.orders[order_id]["staff_notes"] = notes
        self._touch(order_id, status_id)
        return 200, self.orders[order_id]

    def _create_shipment(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        address_ids = {address["id"] for address in self.addresses[order_id]}
        if body.get("order_address_id") not in address_ids:
            return _error(400, "order_address_id is not an address of this order")
        rows = {row["id"]: row for row in self.products[order_id]}
        items = body.get("items") or []
        if not items:
            return _error(400, "items is required")
        if body.get("tracking_carrier") and body["tracking_carrier"] not in tracking_carriers():
            return _error(400, "tracking_carrier must be empty or a valid tracking carrier")
        for item in items:
            row = rows.get(item.get("order_product_id"))
            if row is None or row["order_address_id"] != body["order_address_id"]:
                return _error(400, f"order_product_id {item.get('order_product_id')} is not on this address")
            if not 0 < item.get("quantity", 0) <= row["quantity"] - row["quantity_shipped"]:
                return _error(400, f"quantity for order_product_id {row['id']} exceeds what is left to ship")
        for item in items:
            rows[item["order_product_id"]]["quantity_shipped"] += item["quantity"]
        shipment = {
            "id": self._next_shipment_id,
            "order_id": order_id,
            "customer_id": self.orders[order_id]["customer_id"],
            "order_address_id": body["order_address_id"],
            "date_created": _now(),
            "tracking_number": body.get("tracking_number", ""),
            "shipping_method": body.get("shipping_method", ""),
            "shipping_provider": body.get("shipping_provider", ""),
            "tracking_carrier": body.get("tracking_carrier", ""),
            "tracking_link": body.get("tracking_link", ""),
            "comments": body.get("comments", ""),
            "items": [
                {
                    "order_product_id": item["order_product_id"],
                    "product_id": rows[item["order_product_id"]]["product_id"],
                    "quantity": item["quantity"],
                }
                for item in items
            ],
        }
        self._next_shipment_id += 1
        self.shipments[order_id].append(shipment)
        self.writes.append(("POST", f"/v2/orders/{order_id}/shipments", body))
        all_shipped = all(row["quantity_shipped"] >= row["quantity"] for row in rows.values())
        self.orders[order_id]["items_shipped"] = sum(row["quantity_shipped"] for row in rows.values())
        self._touch(order_id, 2 if all_shipped else 3)
        return 201, shipment

    def _refundable(self, order_id: int) -> Decimal:
        order = self.orders[order_id]
        return Decimal(order["total_inc_tax"]) - Decimal(order["refunded_amount"])

    def _items_total(self, order_id: int, items: list[dict[str, Any]]) -> Decimal:
        prices = {row["id"]: Decimal(row["price_inc_tax"]) for row in self.products[order_id]}
        total = Decimal(0)
        for item in items:
            if item.get("item_type") == "PRODUCT" and "amount" not in item:
                total += prices[item["item_id"]] * int(item.get("quantity", 0))
            else:
                total += Decimal(str(item.get("amount", 0)))
        return total.quantize(Decimal("0.01"))

    def _quote(self, request: StubRequest, order_id: int) -> Answer:
        """``POST /v3/orders/{id}/payment_actions/refund_quotes``. A payment not yet settled (authorized, a capture
        or void still pending) has nothing the gateway can refund: refused with 422. BigCommerce's Payment Actions
        release an authorization by ``void`` and refund only what was captured; the docs do not print this error,
        so the stub takes the strict reading, as a gateway does (PayPal's ``PENDING_CAPTURE``: "Cannot initiate a
        refund as the capture is pending")."""
        status = str(self.orders[order_id].get("payment_status") or "")
        if status in _UNSETTLED:
            return 422, {"status": 422, "title": f"The payment of order {order_id} is not settled ({status})."}
        items = (request.json() or {}).get("items") or []
        total = self._items_total(order_id, items)
        if not items or total <= 0 or total > self._refundable(order_id):
            return 422, {"status": 422, "title": f"cannot refund {total}: {self._refundable(order_id)} is refundable"}
        amount = float(total)
        online = {"provider_id": "stripev3", "provider_description": "Stripe", "amount": amount, "offline": False}
        offline = {"provider_id": "custom", "provider_description": "Custom", "amount": amount, "offline": True}
        quote = {
            "order_id": order_id,
            "total_refund_amount": amount,
            "total_refund_tax_amount": 0,
            "rounding": 0,
            "adjustment": 0,
            "tax_inclusive": True,
            "refund_methods": [
                [{**online, "offline_provider": False, "offline_reason": ""}],
                [{**offline, "offline_provider": True, "offline_reason": "This is an offline payment provider."}],
            ],
        }
        return 201, {"data": quote, "meta": {}}

    def _create_refund(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        answer = self._record_refund(order_id, body.get("items") or [], body.get("payments") or [])
        if answer[0] == 201:
            self.writes.append(("POST", f"/v3/orders/{order_id}/payment_actions/refunds", body))
        return answer

    def refund_in_control_panel(self, order_id: int, items: list[dict[str, Any]], *, offline: bool = True) -> Answer:
        """A refund the merchant makes in the control panel (not a write): paid back in full, as quoted."""
        with self._lock:
            total = self._items_total(order_id, items)
            payment = {"provider_id": "custom" if offline else "stripev3", "amount": float(total), "offline": offline}
            return self._record_refund(order_id, items, [payment])

    def _record_refund(self, order_id: int, items: list[dict[str, Any]], payments: list[dict[str, Any]]) -> Answer:
        rows = {row["id"]: row for row in self.products[order_id]}
        for item in items:
            if item.get("item_type") == "PRODUCT" and (
                item.get("item_id") not in rows
                or not 0 < int(item.get("quantity") or 0) <= rows[item["item_id"]]["quantity"]
            ):
                return 422, {"status": 422, "title": f"item_id {item.get('item_id')} is not a refundable product row"}
        total = self._items_total(order_id, items)
        paid_back = sum((Decimal(str(payment.get("amount", 0))) for payment in payments), Decimal(0))
        if (
            not items
            or not payments
            or paid_back.quantize(Decimal("0.01")) != total
            or total > self._refundable(order_id)
        ):
            return 422, {"status": 422, "title": "the payments do not match the refund quote"}
        refund = {
            "id": self._next_refund_id,
            "order_id": order_id,
            "user_id": 0,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason": next((item["reason"] for item in items if item.get("reason")), ""),
            "total_amount": float(total),
            "total_tax": 0,
            "uses_merchant_override_values": False,
            "payments": [
                {**payment, "id": self._next_refund_id * 10 + n, "is_declined": False, "declined_message": ""}
                for n, payment in enumerate(payments)
            ],
            "items": [{**item, "requested_amount": f"{self._items_total(order_id, [item]):.2f}"} for item in items],
        }
        self._next_refund_id += 1
        self.refunds[order_id].append(refund)
        # The money moves as the chosen quote method says: an ``offline`` provider is recorded only (BigCommerce
        # Payment Actions, "Create a refund": offline payments are not sent to the gateway).
        online = any(not payment.get("offline") for payment in payments)
        self.ledger.record(str(order_id), "refund", total, f"refund-{refund['id']}", online=online)
        order = self.orders[order_id]
        order["refunded_amount"] = f"{Decimal(order['refunded_amount']) + total:.4f}"
        self._touch(order_id, 4 if self._refundable(order_id) <= 0 else 14)
        return 201, {"data": refund, "meta": {}}


def install(api: StubApi, *, store_hash: str = STORE_HASH, token: str = API_TOKEN) -> BigCommerceStore:
    store = BigCommerceStore(store_hash, token)
    store.install(api)
    return store


# What the end-to-end tests look for after the demo order 1187 is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return (
        request.method == "POST"
        and request.path.endswith("/v2/orders/1187/shipments")
        and tracking_number in request.body.decode()
    )


def wrote_completion(request: StubRequest) -> bool:
    return request.method == "PUT" and request.path.endswith("/v2/orders/1187") and b"10" in request.body
