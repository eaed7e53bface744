"""Giving money back through the platform, over real HTTP against its stub: refunds and voids exactly once under
retries (the same call twice: the ledger shows one), refusals that move nothing, the stub's money ledger as the
truth (issue #11, items 4 and 6)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.bigcommerce import BigCommercePayments, BigCommerceSource
from fulfillment.adapters.platforms.magento import MagentoPayments, MagentoSource
from fulfillment.adapters.platforms.shopify import ShopifyInbound, ShopifyPayments, ShopifyWriteBack
from fulfillment.errors import PlatformRejected, RefundNotPossible
from fulfillment.model import Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from fulfillment.refunds import give_back
from local.money_ledger import MoneyLedger
from local.stub_api import StubApi
from local.stubs.bigcommerce import API_TOKEN as BC_TOKEN
from local.stubs.bigcommerce import STORE_HASH, BigCommerceStore
from local.stubs.magento import API_TOKEN as MAGENTO_TOKEN
from local.stubs.magento import MagentoShop
from local.stubs.shopify import ACCESS_TOKEN, SHOP_DOMAIN, ShopifyShop
from tests.fakes import FakeSecretStore, FulfillmentWorld, InMemoryStoreRegistry
from tests.fakes_platform_payments import FakePlatformPayments

EVENTS = Path(__file__).resolve().parents[2] / "events"
SHOPIFY = Store(store_id="kaffeekontor-berlin", platform="shopify", secret_ref="/ref", platform_store_id=SHOP_DOMAIN)
BIGCOMMERCE = Store(store_id="bigshop", platform="bigcommerce", secret_ref="ref", platform_store_id=STORE_HASH)
MAGENTO = Store(store_id="kaffeekontor-mage", platform="magento", secret_ref="/ref")
SHOPIFY_AUTHORIZED = "6154877059381"  # #1044, authorized for manual capture
SHOPIFY_PAID = "6154876993845"  # #1042, paid at checkout


def _entries(ledger: MoneyLedger, order_id: str | int) -> list[tuple[str, Decimal, bool]]:
    return [(e.kind, e.amount, e.online) for e in ledger.of(str(order_id))]


class TestBigCommerce:
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

    def test_a_cancelled_captured_order_is_refunded_online_once(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1187")
        payments = BigCommercePayments(http)
        total = order.totals.grand_total

        first = payments.refund(BIGCOMMERCE, credentials, order, total, "refund:cancel:1187", "cancelled")
        again = payments.refund(BIGCOMMERCE, credentials, order, total, "refund:cancel:1187", "cancelled")

        assert (first.status, again.status, again.reference) == ("refunded", "already", first.reference)
        assert _entries(store.ledger, 1187) == [("refund", Decimal("116.86"), True)]  # the online method, not custom
        assert store.orders[1187]["status_id"] == 4  # Refunded

    def test_a_refund_over_what_was_paid_is_refused_and_moves_nothing(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1187")
        with pytest.raises(PlatformRejected):
            BigCommercePayments(http).refund(
                BIGCOMMERCE, credentials, order, Money.parse("500.00", order.currency), "refund:k", "too much"
            )
        assert store.ledger.of("1187") == []

    def test_an_authorized_only_order_cancelled_is_voided_once(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1189")
        payments = BigCommercePayments(http)

        first = payments.void(BIGCOMMERCE, credentials, order, "void:1189")
        again = payments.void(BIGCOMMERCE, credentials, order, "void:1189")

        assert (first.status, again.status) == ("voided", "already")
        assert _entries(store.ledger, 1189) == [("void", Decimal("116.86"), True)]
        voids = [w for w in store.writes if w[1].endswith("/payment_actions/void")]
        assert len(voids) == 1
        assert store.orders[1189]["payment_status"] == "void"

    def test_a_void_is_pending_until_the_gateway_voids_it_and_is_sent_once(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.auto_settle = False
        order = self._order(http, credentials, "1189")
        payments = BigCommercePayments(http)

        first = payments.void(BIGCOMMERCE, credentials, order, "void:1189")
        while_pending = payments.void(BIGCOMMERCE, credentials, order, "void:1189")
        assert (first.status, while_pending.status) == ("voided", "already")
        assert store.ledger.of("1189") == []  # accepted, not yet voided by the gateway
        store.settle(1189)

        assert _entries(store.ledger, 1189) == [("void", Decimal("116.86"), True)]
        assert len([w for w in store.writes if w[1].endswith("/payment_actions/void")]) == 1

    def test_a_void_after_a_capture_is_refused_and_moves_nothing(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "1189")
        payments = BigCommercePayments(http)
        payments.capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "capture:k")
        payments.capture(BIGCOMMERCE, credentials, order, order.totals.grand_total, "capture:k")  # settles it
        with pytest.raises(PlatformRejected, match="no authorization to void"):
            payments.void(BIGCOMMERCE, credentials, order, "void:1189")
        assert [e.kind for e in store.ledger.of("1189")] == ["capture"]

    def test_the_stub_refuses_a_void_of_a_captured_payment(
        self, store: BigCommerceStore, http: HttpClient, api: StubApi
    ) -> None:
        with pytest.raises(PlatformRejected) as refused:
            http.request(
                "POST",
                f"{api.url}/stores/{STORE_HASH}/v3/orders/1187/payment_actions/void",
                headers={"X-Auth-Token": BC_TOKEN},
            )
        assert refused.value.status == 422
        assert store.ledger.of("1187") == []


class TestMagento:
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

    def _captured(self, http: HttpClient, credentials: StoreCredentials) -> Order:
        order = self._order(http, credentials, "319")
        MagentoPayments(http).capture(MAGENTO, credentials, order, order.totals.grand_total, "capture:k")
        return self._order(http, credentials, "319")

    def test_a_return_is_refunded_online_once_against_its_invoice(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._captured(http, credentials)
        payments = MagentoPayments(http)
        part = Money.parse("30.00", order.currency)

        first = payments.refund(MAGENTO, credentials, order, part, "refund:return-1", "return")
        again = payments.refund(MAGENTO, credentials, order, part, "refund:return-1", "return")

        assert (first.status, again.status, again.reference) == ("refunded", "already", first.reference)
        assert _entries(shop.ledger, 319) == [
            ("capture", Decimal("107.94"), True),
            ("refund", Decimal("30.00"), True),
        ]
        invoice_id = shop.invoices[-1]["entity_id"]
        refunds = [w for w in shop.writes if w[1] == f"/rest/V1/invoice/{invoice_id}/refund"]
        assert len(refunds) == 1 and refunds[0][2]["isOnline"] is True
        assert shop.creditmemos[-1]["invoice_id"] == invoice_id

    def test_a_refund_over_the_invoiced_amount_is_refused_and_moves_nothing(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._captured(http, credentials)
        with pytest.raises(PlatformRejected, match="most money available"):
            MagentoPayments(http).refund(
                MAGENTO, credentials, order, Money.parse("200.00", order.currency), "refund:k", "too much"
            )
        assert [e.kind for e in shop.ledger.of("319")] == ["capture"]
        assert shop.creditmemos == []

    def test_an_invoiced_order_is_not_cancelled_and_nothing_is_voided(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._captured(http, credentials)
        with pytest.raises(PlatformRejected, match="refused to cancel"):
            MagentoPayments(http).void(MAGENTO, credentials, order, "void:319")
        assert [e.kind for e in shop.ledger.of("319")] == ["capture"]
        assert shop.orders[319]["state"] == "processing"

    def test_an_uninvoiced_authorized_order_cancelled_is_voided_once(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "319")
        payments = MagentoPayments(http)
        first = payments.void(MAGENTO, credentials, order, "void:319")
        again = payments.void(MAGENTO, credentials, order, "void:319")
        assert (first.status, again.status) == ("voided", "already")
        assert _entries(shop.ledger, 319) == [("void", Decimal("107.94"), True)]

    def test_a_method_without_online_refunds_is_recorded_offline_and_is_not_a_refund(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(http, credentials, "318")  # bank transfer
        with pytest.raises(RefundNotPossible):
            MagentoPayments(http).refund(MAGENTO, credentials, order, order.totals.grand_total, "refund:k", "return")
        assert _entries(shop.ledger, 318) == [("refund", Decimal("107.94"), False)]

    def test_the_invoices_are_listed_by_order(self, shop: MagentoShop, http: HttpClient, api: StubApi) -> None:
        prefix = "searchCriteria[filter_groups][0][filters][0]"
        criteria = {f"{prefix}[field]": "order_id", f"{prefix}[value]": "318", f"{prefix}[condition_type]": "eq"}
        query = urlencode(criteria)
        answer = http.request(
            "GET",
            f"{api.url}/rest/V1/invoices?{query}",
            headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"},
        ).json()
        assert [(row["order_id"], row["grand_total"]) for row in answer["items"]] == [(318, 107.94)]


class TestShopify:
    @pytest.fixture
    def shop(self, api: StubApi) -> ShopifyShop:
        shop = ShopifyShop()
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=ACCESS_TOKEN)

    @staticmethod
    def _order(name: str) -> Order:
        headers = json.loads((EVENTS / "shopify" / f"{name}.headers.json").read_text(encoding="utf-8"))
        request = WebhookRequest(
            body=(EVENTS / "shopify" / f"{name}.json").read_bytes(),
            headers={k.lower(): v for k, v in headers.items()},
        )
        order = ShopifyInbound().read(request, SHOPIFY).order
        assert order is not None
        return order

    def test_a_cancelled_paid_order_is_refunded_once(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order("02_orders_paid")
        payments = ShopifyPayments(http)
        total = order.totals.grand_total

        first = payments.refund(SHOPIFY, credentials, order, total, "refund:cancel:1042", "cancelled")
        again = payments.refund(SHOPIFY, credentials, order, total, "refund:cancel:1042", "cancelled")
        cancel = StoreUpdate(kind=UpdateKind.CANCELLED, order=order, reason="cancelled")
        ShopifyWriteBack(http).apply(SHOPIFY, credentials, cancel)  # refundMethod false: the money went above

        assert (first.status, again.status) == ("refunded", "already")
        assert _entries(shop.ledger, SHOPIFY_PAID) == [("refund", Decimal("105.90"), True)]
        assert shop.orders[SHOPIFY_PAID].rest["cancelled_at"]

    def test_cancelling_with_a_refund_to_the_original_methods_refunds_what_was_paid_once(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order("02_orders_paid")
        payments = ShopifyPayments(http)
        first = payments.void(SHOPIFY, credentials, order, "void:1042")
        again = payments.void(SHOPIFY, credentials, order, "void:1042")
        assert again.status == "already" and first.status == "voided"
        assert _entries(shop.ledger, SHOPIFY_PAID) == [("refund", Decimal("105.90"), True)]
        assert shop.orders[SHOPIFY_PAID].rest["financial_status"] == "refunded"

    def test_an_authorized_order_cancelled_is_voided_once(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order("06_orders_create_authorized")
        payments = ShopifyPayments(http)
        payments.void(SHOPIFY, credentials, order, "void:1044")
        payments.void(SHOPIFY, credentials, order, "void:1044")
        assert _entries(shop.ledger, SHOPIFY_AUTHORIZED) == [("void", Decimal("105.90"), True)]
        with pytest.raises(PlatformRejected, match="voided"):  # nothing left to capture after the void
            payments.capture(SHOPIFY, credentials, order, order.totals.grand_total, "capture:k")
        assert [e.kind for e in shop.ledger.of(SHOPIFY_AUTHORIZED)] == ["void"]

    def test_a_refund_over_what_was_paid_is_a_user_error_and_moves_nothing(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order("02_orders_paid")
        with pytest.raises(PlatformRejected, match="exceeds refundable"):
            ShopifyPayments(http).refund(
                SHOPIFY, credentials, order, Money.parse("500.00", "EUR"), "refund:k", "too much"
            )
        assert shop.ledger.of(SHOPIFY_PAID) == []

    def test_cancelling_twice_is_a_typed_user_error(self, shop: ShopifyShop) -> None:
        variables = {"orderId": f"gid://shopify/Order/{SHOPIFY_PAID}", "reason": "OTHER", "restock": True}
        assert shop._order_cancel(variables)["orderCancel"]["orderCancelUserErrors"] == []
        again = shop._order_cancel(variables)["orderCancel"]
        assert again["job"] is None
        assert again["orderCancelUserErrors"] == [
            {"field": ["orderId"], "message": "Order has already been cancelled", "code": "INVALID"}
        ]
        assert shop.ledger.of(SHOPIFY_PAID) == []  # no refundMethod: the money stays


class TestThroughTheOnePath:
    """``refunds.give_back`` (every cancellation and refunded return goes through it) with the real adapters against
    the stubs: the path picks void or refund from where the money is, and a retry with the same key moves nothing."""

    @pytest.fixture
    def stubs(self, api: StubApi) -> tuple[BigCommerceStore, MagentoShop, ShopifyShop]:
        stubs = (BigCommerceStore(), MagentoShop(integration_as_bearer=True), ShopifyShop())
        for stub in stubs:
            stub.install(api)
        return stubs

    @pytest.fixture
    def world(self, api: StubApi, http: HttpClient, stubs: object) -> FulfillmentWorld:
        tokens = {"bigcommerce": BC_TOKEN, "magento": MAGENTO_TOKEN, "shopify": ACCESS_TOKEN}
        secrets = {
            f"/ref/{platform}": StoreCredentials(
                webhook_secret="test-secret", api_base_url=api.url, api_token=token
            ).model_dump_json()
            for platform, token in tokens.items()
        }
        stores = [
            store.model_copy(update={"secret_ref": f"/ref/{store.platform}"})
            for store in (BIGCOMMERCE, MAGENTO, SHOPIFY)
        ]
        payments = {
            "bigcommerce": BigCommercePayments(http),
            "magento": MagentoPayments(http),
            "shopify": ShopifyPayments(http),
        }
        return FulfillmentWorld(
            stores=InMemoryStoreRegistry(*stores),
            secrets=FakeSecretStore(secrets),
            platform_payments=cast(dict[str, FakePlatformPayments], payments),
        )

    def _twice(self, world: FulfillmentWorld, order: Order, amount: Money | None, key: str) -> list[str]:
        return [give_back(order, amount, key, "cancelled", world).status for _ in range(2)]

    def test_a_cancelled_captured_bigcommerce_order_is_refunded_once(
        self, world: FulfillmentWorld, stubs: tuple[BigCommerceStore, MagentoShop, ShopifyShop], http: HttpClient
    ) -> None:
        credentials = StoreCredentials.from_secret(world.secrets.get("/ref/bigcommerce"))
        order = BigCommerceSource(http).fetch_order(BIGCOMMERCE, credentials, "1187")
        assert self._twice(world, order, None, "refund:cancel") == ["refunded", "refunded"]
        assert _entries(stubs[0].ledger, 1187) == [("refund", Decimal("116.86"), True)]

    def test_an_authorized_only_bigcommerce_order_cancelled_is_voided_once(
        self, world: FulfillmentWorld, stubs: tuple[BigCommerceStore, MagentoShop, ShopifyShop], http: HttpClient
    ) -> None:
        credentials = StoreCredentials.from_secret(world.secrets.get("/ref/bigcommerce"))
        order = BigCommerceSource(http).fetch_order(BIGCOMMERCE, credentials, "1189")
        assert self._twice(world, order, None, "refund:cancel") == ["voided", "voided"]
        assert _entries(stubs[0].ledger, 1189) == [("void", Decimal("116.86"), True)]

    def test_a_magento_return_is_refunded_online_once_against_its_invoice(
        self, world: FulfillmentWorld, stubs: tuple[BigCommerceStore, MagentoShop, ShopifyShop], http: HttpClient
    ) -> None:
        credentials = StoreCredentials.from_secret(world.secrets.get("/ref/magento"))
        authorized = MagentoSource(http).fetch_order(MAGENTO, credentials, "319")
        MagentoPayments(http).capture(MAGENTO, credentials, authorized, authorized.totals.grand_total, "capture:k")
        order = MagentoSource(http).fetch_order(MAGENTO, credentials, "319")
        part = Money.parse("30.00", order.currency)
        assert self._twice(world, order, part, "refund:return-1") == ["refunded", "refunded"]
        assert _entries(stubs[1].ledger, 319) == [
            ("capture", Decimal("107.94"), True),
            ("refund", Decimal("30.00"), True),
        ]

    def test_a_cancelled_paid_shopify_order_is_refunded_once(
        self, world: FulfillmentWorld, stubs: tuple[BigCommerceStore, MagentoShop, ShopifyShop]
    ) -> None:
        order = TestShopify._order("02_orders_paid")
        assert self._twice(world, order, None, "refund:cancel") == ["refunded", "refunded"]
        assert _entries(stubs[2].ledger, SHOPIFY_PAID) == [("refund", Decimal("105.90"), True)]
