"""A Shopify shop's Admin API on a ``StubApi``, for tests and the local runtime.

Serves the demo shop (``SHOP_DOMAIN``, access token ``ACCESS_TOKEN``) from the webhook bodies in
``events/shopify/`` — by default #1042 as paid (delivery 02) and #1043 as cancelled and refunded
(delivery 05): ``GET /admin/api/{version}/orders/{id}.json`` answers the REST Order, and
``POST …/graphql.json`` answers the operations the write-back sends, matched on the operation name in
the query: ``WriteBackState``, ``FulfillmentCreate``, ``OrderCancel``, ``RefundCreate``, ``OrderUpdate`` (the
note only), ``TagsAdd``, ``OrderPayments``, ``OrderCapture`` and ``OrderMarkAsPaid`` (cash on delivery
recorded). #1044 (delivery 06) is authorized for manual
capture: an AUTHORIZATION transaction that expires after 7 days. Every capture, refund (``refundCreate``, and
``orderCancel`` with ``refundMethod: {originalPaymentMethodsRefund: true}``) and void (that cancel of an
authorized order) is in ``ledger``.
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fulfillment.adapters.platforms.shopify import API_VERSION
from local.money_ledger import MoneyLedger
from local.stub_api import StubApi, StubRequest

SHOP_DOMAIN = "kaffeekontor-berlin.myshopify.com"
ACCESS_TOKEN = "shpat_local_demo"  # noqa: S105 - a local stub's fixed token, not a secret
EVENTS = Path(__file__).resolve().parents[2] / "events" / "shopify"
DEFAULT_SNAPSHOTS = ("02_orders_paid.json", "05_orders_cancelled.json", "06_orders_create_authorized.json")
AUTHORIZATION_DAYS = 7  # Shopify Payments holds a card authorization for 7 days (authorizationExpiresAt)
# The route patterns, as tests name them to script faults (``StubApi.fail_next``).
ORDER_ROUTE = rf"/admin/api/{API_VERSION}/orders/(\d+)\.json"
GRAPHQL_ROUTE = rf"/admin/api/{API_VERSION}/graphql\.json"

DEFAULT_LOCATION = "gid://shopify/Location/1"
CASH_ON_DELIVERY_ORDER_ID = "6154877124917"  # #1045, paid cash on delivery
SEED_ROUTE = r"/_stub/orders/(\d+)\.json"  # not Shopify: lets a test put a REST order into the shop

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
                    "fulfillmentLineItems": {
                        "nodes": [
                            {"quantity": item["quantity"], "lineItem": {"id": f"gid://shopify/LineItem/{item['id']}"}}
                            for item in fulfillment.get("line_items") or []
                        ]
                    },
                }
            )
        closed = rest.get("fulfillment_status") == "fulfilled"
        status = "CANCELLED" if rest.get("cancelled_at") else "CLOSED" if closed else "OPEN"
        by_location: dict[str, list[dict[str, Any]]] = {}
        for item in rest.get("line_items") or []:
            origin = (item.get("origin_location") or {}).get("id")
            location = f"gid://shopify/Location/{origin}" if origin else DEFAULT_LOCATION
            by_location.setdefault(location, []).append(
                {
                    "id": f"gid://shopify/FulfillmentOrderLineItem/{item['id']}",
                    "remainingQuantity": 0 if closed else int(item.get("fulfillable_quantity", item["quantity"])),
                    "lineItem": {"id": f"gid://shopify/LineItem/{item['id']}"},
                }
            )
        for number, (location, items) in enumerate(sorted(by_location.items())):
            order.fulfillment_orders.append(
                {
                    "id": f"gid://shopify/FulfillmentOrder/{rest['id']}{number:02d}",
                    "status": status,
                    "assignedLocation": {"location": {"id": location}},
                    "lineItems": {"nodes": items},
                }
            )
        refund_parents = [
            transaction.get("parent_id")
            for refund in rest.get("refunds") or []
            for transaction in refund.get("transactions") or []
        ]
        if rest.get("financial_status") == "authorized":
            # Manual capture: one AUTHORIZATION transaction, captured later by orderCapture. Held from when the
            # stub loads the order (the recorded sample's own date is long past).
            created = datetime.now(UTC)
            order.transactions.append(
                {
                    "id": f"gid://shopify/OrderTransaction/{int(rest['id']) + 1}",
                    "kind": "AUTHORIZATION",
                    "status": "SUCCESS",
                    "gateway": (rest.get("payment_gateway_names") or ["shopify_payments"])[0],
                    "authorizationExpiresAt": (created + timedelta(days=AUTHORIZATION_DAYS)).isoformat(),
                    "parentTransaction": None,
                    "amountSet": _money(rest["total_price"], order.currency),
                }
            )
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
            "displayFinancialStatus": str(self.rest.get("financial_status") or "").upper() or None,
            "totalOutstandingSet": {"shopMoney": {"amount": str(self.outstanding())}},
            "tags": list(self.tags),
            "note": self.rest.get("note"),
            "fulfillments": copy.deepcopy(self.fulfillments),
            "fulfillmentOrders": {"nodes": copy.deepcopy(self.fulfillment_orders)},
            "refunds": [{k: v for k, v in refund.items() if k != "_key"} for refund in copy.deepcopy(self.refunds)],
            "transactions": copy.deepcopy(self.transactions),
        }

    def outstanding(self) -> Decimal:
        """What the customer still owes: the REST order's ``total_outstanding`` where the shop set it, else the whole
        total while nothing was paid (pending, authorized), else nothing."""
        if self.rest.get("total_outstanding") is not None:
            return Decimal(str(self.rest["total_outstanding"]))
        unpaid = self.rest.get("financial_status") in {"pending", "authorized"}
        return Decimal(str(self.rest["total_price"])) if unpaid else Decimal(0)

    def refunded(self) -> Decimal:
        return sum(
            (_amount(t) for t in self.transactions if t["kind"] == "REFUND" and t["status"] == "SUCCESS"), Decimal(0)
        )

    def captured_from(self, parent: str) -> Decimal:
        return sum(
            (
                Decimal(t["amountSet"]["shopMoney"]["amount"])
                for t in self.transactions
                if t["kind"] == "CAPTURE"
                and t["status"] == "SUCCESS"
                and (t.get("parentTransaction") or {}).get("id") == parent
            ),
            Decimal(0),
        )


PAID_KINDS = frozenset({"SALE", "CAPTURE"})  # transactions that took the customer's money


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return document


def cash_on_delivery_order() -> dict[str, Any]:
    """#1045: the paid sample's goods ordered with Shopify's manual payment method "Cash on Delivery (COD)":
    ``financial_status`` pending, nothing paid or outstanding-captured, no transaction until it is marked paid."""
    rest = _load("02_orders_paid.json")
    rest.update(
        id=int(CASH_ON_DELIVERY_ORDER_ID),
        admin_graphql_api_id=f"gid://shopify/Order/{CASH_ON_DELIVERY_ORDER_ID}",
        name="#1045",
        order_number=1045,
        financial_status="pending",
        gateway="Cash on Delivery (COD)",
        payment_gateway_names=["Cash on Delivery (COD)"],
        total_outstanding=rest["total_price"],
        refunds=[],
        fulfillments=[],
        fulfillment_status=None,
    )
    return rest


def _graphql_order(rest: dict[str, Any]) -> dict[str, Any]:
    """The REST order as the GraphQL ``Order`` fields ``OrderFetch`` asks for (shopify.dev admin-graphql Order)."""

    def money(value: Any) -> dict[str, Any] | None:
        return None if value is None else {"shopMoney": {"amount": str(value)}}

    def address(value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        names = {"first_name": "firstName", "last_name": "lastName", "province_code": "provinceCode"}
        fields = ("name", "first_name", "last_name", "company", "address1", "address2", "city", "province")
        moved = {names.get(field, field): value.get(field) for field in (*fields, "province_code", "zip", "phone")}
        return moved | {"countryCodeV2": value.get("country_code")}

    customer = rest.get("customer")
    shipping = ((rest.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    return {
        "id": rest["admin_graphql_api_id"],
        "legacyResourceId": str(rest["id"]),
        "name": rest.get("name"),
        "email": rest.get("email"),
        "currencyCode": rest.get("currency"),
        "displayFinancialStatus": str(rest.get("financial_status") or "").upper() or None,
        "cancelledAt": rest.get("cancelled_at"),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest.get("updated_at"),
        "paymentGatewayNames": rest.get("payment_gateway_names") or [],
        "totalPriceSet": money(rest.get("total_price")),
        "totalTaxSet": money(rest.get("total_tax")),
        "totalDiscountsSet": money(rest.get("total_discounts")),
        "totalShippingPriceSet": money(shipping),
        "totalOutstandingSet": money(rest.get("total_outstanding")),
        "billingAddress": address(rest.get("billing_address")),
        "shippingAddress": address(rest.get("shipping_address")),
        "customer": {
            "legacyResourceId": str(customer["id"]),
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "email": customer.get("email"),
        }
        if customer and customer.get("id")
        else None,
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{item['id']}",
                    "sku": item.get("sku"),
                    "name": item.get("name"),
                    "title": item.get("title"),
                    "quantity": item.get("quantity"),
                    "originalUnitPriceSet": money(item.get("price")),
                    "variant": {"legacyResourceId": str(item["variant_id"])} if item.get("variant_id") else None,
                }
                for item in rest.get("line_items") or []
            ]
        },
        "refunds": [
            {
                "id": refund.get("admin_graphql_api_id") or f"gid://shopify/Refund/{refund['id']}",
                "note": refund.get("note"),
                "refundLineItems": {
                    "nodes": [
                        {
                            "quantity": line.get("quantity"),
                            "lineItem": {"id": f"gid://shopify/LineItem/{line['line_item_id']}"},
                        }
                        for line in refund.get("refund_line_items") or []
                    ]
                },
                "transactions": {
                    "nodes": [
                        {
                            "kind": str(transaction.get("kind") or "").upper(),
                            "status": str(transaction.get("status") or "").upper(),
                            "amountSet": money(transaction.get("amount")),
                        }
                        for transaction in refund.get("transactions") or []
                    ]
                },
            }
            for refund in rest.get("refunds") or []
        ],
    }


def _user_error(field_name: str, message: str, key: str = "userErrors", code: str | None = None) -> dict[str, Any]:
    """A mutation's refusal as Shopify answers it, HTTP 200: ``userErrors`` [{field: [path], message}] (UserError),
    or a typed list such as ``orderCancelUserErrors`` whose entries add a ``code``.
    https://shopify.dev/docs/api/admin-graphql/latest/objects/UserError"""
    error: dict[str, Any] = {"field": [field_name], "message": message}
    if code is not None:
        error["code"] = code
    return {key: [error]}


