"""A WooCommerce shop's REST API (``wc/v3`` and the Shipment Tracking plugin) on a ``StubApi``.

Serves the demo store ``kaffeekontor``: orders 4711 (processing) and 4712 (cancelled) as the sample
deliveries in ``events/woocommerce/`` last showed them, to Basic auth with ``CONSUMER_KEY`` /
``CONSUMER_SECRET``. Write-backs take effect as on WooCommerce: ``PUT`` changes the status, notes,
refunds and shipment trackings are kept per order (a refund of the whole remainder makes the order
``refunded``), and every change moves ``date_modified``. ``writes`` records every accepted write.
With ``tracking_plugin=False`` the tracking routes answer ``rest_no_route``, as without the plugin.

Shipment Tracking as woocommerce.com documents its REST API ("List Shipment Tracking providers", "Create a
tracking item", "Create a custom-provider tracking item"): ``GET …/shipment-trackings/providers`` (public) lists
region → {provider name: URL format}; a tracking names either a listed ``tracking_provider`` (its link is built
from the list's URL format) or ``custom_tracking_provider`` with ``custom_tracking_link`` (both required). A
``tracking_provider`` outside the list is kept without a link, as the customer would see it: no way to follow it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from local.money_ledger import MoneyLedger
from local.stub_api import StubApi, StubRequest

CONSUMER_KEY = "ck_kaffeekontor_demo"
CONSUMER_SECRET = "cs_kaffeekontor_demo"  # noqa: S105 - a local stub's fixed credential, not a secret
EVENTS = Path(__file__).resolve().parents[2] / "events" / "woocommerce"
PAID_ORDER_ID = 4711
AUTHORIZED_ORDER_ID = 4713  # the paid sample, authorized only by the Stripe extension (on-hold, uncaptured)
STRIPE_CAPTURED = "_stripe_charge_captured"
# ``method_supports`` of the gateways the demo shop has: the Stripe extension and WooPayments refund through
# the API; bank transfer (bacs), cash on delivery and cheque do not (WC_Payment_Gateway::$supports).
GATEWAY_SUPPORTS: dict[str, tuple[str, ...]] = {
    "stripe": ("products", "refunds"),
    "woocommerce_payments": ("products", "refunds"),
    "bacs": ("products",),
    "cod": ("products",),
    "cheque": ("products",),
}
STATUSES = frozenset(
    {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft"}
)

# The docs' example list (Global/Aramex, United States/USPS), plus providers a store adds itself through the
# ``wc_shipment_tracking_get_providers`` filter ("Add a custom Shipment Tracking provider"): the demo shop has
# added DHL and the local carrier simulator.
PROVIDERS: dict[str, dict[str, str]] = {
    "Global": {"Aramex": "https://www.aramex.com/track/track-results-new?ShipmentNumber=%1$s"},
    "United States": {"USPS": "https://tools.usps.com/tracking/%1$s"},
    "Germany": {"DHL": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=%1$s"},
    "Local": {"SimCarrier": "http://127.0.0.1/simcarrier/track/%1$s"},
}
PROVIDERS_PATH = "/wp-json/wc-shipment-tracking/v3/shipment-trackings/providers"

Answer = tuple[int, Any]
Handler = Callable[[StubRequest, int], Answer]


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message, "data": {"status": status}}


def _now() -> tuple[str, str]:
    """(site-local, GMT) timestamps as Woo writes them; the demo site runs on UTC."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return stamp, stamp


