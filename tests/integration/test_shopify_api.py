"""Shopify's Admin API over real HTTP against the local stub: REST fetch, GraphQL write-backs, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.shopify import API_VERSION, ShopifyInbound, ShopifySource, ShopifyWriteBack
from fulfillment.errors import OrderInvalid, PlatformRejected, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from local.stub_api import Fault, StubApi
from local.stubs.shopify import ACCESS_TOKEN, GRAPHQL_ROUTE, SHOP_DOMAIN, ShopifyShop, ShopOrder

EVENTS = Path(__file__).resolve().parents[2] / "events" / "shopify"
STORE = Store(store_id="kaffeekontor-berlin", platform="shopify", secret_ref="/ref", platform_store_id=SHOP_DOMAIN)
PAID_ORDER = "6154876993845"  # #1042
CANCELLED_ORDER = "6154877026613"  # #1043
ORDER_PATH = rf"/admin/api/2026-10/orders/{PAID_ORDER}\.json"
GRAPHQL_PATH = r"/admin/api/2026-10/graphql\.json"
TRACKING = "JJD000390007200718471"


class Sleeps(list[float]):
    """HttpClient's sleep, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api() -> Iterator[StubApi]:
    with StubApi(name="shopify-stub") as stub:
        yield stub


@pytest.fixture
def shop(api: StubApi) -> ShopifyShop:
    shop = ShopifyShop()
    shop.install(api)
    return shop


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sleeps: Sleeps) -> HttpClient:
    return HttpClient(timeout=5.0, attempts=3, base_delay=0.01, sleep=sleeps)


@pytest.fixture
def credentials(api: StubApi) -> StoreCredentials:
    return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=ACCESS_TOKEN)


def _webhook_order(name: str) -> Order:
    headers = json.loads((EVENTS / f"{name}.headers.json").read_text(encoding="utf-8"))
    request = WebhookRequest(
        body=(EVENTS / f"{name}.json").read_bytes(), headers={k.lower(): v for k, v in headers.items()}
    )
    order = ShopifyInbound().read(request, STORE).order
    assert order is not None
    return order


def _update(kind: UpdateKind, order: Order | None = None, **fields: Any) -> StoreUpdate:
    return StoreUpdate(kind=kind, order=order or _webhook_order("02_orders_paid"), **fields)


def _operations(api: StubApi) -> list[str]:
    return [request.json()["query"].split("(")[0].split()[-1] for request in api.received("POST", GRAPHQL_PATH)]


def _mutations(api: StubApi, name: str) -> list[dict[str, Any]]:
    return [
        request.json()["variables"]
        for request in api.received("POST", GRAPHQL_PATH)
        if f"mutation {name}" in request.json()["query"]
    ]