def _amount(transaction: dict[str, Any]) -> Decimal:
    return Decimal(transaction["amountSet"]["shopMoney"]["amount"])


class ShopifyShop:
    """The demo shop's state, and the routes that read and change it."""

    def __init__(self, snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS, token: str = ACCESS_TOKEN) -> None:
        self.token = token
        # The demo app's grant: every scope the service calls need, and the orders read.
        self.scopes = ["read_orders", "write_orders", "write_merchant_managed_fulfillment_orders"]
        self.orders: dict[str, ShopOrder] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.ledger = MoneyLedger()  # the money this shop really moved, per order id
        self.declining: set[str] = set()  # order ids whose next capture the gateway declines (status FAILURE)
        self._next_id = 7_000_000_000_001
        self._lock = threading.Lock()
        for name in snapshots:
            rest = _load(name)
            self.orders[str(rest["id"])] = ShopOrder.from_rest(rest)
        cod = cash_on_delivery_order()
        self.orders[str(cod["id"])] = ShopOrder.from_rest(cod)

    def install(self, api: StubApi) -> None:
        api.route("GET", ORDER_ROUTE, self._guarded(self._get_order))
        api.route("POST", GRAPHQL_ROUTE, self._guarded(self._graphql))
        api.route("PUT", SEED_ROUTE, self._seed)
        self.ledger.install(api)

    def _seed(self, request: StubRequest, match: re.Match[str]) -> Answer:
        rest = request.json() or {}
        with self._lock:
            self.orders[match.group(1)] = ShopOrder.from_rest({**rest, "id": int(match.group(1))})
        return 200, {"order": rest}

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
            "OrderFetch": self._fetch,
            "AccessScopes": self._access_scopes,
            "WebhookSubscriptions": lambda _: {"webhookSubscriptions": {"nodes": copy.deepcopy(self.subscriptions)}},
            "WebhookSubscriptionCreate": self._subscription_create,
            "OrderPayments": self._state,
            "OrderCapture": self._order_capture,
            "OrderMarkAsPaid": self._order_mark_as_paid,
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

    def _subscription_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        """webhookSubscriptionCreate with the 2025-10 ``uri`` input (an https URI; topic an enum value)."""
        uri = str((variables.get("webhookSubscription") or {}).get("uri") or "")
        if not re.fullmatch(r"[A-Z_]+", str(variables.get("topic") or "")) or not uri.startswith(
            ("https://", "http://")
        ):
            return {
                "webhookSubscriptionCreate": {"webhookSubscription": None, **_user_error("uri", "Address is invalid")}
            }
        created = {"id": self._new_gid("WebhookSubscription"), "topic": variables["topic"], "uri": uri}
        self.subscriptions.append(created)
        self.writes.append(("WebhookSubscriptionCreate", copy.deepcopy(variables)))
        return {"webhookSubscriptionCreate": {"webhookSubscription": created, "userErrors": []}}

    def _access_scopes(self, _: dict[str, Any]) -> dict[str, Any]:
        """currentAppInstallation.accessScopes: the scopes the merchant granted the app (``self.scopes``)."""
        return {"currentAppInstallation": {"accessScopes": [{"handle": scope} for scope in self.scopes]}}

    def _fetch(self, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._order(variables.get("id"))
        return {"order": _graphql_order(order.rest) if order else None}

    def _fulfillment_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        fulfillment = variables.get("fulfillment") or {}
        pairs = fulfillment.get("lineItemsByFulfillmentOrder") or []
        wanted = [pair.get("fulfillmentOrderId") for pair in pairs]
        owners = {fo["id"]: (order, fo) for order in self.orders.values() for fo in order.fulfillment_orders}
        if not wanted or any(gid not in owners for gid in wanted) or len({owners[g][0].gid for g in wanted}) != 1:
            return {"fulfillmentCreate": _user_error("fulfillment", "Fulfillment order does not exist.")}
        order = owners[wanted[0]][0]
        targets = [owners[gid][1] for gid in wanted]
        if len({fo["assignedLocation"]["location"]["id"] for fo in targets}) != 1:
            return {
                "fulfillmentCreate": _user_error(
                    "fulfillment", "All fulfillment orders must be assigned to the same location."
                )
            }
        if any(fo["status"] not in {"OPEN", "IN_PROGRESS"} for fo in targets):
            return {"fulfillmentCreate": _user_error("fulfillment", "Fulfillment order is not in a fulfillable state.")}
        taken: list[tuple[dict[str, Any], int]] = []
        for pair, fo in zip(pairs, targets, strict=True):
            items = {item["id"]: item for item in fo["lineItems"]["nodes"]}
            asked = pair.get("fulfillmentOrderLineItems") or [
                {"id": item_id, "quantity": item["remainingQuantity"]} for item_id, item in items.items()
            ]
            for line in asked:
                item = items.get(line.get("id"))
                if item is None or not 0 < int(line.get("quantity") or 0) <= item["remainingQuantity"]:
                    return {"fulfillmentCreate": _user_error("fulfillment", "Invalid fulfillment order line item.")}
                taken.append((item, int(line["quantity"])))
        tracking = fulfillment.get("trackingInfo") or {}
        created = {
            "id": self._new_gid("Fulfillment"),
            "status": "SUCCESS",
            "trackingInfo": [
                {"number": tracking.get("number"), "company": tracking.get("company"), "url": tracking.get("url")}
            ]
            if tracking.get("number")
            else [],
            "fulfillmentLineItems": {
                "nodes": [{"quantity": quantity, "lineItem": dict(item["lineItem"])} for item, quantity in taken]
            },
        }
        order.fulfillments.append(created)
        for item, quantity in taken:
            item["remainingQuantity"] -= quantity
        for fo in targets:
            left = any(item["remainingQuantity"] > 0 for item in fo["lineItems"]["nodes"])
            fo["status"] = "IN_PROGRESS" if left else "CLOSED"
        done = all(fo["status"] in {"CLOSED", "CANCELLED"} for fo in order.fulfillment_orders)
        order.rest["fulfillment_status"] = "fulfilled" if done else "partial"
        self._touch(order, "FulfillmentCreate", variables)
        return {"fulfillmentCreate": {"fulfillment": {"id": created["id"], "status": "SUCCESS"}, "userErrors": []}}

    def _order_cancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``orderCancel``: refusals are ``orderCancelUserErrors`` {field, message, code} (OrderCancelUserError, code
        an OrderCancelUserErrorCode: NOT_FOUND, INVALID, …) with ``job`` null, HTTP 200. With ``refundMethod:
        {originalPaymentMethodsRefund: true}`` (or the deprecated ``refund: true``) what was paid and not refunded
        goes back to the original payment (a REFUND transaction, ledger ``refund``) and authorizations nothing was
        captured from are voided (ledger ``void``); without it the money stays where it is.
        https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderCancel,
        https://shopify.dev/docs/api/admin-graphql/latest/input-objects/OrderCancelRefundMethodInput,
        https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderCancelUserErrorCode"""
        order = self._order(variables.get("orderId"))
        key = "orderCancelUserErrors"
        if order is None:
            return {"orderCancel": {"job": None, **_user_error("orderId", "Order does not exist", key, "NOT_FOUND")}}
        if order.rest.get("cancelled_at"):
            refused = _user_error("orderId", "Order has already been cancelled", key, "INVALID")
            return {"orderCancel": {"job": None, **refused}}
        order.rest["cancelled_at"] = _now()
        order.rest["cancel_reason"] = str(variables.get("reason", "OTHER")).lower()
        for fo in order.fulfillment_orders:
            if fo["status"] in {"OPEN", "IN_PROGRESS"}:
                fo["status"] = "CANCELLED"
        method = variables.get("refundMethod") or {}
        if method.get("originalPaymentMethodsRefund") or variables.get("refund") is True:
            self._give_back_on_cancel(order)
        self._touch(order, "OrderCancel", variables)
        return {"orderCancel": {"job": {"id": self._new_gid("Job"), "done": False}, key: []}}

    def _give_back_on_cancel(self, order: ShopOrder) -> None:
        order_id = str(order.rest["id"])
        paid = sum(
            (_amount(t) for t in order.transactions if t["kind"] in PAID_KINDS and t["status"] == "SUCCESS"),
            Decimal(0),
        )
        left = paid - order.refunded()
        if left > 0:
            refund_id = self._new_gid("OrderTransaction")
            order.transactions.append(
                {
                    "id": refund_id,
                    "kind": "REFUND",
                    "status": "SUCCESS",
                    "gateway": next((t.get("gateway") for t in order.transactions if t["kind"] in PAID_KINDS), None),
                    "amountSet": _money(left, order.currency),
                }
            )
            order.refunds.append(
                {
                    "id": self._new_gid("Refund"),
                    "note": "order cancelled",
                    "totalRefundedSet": _money(left, order.currency),
                }
            )
            self.ledger.record(order_id, "refund", left, refund_id)
            order.rest["financial_status"] = "refunded"
        for parent in order.transactions:
            if parent["kind"] != "AUTHORIZATION" or parent["status"] != "SUCCESS" or parent.get("closed"):
                continue
            held = _amount(parent) - order.captured_from(parent["id"])
            parent["voided"] = parent["closed"] = True
            if held > 0:
                self.ledger.record(order_id, "void", held, parent["id"])
                if paid <= 0:
                    order.rest["financial_status"] = "voided"

    def _refund_create(self, variables: dict[str, Any]) -> dict[str, Any]:
        refund_input = variables.get("input") or {}
        order = self._order(refund_input.get("orderId"))
        if order is None:
            return {"refundCreate": {"refund": None, **_user_error("orderId", "Order does not exist")}}
        key = str(variables.get("idempotencyKey") or "")
        if not key:  # mandatory from 2026-04 (changelog "Making idempotency mandatory … refund mutations")
            return {"refundCreate": {"refund": None, **_user_error("idempotencyKey", "Idempotency key is required")}}
        earlier = next((refund for refund in order.refunds if refund.get("_key") == key), None)
        if earlier is not None:
            return {"refundCreate": {"refund": {"id": earlier["id"], "note": earlier["note"]}, "userErrors": []}}
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
        order.refunds.append({**refund, "_key": key})
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
        self.ledger.record(str(order.rest["id"]), "refund", amount, str(refund["id"]))
        self._touch(order, "RefundCreate", variables)
        return {"refundCreate": {"refund": {"id": refund["id"], "note": refund["note"]}, "userErrors": []}}

    def _order_capture(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``orderCapture``: a capture of at most what the parent AUTHORIZATION still holds, while it holds;
        refusals are ``userErrors`` (HTTP 200), a declined capture a transaction with status FAILURE.
        https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderCapture"""
        capture_input = variables.get("input") or {}
        order = self._order(capture_input.get("id"))
        if order is None:
            return {"orderCapture": {"transaction": None, **_user_error("id", "Order does not exist")}}
        parent_id = capture_input.get("parentTransactionId")
        parent = next((t for t in order.transactions if t["id"] == parent_id), None)
        if parent is None or parent["kind"] != "AUTHORIZATION" or parent["status"] != "SUCCESS":
            return {
                "orderCapture": {
                    "transaction": None,
                    **_user_error("parentTransactionId", "Transaction is not capturable"),
                }
            }
        if parent.get("voided"):
            return {
                "orderCapture": {
                    "transaction": None,
                    **_user_error("parentTransactionId", "Authorization has been voided"),
                }
            }
        if datetime.fromisoformat(parent["authorizationExpiresAt"]) < datetime.now(UTC):
            return {
                "orderCapture": {"transaction": None, **_user_error("parentTransactionId", "Authorization has expired")}
            }
        amount = Decimal(str(capture_input.get("amount", "0")))
        held = Decimal(parent["amountSet"]["shopMoney"]["amount"]) - order.captured_from(parent["id"])
        if amount <= 0 or amount > held or parent.get("closed"):
            return {
                "orderCapture": {"transaction": None, **_user_error("amount", "Amount exceeds the capturable amount")}
            }
        declined = str(order.rest["id"]) in self.declining
        self.declining.discard(str(order.rest["id"]))
        transaction_id = self._new_gid("OrderTransaction")
        transaction = {
            "id": transaction_id,
            "kind": "CAPTURE",
            "status": "FAILURE" if declined else "SUCCESS",
            "gateway": parent.get("gateway"),
            "parentTransaction": {"id": parent["id"]},
            "amountSet": _money(amount, order.currency),
        }
        order.transactions.append(transaction)
        if not declined:
            self.ledger.record(str(order.rest["id"]), "capture", amount, transaction_id)
            parent["closed"] = bool(capture_input.get("finalCapture"))  # the uncaptured rest is released
            order.rest["financial_status"] = "paid" if amount == held else "partially_paid"
            order.rest["total_outstanding"] = f"{held - amount:.2f}"
        self._touch(order, "OrderCapture", variables)
        return {"orderCapture": {"transaction": copy.deepcopy(transaction), "userErrors": []}}

    def _order_mark_as_paid(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``orderMarkAsPaid``: "creates a new sale transaction for the full outstanding amount"; refused (userErrors,
        HTTP 200) unless the order "has a positive outstanding balance and its financial status isn't already PAID".
        Cash recorded, not moved by Shopify: its ledger entry is ``recorded_paid``, offline.
        https://shopify.dev/docs/api/admin-graphql/latest/mutations/orderMarkAsPaid"""
        order = self._order((variables.get("input") or {}).get("id"))
        if order is None:
            return {"orderMarkAsPaid": {"order": None, **_user_error("id", "Order does not exist")}}
        outstanding = order.outstanding()
        if order.rest.get("financial_status") == "paid" or outstanding <= 0:
            return {"orderMarkAsPaid": {"order": None, **_user_error("id", "Order cannot be marked as paid")}}
        transaction_id = self._new_gid("OrderTransaction")
        gateways = order.rest.get("payment_gateway_names") or ["manual"]
        order.transactions.append(
            {
                "id": transaction_id,
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": gateways[-1],
                "amountSet": _money(outstanding, order.currency),
            }
        )
        order.rest["financial_status"], order.rest["total_outstanding"] = "paid", "0.00"
        self.ledger.record(str(order.rest["id"]), "recorded_paid", outstanding, transaction_id, online=False)
        self._touch(order, "OrderMarkAsPaid", variables)
        view = {"id": order.gid, "displayFinancialStatus": "PAID"}
        return {"orderMarkAsPaid": {"order": view, "userErrors": []}}

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


def install(api: StubApi, *, snapshots: tuple[str, ...] = DEFAULT_SNAPSHOTS, token: str = ACCESS_TOKEN) -> ShopifyShop:
    shop = ShopifyShop(snapshots, token)
    shop.install(api)
    return shop


# What the end-to-end tests look for after the demo order is fulfilled (see local/stubs/__init__.py).
def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return b"fulfillmentCreate" in request.body and tracking_number in request.body.decode()


def wrote_completion(request: StubRequest) -> bool:
    return b"tagsAdd" in request.body
