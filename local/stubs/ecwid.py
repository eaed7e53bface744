"""An Ecwid store's REST v3 API on a ``StubApi``, for tests and the local runtime.

Serves the demo store (id ``STORE_ID``, token ``API_TOKEN``, currency EUR in its profile): order
KX7Q2 from ``events/ecwid/rest_*.json`` (paid, partially refunded, shipped), and KX7R9 — a one-torch
order cancelled before payment, as sample delivery 05 names it. ``PUT`` changes the fields it names,
as Ecwid does, and moves ``updateTimestamp``; later reads see the change, so idempotency checks can be
tested; ``writes`` records every accepted update.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.stub_api import StubApi, StubRequest

STORE_ID = "31415926"
CASH_ON_DELIVERY_ORDER = "KX7C1"
API_TOKEN = "secret_local_demo"  # noqa: S105 - a local stub's fixed token, not a secret
CURRENCY = "EUR"
EVENTS = Path(__file__).resolve().parents[2] / "events" / "ecwid"

Answer = tuple[int, Any]
# What a PUT may change here; Ecwid accepts more, the write-back sends no other field.
UPDATABLE = frozenset({"paymentStatus", "fulfillmentStatus", "trackingNumber", "privateAdminNotes"})
PAYMENT_STATUSES = frozenset({"AWAITING_PAYMENT", "PAID", "CANCELLED", "REFUNDED", "PARTIALLY_REFUNDED", "INCOMPLETE"})
FULFILLMENT_STATUSES = frozenset(
    {
        "AWAITING_PROCESSING",
        "PROCESSING",
        "SHIPPED",
        "DELIVERED",
        "WILL_NOT_DELIVER",
        "RETURNED",
        "READY_FOR_PICKUP",
        "OUT_FOR_DELIVERY",
    }
)


def _error(status: int, message: str) -> Answer:
    return status, {"errorMessage": message, "errorCode": f"HTTP_{status}"}


def _cancelled_twin(order: dict[str, Any]) -> dict[str, Any]:
    """KX7R9 (sample delivery 05): one torch, cancelled while awaiting payment."""
    twin = copy.deepcopy(order)
    torch = next(item for item in twin["items"] if item["sku"] == "TORCH-CB-01")
    torch["id"] += 100
    twin.update(
        id="KX7R9",
        internalId=512334501,
        orderNumber=512334501,
        vendorOrderNumber="KX7R9",
        publicUid="KX7R9",
        items=[torch],
        subtotal=42.0,
        subtotalWithoutTax=42.0,
        tax=7.98,
        total=55.88,
        totalWithoutTax=47.9,
        totalBeforeGiftCardRedemption=55.88,
        usdTotal=60.52,
        refundedAmount=0,
        paymentStatus="CANCELLED",
        fulfillmentStatus="WILL_NOT_DELIVER",
        trackingNumber="",
        createTimestamp=1748969275,
        createDate="2025-06-03 16:47:55 +0000",
        updateTimestamp=1749024930,
        updateDate="2025-06-04 08:15:30 +0000",
    )
    return twin


def _cash_on_delivery_twin(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo order again, placed with a "Cash on Delivery" payment method: awaiting payment and processing,
    nothing refunded (Ecwid labels it PAID once the merchant, or our completion, records the cash)."""
    twin = copy.deepcopy(demo)
    twin.update(
        id=CASH_ON_DELIVERY_ORDER,
        internalId=int(demo["internalId"]) + 2,
        orderNumber=int(demo["orderNumber"]) + 2,
        publicUid=CASH_ON_DELIVERY_ORDER,
        paymentMethod="Cash on Delivery",
        paymentModule="CUSTOM_PAYMENT_APP",
        paymentStatus="AWAITING_PAYMENT",
        fulfillmentStatus="AWAITING_PROCESSING",
        refundedAmount=0,
        refunds=[],
        trackingNumber="",
    )
    return twin


class EcwidStore:
    """The demo store's state, and the routes that read and change it."""

    def __init__(self, store_id: str = STORE_ID, token: str = API_TOKEN, currency: str = CURRENCY) -> None:
        self.store_id = store_id
        self.token = token
        self.currency = currency
        demo = json.loads((EVENTS / "rest_GET_api_v3_31415926_orders_KX7Q2.json").read_text(encoding="utf-8"))
        self.orders: dict[str, dict[str, Any]] = {
            "KX7Q2": demo,
            "KX7R9": _cancelled_twin(demo),
            CASH_ON_DELIVERY_ORDER: _cash_on_delivery_twin(demo),
        }
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    @property
    def order_route(self) -> str:
        """The route pattern of one order, as tests name it to script faults (``StubApi.fail_next``)."""
        return rf"/api/v3/{re.escape(self.store_id)}/orders/([^/]+)"

    @property
    def profile_route(self) -> str:
        return rf"/api/v3/{re.escape(self.store_id)}/profile"

    def install(self, api: StubApi) -> None:
        api.route("GET", self.order_route, self._guarded(self._get_order))
        api.route("PUT", self.order_route, self._guarded(self._update_order))
        api.route("GET", self.profile_route, self._guarded(self._profile))

    def _guarded(self, handler: Callable[[StubRequest, re.Match[str]], Answer]) -> Callable[..., Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Token is invalid or expired")
            with self._lock:
                return handler(request, match)

        return answer

    def _profile(self, _: StubRequest, __: re.Match[str]) -> Answer:
        return 200, {
            "generalInfo": {"storeId": int(self.store_id), "storeUrl": "https://kaffeekontor.company.site"},
            "formatsAndUnits": {"currency": self.currency, "currencyPrefix": "", "currencySuffix": "€"},
        }

    def _get_order(self, _: StubRequest, match: re.Match[str]) -> Answer:
        order = self.orders.get(match.group(1))
        return (200, order) if order else _error(404, f"Order #{match.group(1)} not found")

    def _update_order(self, request: StubRequest, match: re.Match[str]) -> Answer:
        order = self.orders.get(match.group(1))
        if order is None:
            return _error(404, f"Order #{match.group(1)} not found")
        body = request.json() or {}
        if not isinstance(body, dict) or not body or set(body) - UPDATABLE:
            return _error(400, f"the stub updates only {sorted(UPDATABLE)}")
        if body.get("paymentStatus", "PAID") not in PAYMENT_STATUSES:
            return _error(400, f"unknown paymentStatus {body['paymentStatus']!r}")
        if body.get("fulfillmentStatus", "SHIPPED") not in FULFILLMENT_STATUSES:
            return _error(400, f"unknown fulfillmentStatus {body['fulfillmentStatus']!r}")
        order.update(body)
        order["updateTimestamp"] = max(int(time.time()), int(order["updateTimestamp"]) + 1)
        self.writes.append((match.group(1), body))
        return 200, {"updateCount": 1}


def install(api: StubApi, *, store_id: str = STORE_ID, token: str = API_TOKEN, currency: str = CURRENCY) -> EcwidStore:
    store = EcwidStore(store_id, token, currency)
    store.install(api)
    return store


# What the end-to-end tests look for after the demo order is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return request.method == "PUT" and b"SHIPPED" in request.body and tracking_number in request.body.decode()


def wrote_completion(request: StubRequest) -> bool:
    return request.method == "PUT" and b"DELIVERED" in request.body