class TestFetchingAnOrder:
    def test_maps_to_the_same_order_as_the_webhook_of_the_same_state(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        fetched = ShopifySource(http).fetch_order(STORE, credentials, PAID_ORDER)
        assert fetched == _webhook_order("02_orders_paid")

    def test_asks_the_graphql_admin_api_with_the_access_token_not_the_legacy_rest_api(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ShopifySource(http).fetch_order(STORE, credentials, PAID_ORDER)
        [request] = api.received("POST", GRAPHQL_PATH)
        assert request.headers["x-shopify-access-token"] == ACCESS_TOKEN
        assert _operations(api) == ["OrderFetch"]
        assert request.json()["variables"] == {"id": f"gid://shopify/Order/{PAID_ORDER}"}
        assert api.received("GET", ORDER_PATH) == []

    def test_accepts_the_admin_graphql_id(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = ShopifySource(http).fetch_order(STORE, credentials, f"gid://shopify/Order/{CANCELLED_ORDER}")
        assert (order.number, order.cancelled, order.refunded) == ("#1043", True, Money.parse("47.90", "EUR"))

    def test_an_unknown_order_is_rejected(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(PlatformRejected) as caught:
            ShopifySource(http).fetch_order(STORE, credentials, "1")
        assert caught.value.status == 404

    def test_a_wrong_access_token_is_rejected(self, shop: ShopifyShop, http: HttpClient, api: StubApi) -> None:
        wrong = StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token="shpat_wrong")
        with pytest.raises(PlatformRejected) as caught:
            ShopifySource(http).fetch_order(STORE, wrong, PAID_ORDER)
        assert caught.value.status == 401

    def test_an_id_that_is_no_shopify_id_is_refused_before_any_call(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(OrderInvalid):
            ShopifySource(http).fetch_order(STORE, credentials, "../shop.json")
        assert api.received() == []

    def test_waits_as_long_as_a_429_asks_then_succeeds(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials, sleeps: Sleeps
    ) -> None:
        api.fail_next("POST", GRAPHQL_ROUTE, Fault(429, retry_after="1"))
        order = ShopifySource(http).fetch_order(STORE, credentials, PAID_ORDER)
        assert order.external_id == PAID_ORDER
        assert len(api.received("POST", GRAPHQL_PATH)) == 2
        assert sleeps and sleeps[0] >= 1.0

    def test_a_slow_answer_beyond_the_timeout_is_transient(
        self, api: StubApi, shop: ShopifyShop, credentials: StoreCredentials
    ) -> None:
        api.fail_next("POST", GRAPHQL_ROUTE, Fault.slow(1.5))
        with pytest.raises(TransientError):
            ShopifySource(HttpClient(timeout=0.3, attempts=1)).fetch_order(STORE, credentials, PAID_ORDER)

    def test_without_a_base_url_it_calls_the_shop_domain_over_https(self, api: StubApi, shop: ShopifyShop) -> None:
        host = api.url.removeprefix("http://")  # the stub speaks plain HTTP, so the TLS handshake fails
        store = Store(store_id="s", platform="shopify", secret_ref="/r", platform_store_id=host)
        credentials = StoreCredentials(webhook_secret="x", api_token=ACCESS_TOKEN)
        with pytest.raises(TransientError, match=rf"POST https://{host}/admin/api/2026-10/graphql\.json"):
            ShopifySource(HttpClient(timeout=0.5, attempts=1)).fetch_order(store, credentials, "1")


class TestShipped:
    def test_creates_a_fulfillment_with_the_tracking_on_the_open_fulfillment_order(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(
            UpdateKind.SHIPPED, carrier="DHL", tracking_number=TRACKING, tracking_url="https://t.example/1"
        )
        result = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert result.done and not result.already and result.reference
        assert _operations(api) == ["WriteBackState", "FulfillmentCreate"]
        [variables] = _mutations(api, "FulfillmentCreate")
        lines = [line["id"] for line in json.loads((EVENTS / "02_orders_paid.json").read_text())["line_items"]]
        quantities = [2, 1, 1]  # every unit shipped: the sample's quantities
        assert variables == {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [
                    {
                        "fulfillmentOrderId": f"gid://shopify/FulfillmentOrder/{PAID_ORDER}00",
                        "fulfillmentOrderLineItems": [
                            {"id": f"gid://shopify/FulfillmentOrderLineItem/{line}", "quantity": quantity}
                            for line, quantity in zip(lines, quantities, strict=True)
                        ],
                    }
                ],
                "trackingInfo": {"number": TRACKING, "company": "DHL", "url": "https://t.example/1"},
                "notifyCustomer": True,
            }
        }
        assert api.received("POST", GRAPHQL_PATH)[0].headers["x-shopify-access-token"] == ACCESS_TOKEN

    def test_applying_it_twice_creates_one_fulfillment(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.SHIPPED, carrier="DHL", tracking_number=TRACKING)
        first = ShopifyWriteBack(http).apply(STORE, credentials, update)
        second = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert (first.already, second.already) == (False, True)
        assert second.reference == first.reference
        assert len(_mutations(api, "FulfillmentCreate")) == 1
        assert len(shop.orders[PAID_ORDER].fulfillments) == 1

    def test_a_fulfillment_the_merchant_made_with_our_tracking_number_counts(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ShopifyShop(("04_orders_fulfilled.json",)).install(api)
        update = _update(UpdateKind.SHIPPED, carrier="DHL", tracking_number="00340434161094027318")
        result = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (
            True,
            True,
            "gid://shopify/Fulfillment/5601234567890",
        )
        assert _mutations(api, "FulfillmentCreate") == []

    def test_an_order_fulfilled_elsewhere_is_left_as_it_is(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ShopifyShop(("04_orders_fulfilled.json",)).install(api)
        result = ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.SHIPPED, tracking_number=TRACKING))
        assert (result.done, result.already) == (True, True)
        assert _mutations(api, "FulfillmentCreate") == []

    def test_a_cancelled_order_cannot_be_fulfilled(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.SHIPPED, order=_webhook_order("05_orders_cancelled"), tracking_number=TRACKING)
        with pytest.raises(PlatformRejected, match="no open fulfillment order"):
            ShopifyWriteBack(http).apply(STORE, credentials, update)

    def test_needs_a_tracking_number(self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials) -> None:
        with pytest.raises(OrderInvalid, match="tracking number"):
            ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.SHIPPED))


class TestCompletedAndProcessing:
    @pytest.mark.parametrize(
        ("kind", "tag"),
        [(UpdateKind.COMPLETED, "fulfillment-completed"), (UpdateKind.PROCESSING, "fulfillment-started")],
    )
    def test_tags_the_order_once(
        self,
        api: StubApi,
        shop: ShopifyShop,
        http: HttpClient,
        credentials: StoreCredentials,
        kind: UpdateKind,
        tag: str,
    ) -> None:
        first = ShopifyWriteBack(http).apply(STORE, credentials, _update(kind))
        second = ShopifyWriteBack(http).apply(STORE, credentials, _update(kind))
        assert (first.done, first.already, second.already) == (True, False, True)
        assert _mutations(api, "TagsAdd") == [{"id": f"gid://shopify/Order/{PAID_ORDER}", "tags": [tag]}]
        assert shop.orders[PAID_ORDER].tags == [tag]


class TestCancelled:
    def test_cancels_without_refunding_and_restocks(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        result = ShopifyWriteBack(http).apply(
            STORE, credentials, _update(UpdateKind.CANCELLED, reason="inspection failed")
        )
        assert result.done and not result.already
        [variables] = _mutations(api, "OrderCancel")
        assert variables == {
            "orderId": f"gid://shopify/Order/{PAID_ORDER}",
            "reason": "OTHER",
            "refundMethod": {"originalPaymentMethodsRefund": False},  # not the deprecated refund argument
            "restock": True,
            "notifyCustomer": True,
            "staffNote": "inspection failed",
        }

    def test_applying_it_twice_cancels_once(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.CANCELLED))
        second = ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.CANCELLED))
        assert (second.done, second.already) == (True, True)
        assert len(_mutations(api, "OrderCancel")) == 1

    def test_an_order_cancelled_on_shopify_is_already_cancelled(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.CANCELLED, order=_webhook_order("05_orders_cancelled"))
        assert ShopifyWriteBack(http).apply(STORE, credentials, update).already is True
        assert _mutations(api, "OrderCancel") == []


