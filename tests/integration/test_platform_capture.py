"""Capturing an authorization the platform holds, through the platform's API, over real HTTP against its stub:
exactly once under retries, refusals that move nothing, the stub's money ledger as the truth (issue #11, item 3)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.bigcommerce import BigCommercePayments, BigCommerceSource
from fulfillment.adapters.platforms.magento import MagentoPayments, MagentoSource
from fulfillment.adapters.platforms.shopify import ShopifyInbound, ShopifyPayments
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound, WooCommercePayments, WooOrder
from fulfillment.errors import PaymentDeclined, PlatformRejected
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentMethod, payment_method
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from local.stub_api import StubApi
from local.stubs.bigcommerce import API_TOKEN as BC_TOKEN
from local.stubs.bigcommerce import STORE_HASH, BigCommerceStore
from local.stubs.magento import API_TOKEN as MAGENTO_TOKEN
from local.stubs.magento import MagentoShop
from local.stubs.shopify import ACCESS_TOKEN, SHOP_DOMAIN, ShopifyShop
from local.stubs.woocommerce import CONSUMER_KEY as WOO_KEY
from local.stubs.woocommerce import CONSUMER_SECRET as WOO_SECRET
from local.stubs.woocommerce import WooCommerceShop

EVENTS = Path(__file__).resolve().parents[2] / "events"
SHOPIFY = Store(store_id="kaffeekontor-berlin", platform="shopify", secret_ref="/ref", platform_store_id=SHOP_DOMAIN)
BIGCOMMERCE = Store(store_id="bigshop", platform="bigcommerce", secret_ref="ref", platform_store_id=STORE_HASH)
MAGENTO = Store(store_id="kaffeekontor-mage", platform="magento", secret_ref="/ref")
WOO = Store(store_id="kaffeekontor", platform="woocommerce", secret_ref="/ref")
AUTHORIZED = "6154877059381"  # #1044, authorized for manual capture
PAID = "6154876993845"  # #1042, paid at checkout


def _shopify_order(name: str) -> Order:
    headers = json.loads((EVENTS / "shopify" / f"{name}.headers.json").read_text(encoding="utf-8"))
    request = WebhookRequest(
        body=(EVENTS / "shopify" / f"{name}.json").read_bytes(), headers={k.lower(): v for k, v in headers.items()}
    )
    order = ShopifyInbound().read(request, SHOPIFY).order
    assert order is not None
    return order


class TestShopifyCapture:
    @pytest.fixture
    def shop(self, api: StubApi) -> ShopifyShop:
        shop = ShopifyShop()
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=ACCESS_TOKEN)

    def test_the_authorized_sample_is_a_capture_obligation(self) -> None:
        order = _shopify_order("06_orders_create_authorized")
        assert payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED
        assert order.payment.authorized == order.totals.grand_total

    def test_captures_the_authorization_once_however_often_asked(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _shopify_order("06_orders_create_authorized")
        payments = ShopifyPayments(http)

        first = payments.capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        again = payments.capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")

        assert (first.status, first.amount) == ("captured", order.totals.grand_total)
        assert (again.status, again.reference) == ("already", first.reference)
        assert [(e.kind, e.amount) for e in shop.ledger.of(AUTHORIZED)] == [("capture", Decimal("105.90"))]
        assert shop.orders[AUTHORIZED].rest["financial_status"] == "paid"

    def test_a_capture_over_the_authorization_is_refused_and_moves_nothing(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _shopify_order("06_orders_create_authorized")
        with pytest.raises(PlatformRejected, match="exceeds"):
            ShopifyPayments(http).capture(SHOPIFY, credentials, order, Money.parse("200.00", "EUR"), "capture:k")
        assert shop.ledger.of(AUTHORIZED) == []

    def test_a_declined_capture_is_a_decline_and_moves_nothing(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _shopify_order("06_orders_create_authorized")
        shop.declining.add(AUTHORIZED)
        with pytest.raises(PaymentDeclined):
            ShopifyPayments(http).capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        assert shop.ledger.of(AUTHORIZED) == []

    def test_an_expired_authorization_is_refused_and_moves_nothing(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _shopify_order("06_orders_create_authorized")
        shop.orders[AUTHORIZED].transactions[0]["authorizationExpiresAt"] = "2025-06-10T12:21:07+00:00"
        with pytest.raises(PlatformRejected, match="expired"):
            ShopifyPayments(http).capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        assert shop.ledger.of(AUTHORIZED) == []

    def test_a_paid_order_has_nothing_left_to_capture(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _shopify_order("02_orders_paid")
        result = ShopifyPayments(http).capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        assert result.status == "already"
        assert shop.ledger.of(PAID) == []

    def test_the_ledger_is_served_for_end_to_end_tests(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials, api: StubApi
    ) -> None:
        order = _shopify_order("06_orders_create_authorized")
        ShopifyPayments(http).capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        answer = http.request("GET", f"{api.url}/_stub/ledger/{AUTHORIZED}").json()
        assert [(e["kind"], e["amount"]) for e in answer["entries"]] == [("capture", "105.90")]


class TestBigCommerceCapture:
    @pytest.fixture
    def store(self, api: StubApi) -> BigCommerceStore:
        store = BigCommerceStore()
        store.install(api)
        return store

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=BC_TOKEN)

    def _order(self, http: HttpClient, credentials: StoreCredentials, order_id: str) -> Order:
        return BigCommerceSource(http).fetch_order(BIGCOMMERCE, credentials, order_id)

    def test_the_authorized_order_is_a_capture_obligation(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1189")
        assert (payment_method(order), order.paid) == (PaymentMethod.PLATFORM_AUTHORIZED, True)

    def test_a_capture_is_pending_until_the_transactions_say_captured_and_happens_once(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.auto_settle = False
        order = self._order(http, credentials, "1189")
        payments = BigCommercePayments(http)

        first = payments.capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "capture:k")
        while_pending = payments.capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "capture:k")
        assert (first.status, while_pending.status) == ("pending", "pending")
        assert store.ledger.of(1189) == []  # accepted, not settled: no money has moved yet
        store.settle(1189)
        settled = payments.capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "capture:k")

        assert (settled.status, settled.amount) == ("already", order.totals.grand_total)
        captures = [r for r in store.writes if r[1].endswith("/payment_actions/capture")]
        assert len(captures) == 1
        assert [(e.kind, e.amount) for e in store.ledger.of(1189)] == [("capture", Decimal("116.86"))]
        assert self._order(http, credentials, "1189").payment.method == PaymentMethod.PREPAID  # the platform says so

    def test_a_paid_order_has_nothing_left_to_capture(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1187")
        result = BigCommercePayments(http).capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "k")
        assert result.status == "already"
        assert store.ledger.of(1187) == []

    def test_a_cancelled_order_cannot_be_captured_and_moves_nothing(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders[1189]["payment_status"] = "void"
        store.transactions[1189] = []
        order = self._order(http, credentials, "1187").model_copy(update={"external_id": "1189"})
        with pytest.raises(PlatformRejected, match="no authorization"):
            BigCommercePayments(http).capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "k")
        assert store.ledger.of(1189) == []


class TestMagentoCapture:
    @pytest.fixture
    def shop(self, api: StubApi) -> MagentoShop:
        shop = MagentoShop(integration_as_bearer=True)
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=MAGENTO_TOKEN)

    def _order(self, http: HttpClient, credentials: StoreCredentials, order_id: str) -> Order:
        return MagentoSource(http).fetch_order(MAGENTO, credentials, order_id)

    def test_an_uninvoiced_authorized_order_is_captured_by_invoicing_it_once(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "319")
        assert (payment_method(order), order.paid) == (PaymentMethod.PLATFORM_AUTHORIZED, True)
        payments = MagentoPayments(http)

        first = payments.capture(MAGENTO, credentials, order, order.totals.grand_total, "capture:k")
        again = payments.capture(MAGENTO, credentials, order, order.totals.grand_total, "capture:k")

        assert (first.status, again.status) == ("captured", "already")
        assert [(e.kind, e.amount, e.online) for e in shop.ledger.of(319)] == [("capture", Decimal("107.94"), True)]
        assert payment_method(self._order(http, credentials, "319")) is PaymentMethod.PREPAID

    def test_an_invoiced_order_has_nothing_left_to_capture(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "318")
        assert MagentoPayments(http).capture(MAGENTO, credentials, order, order.totals.grand_total, "k").status == (
            "already"
        )
        assert shop.ledger.of(318) == []


class TestWooCommerceCapture:
    @pytest.fixture
    def shop(self, api: StubApi) -> WooCommerceShop:
        shop = WooCommerceShop()
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(
            webhook_secret="test-secret", api_base_url=api.url, api_key=WOO_KEY, api_secret=WOO_SECRET
        )

    def _order(self, shop: WooCommerceShop, order_id: int) -> Order:
        raw = WooOrder.model_validate(shop.orders[order_id])
        return WooCommerceInbound._to_order(raw, WOO)

    def test_the_stripe_extension_captures_on_the_status_change_once(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(shop, 4713)
        assert (payment_method(order), order.payment.gateway) == (PaymentMethod.PLATFORM_AUTHORIZED, "stripe")
        payments = WooCommercePayments(http)

        first = payments.capture(WOO, credentials, order, order.totals.grand_total, "capture:k")
        again = payments.capture(WOO, credentials, order, order.totals.grand_total, "capture:k")

        assert (first.status, again.status) == ("captured", "already")
        assert [(e.kind, e.amount) for e in shop.ledger.of(4713)] == [("capture", Decimal("126.02"))]
        assert payment_method(self._order(shop, 4713)) is PaymentMethod.PREPAID  # processing, captured

    def test_a_declined_capture_is_a_decline(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.declining.add(4713)
        order = self._order(shop, 4713)
        with pytest.raises(PaymentDeclined):
            WooCommercePayments(http).capture(WOO, credentials, order, order.totals.grand_total, "capture:k")
        assert shop.ledger.of(4713) == []

    def test_an_order_without_an_uncaptured_charge_is_refused_and_moves_nothing(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(shop, 4711)
        with pytest.raises(PlatformRejected, match="no charge"):
            WooCommercePayments(http).capture(WOO, credentials, order, order.totals.grand_total, "capture:k")
        assert shop.ledger.of(4711) == []