class WooCommerceShop:
    def __init__(
        self,
        key: str = CONSUMER_KEY,
        secret: str = CONSUMER_SECRET,
        *,
        tracking_plugin: bool = True,
        any_order: bool = False,
    ) -> None:
        # any_order: an order id the shop has not seen is a copy of the sample order under that id (the local
        # runtime, where demo and test orders get fresh ids); otherwise it answers 404 like WooCommerce.
        self.any_order = any_order
        self._authorization = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.tracking_plugin = tracking_plugin
        self.orders: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        self.trackings: dict[int, list[dict[str, Any]]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, Any]] = []
        self._ids = itertools.count(9001)
        self._lock = threading.Lock()
        for name in ("order_created_pending.json", "order_updated_paid.json", "order_updated_cancelled.json"):
            order = json.loads((EVENTS / name).read_text(encoding="utf-8"))
            known = self.orders.get(order["id"])
            if known is None or known["date_modified_gmt"] < order["date_modified_gmt"]:
                self.orders[order["id"]] = order
        paid = self.orders[PAID_ORDER_ID]
        self.orders[AUTHORIZED_ORDER_ID] = _authorized(paid, AUTHORIZED_ORDER_ID)
        for order_id in self.orders:
            self.notes[order_id], self.refunds[order_id], self.trackings[order_id] = [], [], []
        self.ledger = MoneyLedger()  # the money this shop's gateways really moved, per order id
        self.declining: set[int] = set()  # orders whose next Stripe capture the card issuer declines

    def install(self, api: StubApi) -> None:
        order = r"/wp-json/wc/v3/orders/(\d+)"
        tracking = r"/wp-json/wc-shipment-tracking/v3/orders/(\d+)/shipment-trackings"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", order, lambda _, order_id: (200, self.orders[order_id])),
            ("PUT", order, self._update),
            ("GET", rf"{order}/notes", lambda _, order_id: (200, self.notes[order_id])),
            ("POST", rf"{order}/notes", self._add_note),
            ("GET", rf"{order}/refunds", lambda _, order_id: (200, self.refunds[order_id])),
            ("POST", rf"{order}/refunds", self._add_refund),
            ("GET", tracking, lambda _, order_id: (200, self.trackings[order_id])),
            ("POST", tracking, self._add_tracking),
        ]
        for method, pattern, handler in routes:
            plugin_missing = not self.tracking_plugin and pattern == tracking
            api.route(method, pattern, self._guarded(self._no_route if plugin_missing else handler))
        api.route("GET", re.escape(PROVIDERS_PATH), self._providers)  # public: no order, no credentials
        # wc/v3 webhooks (woocommerce-rest-api-docs "Webhooks": list; create {name, topic, delivery_url, secret})
        api.route("GET", r"/wp-json/wc/v3/webhooks", self._authorized(lambda _: (200, list(self.webhooks))))
        api.route("POST", r"/wp-json/wc/v3/webhooks", self._authorized(self._add_webhook))
        self.ledger.install(api)
        api.route("GET", r"/wp-json/wc/v3/payment_gateways/([\w-]+)", self._authorized_only(self._gateway))

    def _authorized(self, handler: Callable[[StubRequest], Answer]) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, _: re.Match[str]) -> Answer:
            if request.headers.get("authorization") != self._authorization:
                return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            with self._lock:
                return handler(request)

        return answer

    def _add_webhook(self, request: StubRequest) -> Answer:
        body = request.json() or {}
        if not body.get("topic") or not body.get("delivery_url"):
            return _error(400, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url")
        hook = {"id": next(self._ids), "status": body.get("status", "active"), **body}
        hook.pop("secret", None)  # Woo never shows the secret back
        self.webhooks.append(hook)
        self.writes.append(("POST", "/webhooks", body))
        return 201, hook

    def _providers(self, _: StubRequest, __: re.Match[str]) -> Answer:
        if not self.tracking_plugin:
            return self._no_route(_, 0)
        return 200, PROVIDERS

    def _guarded(self, handler: Handler) -> Callable[[StubRequest, re.Match[str]], Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("authorization") != self._authorization:
                return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            order_id = int(match.group(1))
            with self._lock:
                if order_id not in self.orders and self.any_order and self.orders:
                    template = next(iter(self.orders.values()))
                    # The gateway is the webhook's, which the stub never saw: left unknown (refunds trust the caller).
                    copied = {**template, "id": order_id, "status": "processing", "payment_method": ""}
                    self.orders[order_id] = copied
                    self.notes[order_id], self.refunds[order_id], self.trackings[order_id] = [], [], []
                if order_id not in self.orders:
                    return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
                return handler(request, order_id)

        return answer

    def _authorized_only(self, handler: Callable[[StubRequest, re.Match[str]], Answer]) -> Callable[..., Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("authorization") != self._authorization:
                return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            return handler(request, match)

        return answer

    @staticmethod
    def _no_route(_: StubRequest, __: int) -> Answer:
        return _error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _touch(self, order_id: int, **changes: Any) -> None:
        local, gmt = _now()
        self.orders[order_id].update(changes, date_modified=local, date_modified_gmt=gmt)

    def _update(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        if body.get("status") not in STATUSES:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
        self.writes.append(("PUT", f"/orders/{order_id}", body))
        self._touch(order_id, status=body["status"])
        self._stripe_on_status(order_id, body["status"])
        return 200, self.orders[order_id]

    def _stripe_on_status(self, order_id: int, status: str) -> None:
        """The Stripe extension's hooks on a status change (``WC_Stripe_Order_Handler``): processing or completed
        captures an uncaptured charge (``_stripe_charge_captured`` no → yes); cancelled releases it (the
        PaymentIntent is cancelled, nothing was taken). A declined capture leaves it uncaptured, with a note."""
        order = self.orders[order_id]
        meta = {item.get("key"): item for item in order.get("meta_data") or []}
        flag = meta.get(STRIPE_CAPTURED)
        if order.get("payment_method") != "stripe" or flag is None or flag.get("value") != "no":
            return
        if status in {"processing", "completed"}:
            if order_id in self.declining:
                self.declining.discard(order_id)
                self.notes[order_id].append({"id": next(self._ids), "note": "Unable to capture charge!"})
                return
            flag["value"] = "yes"
            self.ledger.record(str(order_id), "capture", Decimal(order["total"]), str(order.get("transaction_id")))
        elif status == "cancelled":
            flag["value"] = "cancelled"
            self.ledger.record(str(order_id), "void", Decimal(order["total"]), str(order.get("transaction_id")))

    def _add_note(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        if not body.get("note"):
            return _error(400, "woocommerce_rest_invalid_order_note", "Cannot create order note, please try again.")
        local, gmt = _now()
        note = {
            "id": next(self._ids),
            "author": "WooCommerce",
            "date_created": local,
            "date_created_gmt": gmt,
            "note": body["note"],
            "customer_note": bool(body.get("customer_note")),
            "added_by_user": False,
        }
        self.notes[order_id].insert(0, note)  # newest first, as Woo lists them
        self.writes.append(("POST", f"/orders/{order_id}/notes", body))
        return 201, note

    def _add_refund(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        order = self.orders[order_id]
        try:
            amount = Decimal(str(body.get("amount")))
        except InvalidOperation:
            amount = Decimal(0)
        refunded = sum((Decimal(refund["amount"]) for refund in self.refunds[order_id]), Decimal(0))
        remaining = Decimal(order["total"]) - refunded
        if not amount.is_finite() or amount <= 0 or amount > remaining:
            return _error(400, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.")
        paid_back = bool(body.get("api_refund", True))  # Woo's default: the gateway pays it back
        gateway = str(order.get("payment_method") or "")
        if paid_back and gateway and "refunds" not in GATEWAY_SUPPORTS.get(gateway, ()):
            # wc_create_refund() asks the gateway; one without refund support fails it and no refund is kept
            # (WC_REST_Order_Refunds_Controller answers 500 woocommerce_rest_cannot_create_order_refund).
            return _error(500, "woocommerce_rest_cannot_create_order_refund", "Refund failed.")
        local, gmt = _now()
        refund = {
            "id": next(self._ids),
            "date_created": local,
            "date_created_gmt": gmt,
            "amount": f"{amount:.2f}",
            "reason": str(body.get("reason", "")),
            "refunded_by": 1,
            "refunded_payment": paid_back,
            "meta_data": [],
            "line_items": [],
        }
        self.refunds[order_id].insert(0, refund)
        order["refunds"] = [
            {"id": row["id"], "reason": row["reason"], "total": f"-{row['amount']}"} for row in self.refunds[order_id]
        ]
        self.writes.append(("POST", f"/orders/{order_id}/refunds", body))
        self.ledger.record(str(order_id), "refund", amount, str(refund["id"]), online=paid_back)
        self._touch(order_id, **({"status": "refunded"} if amount == remaining else {}))
        return 201, refund

    def _gateway(self, _: StubRequest, match: re.Match[str]) -> Answer:
        """``GET /wc/v3/payment_gateways/{id}``: what the gateway supports (``method_supports``)."""
        gateway = match.group(1)
        if gateway not in GATEWAY_SUPPORTS:
            return _error(404, "woocommerce_rest_payment_gateway_invalid", "Resource does not exist.")
        return 200, {"id": gateway, "enabled": True, "method_supports": list(GATEWAY_SUPPORTS[gateway])}

    def _add_tracking(self, request: StubRequest, order_id: int) -> Answer:
        body = request.json() or {}
        number = str(body.get("tracking_number") or "").strip()
        if not number:
            return _error(400, "rest_missing_callback_param", "Missing parameter(s): tracking_number")
        listed = {name: url for group in PROVIDERS.values() for name, url in group.items()}
        custom, link = str(body.get("custom_tracking_provider") or ""), str(body.get("custom_tracking_link") or "")
        provider = str(body.get("tracking_provider") or "")
        if custom and not link:
            return _error(400, "rest_invalid_param", "A custom provider needs custom_tracking_link.")
        if not (custom or provider):
            return _error(400, "rest_missing_callback_param", "Missing parameter(s): tracking_provider")
        tracking = {
            "tracking_id": hashlib.md5(f"{order_id}-{number}".encode(), usedforsecurity=False).hexdigest(),
            "tracking_provider": "" if custom else provider,
            "custom_tracking_provider": custom,
            "tracking_link": (link if custom else listed.get(provider, "")).replace("%1$s", number),
            "tracking_number": number,
            "date_shipped": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        self.trackings[order_id].append(tracking)
        self.writes.append(("POST", f"/orders/{order_id}/shipment-trackings", body))
        return 201, tracking


def _authorized(paid: dict[str, Any], order_id: int) -> dict[str, Any]:
    """The paid sample as the Stripe extension leaves an "authorize only" order: on-hold, the charge uncaptured."""
    order = copy.deepcopy(paid)
    meta = [item for item in order.get("meta_data") or [] if item.get("key") != STRIPE_CAPTURED]
    meta.append({"id": 88001, "key": STRIPE_CAPTURED, "value": "no"})
    order.update(
        id=order_id,
        number=str(order_id),
        status="on-hold",
        payment_method="stripe",
        payment_method_title="Credit Card (Stripe)",
        transaction_id="pi_3QAuthOnlyKaffee01",
        date_paid=None,
        date_paid_gmt=None,
        meta_data=meta,
    )
    return order


def install(
    api: StubApi, *, key: str = CONSUMER_KEY, secret: str = CONSUMER_SECRET, any_order: bool = True
) -> WooCommerceShop:
    """The local runtime's shop: any order id is known (demo and test orders get fresh ids)."""
    shop = WooCommerceShop(key, secret, any_order=any_order)
    shop.install(api)
    return shop


# What the end-to-end tests look for after the demo order 4711 is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return (
        request.method == "POST"
        and request.path.endswith("/shipment-trackings")
        and tracking_number in request.body.decode()
    )


def wrote_completion(request: StubRequest) -> bool:
    return request.method == "PUT" and request.path == "/wp-json/wc/v3/orders/4711" and b'"completed"' in request.body