class TestRefunded:
    def test_refunds_the_amount_against_the_captured_payment_marked_with_the_update_key(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.REFUNDED, amount=Money.parse("14.50", "EUR"), reason="broken handle")
        result = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert result.done and not result.already and result.reference
        [variables] = _mutations(api, "RefundCreate")
        assert variables == {
            "input": {
                "orderId": f"gid://shopify/Order/{PAID_ORDER}",
                "note": f"broken handle [{update.key}]",
                "notify": True,
                "transactions": [
                    {
                        "orderId": f"gid://shopify/Order/{PAID_ORDER}",
                        "parentId": f"gid://shopify/OrderTransaction/{int(PAID_ORDER) + 1}",
                        "gateway": "Vorkasse (Banküberweisung)",
                        "kind": "REFUND",
                        "amount": "14.50",
                    }
                ],
            },
            "idempotencyKey": update.key,  # @idempotent, mandatory from 2026-04
        }
        assert shop.orders[PAID_ORDER].rest["financial_status"] == "partially_refunded"

    def test_applying_it_twice_refunds_once(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.REFUNDED, amount=Money.parse("14.50", "EUR"))
        first = ShopifyWriteBack(http).apply(STORE, credentials, update)
        second = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert (second.done, second.already, second.reference) == (True, True, first.reference)
        assert len(_mutations(api, "RefundCreate")) == 1
        assert len(shop.orders[PAID_ORDER].refunds) == 1

    def test_a_different_amount_is_a_different_refund(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        for amount in ("14.50", "29.00"):
            update = _update(UpdateKind.REFUNDED, amount=Money.parse(amount, "EUR"))
            assert ShopifyWriteBack(http).apply(STORE, credentials, update).already is False
        assert len(_mutations(api, "RefundCreate")) == 2

    def test_two_returns_of_the_same_amount_are_two_refunds(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        for reference in ("shop:1042:R1", "shop:1042:R2"):
            update = _update(UpdateKind.REFUNDED, amount=Money.parse("14.50", "EUR"), reference=reference)
            assert ShopifyWriteBack(http).apply(STORE, credentials, update).already is False
            assert ShopifyWriteBack(http).apply(STORE, credentials, update).already is True
        assert len(shop.orders[PAID_ORDER].refunds) == 2

    def test_an_order_never_paid_has_nothing_to_refund(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ShopifyShop(("01_orders_create.json",)).install(api)
        update = _update(UpdateKind.REFUNDED, order=_webhook_order("01_orders_create"), amount=Money.parse("1", "EUR"))
        with pytest.raises(PlatformRejected, match="no captured payment"):
            ShopifyWriteBack(http).apply(STORE, credentials, update)

    def test_more_than_was_paid_is_refused_by_shopify(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.REFUNDED, amount=Money.parse("500.00", "EUR"))
        with pytest.raises(PlatformRejected, match="refundCreate refused"):
            ShopifyWriteBack(http).apply(STORE, credentials, update)

    @pytest.mark.parametrize("amount", [None, Money.parse("0", "EUR"), Money.parse("5", "USD")])
    def test_needs_a_positive_amount_in_the_order_currency(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials, amount: Money | None
    ) -> None:
        with pytest.raises(OrderInvalid):
            ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.REFUNDED, amount=amount))


class TestReturned:
    def test_a_resolved_return_is_one_line_appended_to_the_order_note(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.orders[PAID_ORDER].rest["note"] = "Bitte klingeln"
        update = _update(UpdateKind.RETURNED, reason="refunded by the store", reference="shop:1042:R1")
        first = ShopifyWriteBack(http).apply(STORE, credentials, update)
        second = ShopifyWriteBack(http).apply(STORE, credentials, update)
        assert (first.already, second.already) == (False, True)
        [variables] = _mutations(api, "OrderUpdate")
        assert variables == {
            "input": {
                "id": f"gid://shopify/Order/{PAID_ORDER}",
                "note": f"Bitte klingeln\nrefunded by the store [{update.key}]",
            }
        }


class TestGraphqlFaults:
    def test_throttling_is_transient(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        api.fail_next("POST", GRAPHQL_ROUTE, Fault(200, body=throttled))
        with pytest.raises(TransientError) as caught:
            ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.COMPLETED))
        assert caught.value.retry_after == 1.0

    def test_a_429_then_success_applies_once(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials, sleeps: Sleeps
    ) -> None:
        api.fail_next("POST", GRAPHQL_ROUTE, Fault(429, retry_after="1"))
        result = ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.SHIPPED, tracking_number=TRACKING))
        assert result.done and not result.already
        assert sleeps[0] >= 1.0
        assert len(_mutations(api, "FulfillmentCreate")) == 1

    def test_a_slow_answer_beyond_the_timeout_is_transient(
        self, api: StubApi, shop: ShopifyShop, credentials: StoreCredentials
    ) -> None:
        api.fail_next("POST", GRAPHQL_ROUTE, Fault.slow(1.5))
        with pytest.raises(TransientError):
            ShopifyWriteBack(HttpClient(timeout=0.3, attempts=1)).apply(
                STORE, credentials, _update(UpdateKind.COMPLETED)
            )

    def test_a_wrong_access_token_is_rejected(self, api: StubApi, shop: ShopifyShop, http: HttpClient) -> None:
        wrong = StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token="shpat_wrong")
        with pytest.raises(PlatformRejected) as caught:
            ShopifyWriteBack(http).apply(STORE, wrong, _update(UpdateKind.COMPLETED))
        assert caught.value.status == 401

    def test_an_order_shopify_does_not_know_is_rejected(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        unknown = _webhook_order("02_orders_paid").model_copy(update={"external_id": "1", "platform_refs": {}})
        with pytest.raises(PlatformRejected) as caught:
            ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.COMPLETED, order=unknown))
        assert caught.value.status == 404

    def test_a_graphql_error_is_rejected_with_its_message(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        api.fail_next("POST", GRAPHQL_ROUTE, Fault(200, body={"errors": [{"message": "Field 'x' doesn't exist"}]}))
        with pytest.raises(PlatformRejected, match="Field 'x' doesn't exist"):
            ShopifyWriteBack(http).apply(STORE, credentials, _update(UpdateKind.COMPLETED))


def _two_locations(shop: ShopifyShop, api: StubApi) -> Order:
    """Order #1042 with its torch at a second location: two fulfillment orders, as Shopify splits it."""
    rest = json.loads((EVENTS / "02_orders_paid.json").read_text())
    rest["line_items"][2]["origin_location"] = {"id": 2}
    shop.orders[PAID_ORDER] = ShopOrder.from_rest(rest)
    return _webhook_order("02_orders_paid")


class TestFulfillmentPerLocation:
    def test_an_order_at_two_locations_is_fulfilled_by_one_fulfillment_per_location(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _two_locations(shop, api)

        result = ShopifyWriteBack(http).apply(
            STORE, credentials, _update(UpdateKind.SHIPPED, order, tracking_number=TRACKING)
        )

        calls = _mutations(api, "FulfillmentCreate")
        assert [
            [pair["fulfillmentOrderId"] for pair in call["fulfillment"]["lineItemsByFulfillmentOrder"]]
            for call in calls
        ] == [
            [f"gid://shopify/FulfillmentOrder/{PAID_ORDER}00"],
            [f"gid://shopify/FulfillmentOrder/{PAID_ORDER}01"],
        ]
        assert len(shop.orders[PAID_ORDER].fulfillments) == 2 and len((result.reference or "").split(",")) == 2
        assert {fo["status"] for fo in shop.orders[PAID_ORDER].fulfillment_orders} == {"CLOSED"}

    def test_the_shop_refuses_fulfillment_orders_of_two_locations_in_one_call(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        _two_locations(shop, api)
        both = [{"fulfillmentOrderId": fo["id"]} for fo in shop.orders[PAID_ORDER].fulfillment_orders]
        answer = shop._fulfillment_create({"fulfillment": {"lineItemsByFulfillmentOrder": both}})
        assert answer["fulfillmentCreate"]["userErrors"][0]["message"].startswith("All fulfillment orders")

    def test_a_retry_after_one_location_was_fulfilled_fulfils_only_the_other(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _two_locations(shop, api)
        update = _update(UpdateKind.SHIPPED, order, tracking_number=TRACKING)
        first = shop.orders[PAID_ORDER].fulfillment_orders[0]
        shop._fulfillment_create(
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": first["id"]}],
                    "trackingInfo": {"number": TRACKING},
                }
            }
        )

        again = ShopifyWriteBack(http).apply(STORE, credentials, update)
        twice = ShopifyWriteBack(http).apply(STORE, credentials, update)

        [call] = _mutations(api, "FulfillmentCreate")
        assert call["fulfillment"]["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderId"].endswith("01")
        assert not again.already and twice.already
        assert len(shop.orders[PAID_ORDER].fulfillments) == 2


class TestPartialShipment:
    def test_a_short_line_is_fulfilled_with_the_units_shipped_and_its_rest_left_open(
        self, api: StubApi, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _webhook_order("02_orders_paid").model_copy(update={"short": {"MUG-CC-BLU": 1, "TORCH-CB-01": 1}})
        update = _update(UpdateKind.SHIPPED, order, tracking_number=TRACKING)

        ShopifyWriteBack(http).apply(STORE, credentials, update)
        again = ShopifyWriteBack(http).apply(STORE, credentials, update)

        [call] = _mutations(api, "FulfillmentCreate")
        [pair] = call["fulfillment"]["lineItemsByFulfillmentOrder"]
        assert [item["quantity"] for item in pair["fulfillmentOrderLineItems"]] == [1, 1]  # mug 1 of 2, tee 1; no torch
        [fo] = shop.orders[PAID_ORDER].fulfillment_orders
        assert fo["status"] == "IN_PROGRESS"  # a mug and the torch are still to fulfil
        assert [item["remainingQuantity"] for item in fo["lineItems"]["nodes"]] == [1, 0, 1]
        assert again.already and shop.orders[PAID_ORDER].rest["fulfillment_status"] == "partial"


def test_the_pinned_admin_api_version_is_a_stable_quarterly_one_still_supported() -> None:
    # Each stable version is supported for at least 12 months (shopify.dev/docs/api/usage/versioning).
    year, month = (int(part) for part in API_VERSION.split("-"))
    assert month in {1, 4, 7, 10}
    assert datetime.now(UTC).date() < date(year + 1, month, 1)
