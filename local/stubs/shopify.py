"""A Shopify shop's Admin API on a ``StubApi``, for tests and the local runtime.

Serves the demo shop (``SHOP_DOMAIN``, access token ``ACCESS_TOKEN``) from the webhook bodies in
``events/shopify/`` — by default #1042 as paid (delivery 02) and #1043 as cancelled and refunded
(delivery 05): ``GET /admin/api/{version}/orders/{id}.json`` answers the REST Order, and
``POST …/graphql.json`` answers the operations the write-back sends, matched on the operation name in
the query: ``WriteBackState``, ``FulfillmentCreate``, ``OrderCancel``, ``RefundCreate``, ``OrderUpdate`` (the
note only), ``TagsAdd``.
Mutations take effect (fulfillments close their fulfillment orders, refunds add refund transactions,
cancelling sets ``cancelledAt``; ``updated_at`` moves), so later reads see them and idempotency checks
can be tested; ``writes`` records every accepted mutation with its variables.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fulfillment.adapters.platforms.shopify import API_VERSION
from local.stub_api import StubApi, StubRequest

SHOP_DOMAIN = "kaffeekontor-berlin.myshopify.com"
ACCESS_TOKEN = "shpat_local_demo"  # noqa: S105 - a local stub's fixed token, not a secret
EVENTS = Path(__file__).resolve().parents[2] / "events" / "shopify"
DEFAULT_SNAPSHOTS = ("02_orders_paid.json", "05_orders_cancelled.json")
# The route patterns, as tests name them to script faults (``StubApi.fail_next``).
ORDER_ROUTE = rf"/admin/api/{API_VERSION}/orders/(\d+)\.json"
GRAPHQL_ROUTE = rf"/admin/api/{API_VERSION}/graphql\.json"

Answer = tuple[int, Any]
_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")
_NUMERIC_ID = re.compile(r"gid://shopify/\w+/(\d+)")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _money(amount: Decimal | str, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": f"{Decimal(amount):.2f}", "currencyCode": currency}}


@dataclass
class ShopOrder:
    """One order: its REST document and the GraphQL view the write-back reads and changes."""

    rest: dict[str, Any]
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    fulfillment_orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return str(self.rest["admin_graphql_api_id"])

    @property
    def currency(self) -> str:
        return str(self.rest["currency"])

    @classmethod
    def from_rest(cls, rest: dict[str, Any]) -> ShopOrder:
        order = cls(rest=rest, tags=[tag.strip() for tag in str(rest.get("tags") or "").split(",") if tag.strip()])
        for fulfillment in rest.get("fulfillments") or []:
            order.fulfillments.append(
                {
                    "id": fulfillment["admin_graphql_api_id"],
                    "status": str(fulfillment.get("status", "success")).upper(),
                    "trackingInfo": [
                        {"number": number, "company": fulfillment.get("tracking_company"), "url": url}
                        for number, url in zip(
                            fulfillment.get("tracking_numbers") or [],
                            fulfillment.get("tracking_urls") or [],
                            strict=False,
                        )
                    ],
                }
            )
        closed = rest.get("fulfillment_status") == "fulfilled"
        status = "CANCELLED" if rest.get("cancelled_at") else "CLOSED" if closed else "OPEN"
        order.fulfillment_orders.append({"id": f"gid://shopify/FulfillmentOrder/{rest['id']}", "status": status})
        refund_parents = [
            transaction.get("parent_id")
            for refund in rest.get("refunds") or []
            for transaction in refund.get("transactions") or []
        ]
        if rest.get("financial_status") in {"paid", "partially_refunded", "refunded"}:
            payment_id = next((parent for parent in refund_parents if parent), int(rest["id"]) + 1)
            gateways = rest.get("payment_gateway_names") or ["manual"]
            order.transactions.append(
                {
                    "id": f"gid://shopify/OrderTransaction/{payment_id}",
                    "kind": "SALE",
                    "status": "SUCCESS",
                    "gateway": gateways[0],
                    "amountSet": _money(rest["total_price"], order.currency),
                }
            )
        for refund in rest.get("refunds") or []:
            amount = sum((Decimal(t["amount"]) for t in refund.get("transactions") or []), Decimal(0))
            order.refunds.append(
                {
                    "id": refund["admin_graphql_api_id"],
                    "note": refund.get("note"),
                    "totalRefundedSet": _money(amount, order.currency),
                }
            )
            for transaction in refund.get("transactions") or []:
                order.transactions.append(
                    {
                        "id": transaction.get("admin_graphql_api_id")
                        or f"gid://shopify/OrderTransaction/{transaction['id']}",
                        "kind": "REFUND",
                        "status": str(transaction.get("status", "success")).upper(),
                        "gateway": transaction.get("gateway"),
                        "amountSet": _money(transaction["amount"], order.currency),
                    }
                )
        return order

    def graphql_view(self) -> dict[str, Any]:
        return {
            "id": self.gid,
            "cancelledAt": self.rest.get("cancelled_at"),
            "tags": list(self.tags),
            "note": self.rest.get("note"),
            "fulfillments": copy.deepcopy(self.fulfillments),
            "fulfillmentOrders": {"nodes": copy.deepcopy(self.fulfillment_orders)},
            "refunds": copy.deepcopy(self.refunds),
            "transactions": copy.deepcopy(self.transactions),
        }


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return document


def _user_error(field_name: str, message: str, key: str = "userErrors") -> dict[str, Any]:
    return {key: [{"field": [field_name], "message": message}]}


class ShopifyShop:
    """The demo shop's state, and the routes that read and change it."""

    def __init__(self, snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS, token: str = ACCESS_TOKEN) -> None:
        self.token = token
        self.orders: dict[str, ShopOrder] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self._next_id = 7_000_000_000_001
        self._lock = threading.Lock()
        for name in snapshots:
            rest = _load(name)
            self.orders[str(rest["id"])] = ShopOrder.from_rest(rest)

    def install(self, api: StubApi) -> None:
        api.route("GET", ORDER_ROUTE, self._guarded(self._get_order))
        api.route("POST", GRAPHQL_ROUTE, self._guarded(self._graphql))

    def _guarded(self, handler: Callable[[StubRequest, re.Match[str]], Answer]) -> Callable[..., Answer]:
        def answer(request: StubRequest, match: re.Match[str]) -> Answer:
            if request.headers.get("x-shopify-access-token") != self.token:
                return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
            with self._lock:
                return handler(request, match)

        return answer

    def _get_order(self, _: StubRequest, match: re.Match[str]) -> Answer:
        order = self.orders.get(match.group(1))
        return (200, {"order": order.rest}) if order else (404, {"errors": "Not Found"})

    def _graphql(self, request: StubRequest, _: re.Match[str]) -> Answer:
        body = request.json() or {}
        found = _OPERATION.search(str(body.get("query", "")))
        operation = found.group(1) if found else ""
        variables: dict[str, Any] = body.get("variables") or {}
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "WriteBackState": self._state,
            "FulfillmentCreate": self._fulfillment_create,
            "OrderCancel": self._order_cancel,
            "RefundCreate": self._refund_create,
            "OrderUpdate": self._order_update,
            "TagsAdd": self._tags_add,
        }
        handler = handlers.get(operation)
        if handler is None:
            return 200, {"errors": [{"message": f"the stub does not answer operation {operation or '(unnamed)'}"}]}
        return 200, {"data": handler(variables)}

    def _order(self, gid: object) -> ShopOrder | None:
        match = _NUMERIC_ID.fullmatch(str(gid))
        return self.orders.get(match.group(1)) if match else None

    def _new_gid(self, kind: str) -> str:
        self._next_id += 1
        return f"gid://shopify/{kind}/{self._next_id}"

    def _touch(self, order: ShopOrder, operation: str, variables: dict[str, Any]) -> None:
        order.rest["updated_at"] = _now()
        self.writes.append((operation, copy.deepcopy(variables)))

    def _state(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order(variables.get("id"))
        return {"order": order.graphql_view() if order else None}

    def _fulfillment_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        fulfillment = variables.get("fulfillment") or {}
        wanted = [item.get("fulfillmentOrderId") for item in fulfillment.get("lineItemsByFulfillmentOrder") or []]
        owners = {gid: order for order in self.orders.values() for gid in [fo["id"] for fo in order.fulfillment_orders]}
        orders = {owners[gid].gid for gid in wanted if gid in owners}
        if not wanted or len(orders) != 1 or any(gid not in owners for gid in wanted):
            return {"fulfillmentCreate": _user_error("fulfillment", "Fulfillment order does not exist.")}
        order = owners[wanted[0]]
        targets = [fo for fo in order.fulfillment_orders if fo["id"] in wanted]
        if any(fo["status"] not in {"OPEN", "IN_PROGRESS"} for fo in targets):
            return {"fulfillmentCreate": _user_error("fulfillment", "Fulfillment order is not in a fulfillable state.")}
        tracking = fulfillment.get("trackingInfo") or {}
        created = {
            "id": self._new_gid("Fulfillment"),
            "status": "SUCCESS",
            "trackingInfo": [
                {"number": tracking.get("number"), "company": tracking.get("company"), "url": tracking.get("url")}
            ]
            if tracking.get("number")
            else [],
        }
        order.fulfillments.append(created)
        for fo in targets:
            fo["status"] = "CLOSED"
        order.rest["fulfillment_status"] = "fulfilled"
        self._touch(order, "FulfillmentCreate", variables)
        return {"fulfillmentCreate": {"fulfillment": {"id": created["id"], "status": "SUCCESS"}, "userErrors": []}}

    def _order_cancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order(variables.get("orderId"))
        key = "orderCancelUserErrors"
        if order is None:
            return {"orderCancel": {"job": None, **_user_error("orderId", "Order does not exist", key)}}
        if order.rest.get("cancelled_at"):
            return {"orderCancel": {"job": None, **_user_error("orderId", "Order has already been cancelled", key)}}
        order.rest["cancelled_at"] = _now()
        order.rest["cancel_reason"] = str(variables.get("reason", "OTHER")).lower()
        for fo in order.fulfillment_orders:
            if fo["status"] in {"OPEN", "IN_PROGRESS"}:
                fo["status"] = "CANCELLED"
        self._touch(order, "OrderCancel", variables)
        return {"orderCancel": {"job": {"id": self._new_gid("Job"), "done": False}, key: []}}

    def _refund_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        refund_input = variables.get("input") or {}
        order = self._order(refund_input.get("orderId"))
        if order is None:
            return {"refundCreate": {"refund": None, **_user_error("orderId", "Order does not exist")}}
        payments = {t["id"]: t for t in order.transactions if t["kind"] in {"SALE", "CAPTURE"}}
        refunded = sum(
            (Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in order.transactions if t["kind"] == "REFUND"),
            Decimal(0),
        )
        paid = sum((Decimal(t["amountSet"]["shopMoney"]["amount"]) for t in payments.values()), Decimal(0))
        transactions = refund_input.get("transactions") or []
        amount = sum((Decimal(str(t.get("amount", "0"))) for t in transactions), Decimal(0))
        if not transactions or any(t.get("parentId") not in payments for t in transactions):
            return {"refundCreate": {"refund": None, **_user_error("transactions", "Parent transaction not found")}}
        if amount <= 0 or refunded + amount > paid:
            return {"refundCreate": {"refund": None, **_user_error("transactions", "Amount exceeds refundable")}}
        refund = {
            "id": self._new_gid("Refund"),
            "note": refund_input.get("note"),
            "totalRefundedSet": _money(amount, order.currency),
        }
        order.refunds.append(refund)
        for transaction in transactions:
            order.transactions.append(
                {
                    "id": self._new_gid("OrderTransaction"),
                    "kind": "REFUND",
                    "status": "SUCCESS",
                    "gateway": transaction.get("gateway"),
                    "amountSet": _money(Decimal(str(transaction["amount"])), order.currency),
                }
            )
        order.rest["financial_status"] = "refunded" if refunded + amount >= paid else "partially_refunded"
        self._touch(order, "RefundCreate", variables)
        return {"refundCreate": {"refund": {"id": refund["id"], "note": refund["note"]}, "userErrors": []}}

    def _order_update(self, variables: dict[str, Any]) -> dict[str, Any]:
        order_input = variables.get("input") or {}
        order = self._order(order_input.get("id"))
        if order is None:
            return {"orderUpdate": {"order": None, **_user_error("id", "Order does not exist")}}
        if set(order_input) - {"id", "note"}:
            return {"orderUpdate": {"order": None, **_user_error("input", "the stub updates only the note")}}
        if "note" in order_input:
            order.rest["note"] = order_input["note"]  # replaced, as Shopify does
        self._touch(order, "OrderUpdate", variables)
        return {"orderUpdate": {"order": {"id": order.gid}, "userErrors": []}}

    def _tags_add(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order(variables.get("id"))
        if order is None:
            return {"tagsAdd": {"node": None, **_user_error("id", "Resource does not exist")}}
        order.tags.extend(tag for tag in variables.get("tags") or [] if tag not in order.tags)
        order.rest["tags"] = ", ".join(order.tags)
        self._touch(order, "TagsAdd", variables)
        return {"tagsAdd": {"node": {"id": order.gid}, "userErrors": []}}


def install(api: StubApi, *, snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS, token: str = ACCESS_TOKEN) -> None:
    ShopifyShop(snapshots, token).install(api)


# What the end-to-end tests look for after the demo order is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return b"fulfillmentCreate" in request.body and tracking_number in request.body.decode()


def wrote_completion(request: StubRequest) -> bool:
    return b"tagsAdd" in request.body
