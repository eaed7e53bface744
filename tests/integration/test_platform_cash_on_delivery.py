"""Cash on delivery, told to the platform over real HTTP against its stub (issue #11): once the carrier collected
the cash, the COMPLETED write-back records the order paid where the platform has a way to — Shopify
``orderMarkAsPaid``, Magento an invoice without capture, Ecwid ``paymentStatus: PAID`` — once however often it is
retried, and never for an order that was not cash on delivery. BigCommerce keeps a cash order "Awaiting Payment"
while it is fulfilled (its "Awaiting Fulfillment" says the payment was confirmed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms import bigcommerce, ecwid, magento, shopify
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentMethod, payment_method
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from local.stub_api import StubApi
from local.stubs.bigcommerce import API_TOKEN as BC_TOKEN
from local.stubs.bigcommerce import CASH_ON_DELIVERY_ORDER as BIGCOMMERCE_COD
from local.stubs.bigcommerce import STORE_HASH, BigCommerceStore
from local.stubs.ecwid import API_TOKEN as ECWID_TOKEN
from local.stubs.ecwid import CASH_ON_DELIVERY_ORDER as ECWID_COD
from local.stubs.ecwid import STORE_ID as ECWID_STORE
from local.stubs.ecwid import EcwidStore
from local.stubs.magento import API_TOKEN as MAGENTO_TOKEN
from local.stubs.magento import CASH_ON_DELIVERY_ORDER_ID as MAGENTO_COD
from local.stubs.magento import MagentoShop
from local.stubs.shopify import ACCESS_TOKEN, SHOP_DOMAIN, ShopifyShop
from local.stubs.shopify import CASH_ON_DELIVERY_ORDER_ID as SHOPIFY_COD

COD_ORDER = SHOPIFY_COD  # #1045: the paid sample's goods, paid cash on delivery


def _collected(order: Order) -> Order:
    """The order as the payment step leaves it once the carrier handed over the cash."""
    done = order.model_copy(deep=True)
    done.payment.method = str(PaymentMethod.CASH_ON_DELIVERY)
    done.payment.collected = done.totals.grand_total
    return done


def _completed(order: Order) -> StoreUpdate:
    return StoreUpdate(kind=UpdateKind.COMPLETED, order=order)


class TestShopify:
    STORE = Store(store_id="kaffeekontor-berlin", platform="shopify", secret_ref="/ref", platform_store_id=SHOP_DOMAIN)

    @pytest.fixture
    def shop(self, api: StubApi) -> ShopifyShop:
        shop = ShopifyShop()  # #1045 is its cash-on-delivery order
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=ACCESS_TOKEN)

    def _order(self, shop: ShopifyShop) -> Order:
        raw = shopify.ShopifyOrder.model_validate(shop.orders[str(COD_ORDER)].rest)
        return shopify.to_order(raw, self.STORE)

    def test_the_collected_cash_is_marked_paid_once_however_often_completed(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = self._order(shop)
        assert payment_method(order) is PaymentMethod.CASH_ON_DELIVERY
        write_back = shopify.ShopifyWriteBack(http)

        for _ in range(3):  # the write-back worker's retries
            assert write_back.apply(self.STORE, credentials, _completed(_collected(order))).done

        [entry] = shop.ledger.of(str(COD_ORDER))
        assert (entry.kind, entry.amount, entry.online) == ("recorded_paid", Decimal("105.90"), False)
        assert shop.orders[str(COD_ORDER)].rest["financial_status"] == "paid"
        assert [op for op, _ in shop.writes].count("OrderMarkAsPaid") == 1
        assert "fulfillment-completed" in shop.orders[str(COD_ORDER)].tags
        assert payment_method(self._order(shop)) is PaymentMethod.PREPAID  # read again: the shop says paid

    def test_nothing_is_marked_paid_unless_we_recorded_the_cash_collected(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        # Something is outstanding on Shopify, but our record says no cash came in: marking it paid would be a lie
        order = self._order(shop)
        assert order.payment.collected is None

        shopify.ShopifyWriteBack(http).apply(self.STORE, credentials, _completed(order))

        assert "OrderMarkAsPaid" not in [op for op, _ in shop.writes] and shop.ledger.of(str(COD_ORDER)) == []

    def test_nothing_outstanding_asks_nothing(
        self, shop: ShopifyShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        # The merchant recorded the cash in Shopify's admin before our write-back ran: orderMarkAsPaid would refuse
        order = self._order(shop)
        shop.orders[str(COD_ORDER)].rest["total_outstanding"] = "0.00"  # nothing outstanding, status still pending

        result = shopify.ShopifyWriteBack(http).apply(self.STORE, credentials, _completed(_collected(order)))

        assert result.done and shop.ledger.of(str(COD_ORDER)) == []  # nothing outstanding: nothing asked


class TestMagento:
    STORE = Store(store_id="kaffeekontor-mage", platform="magento", secret_ref="/ref")
    COD = MAGENTO_COD  # the stub's cash-on-delivery order: new, nothing invoiced

    @pytest.fixture
    def shop(self, api: StubApi) -> MagentoShop:
        shop = MagentoShop(integration_as_bearer=True)
        shop.install(api)
        return shop

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=MAGENTO_TOKEN)

    def test_the_collected_cash_is_invoiced_offline_once(
        self, api: StubApi, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = magento.MagentoSource(http).fetch_order(self.STORE, credentials, str(self.COD))
        assert payment_method(order) is PaymentMethod.CASH_ON_DELIVERY
        write_back = magento.MagentoWriteBack(http)

        for _ in range(2):
            assert write_back.apply(self.STORE, credentials, _completed(_collected(order))).done

        [entry] = shop.ledger.of(str(self.COD))
        assert (entry.kind, entry.online) == ("recorded_paid", False)  # paid, not captured: no money moved
        assert entry.amount == Decimal(str(shop.orders[self.COD]["grand_total"]))
        invoices = api.received("POST", rf"/rest/V1/order/{self.COD}/invoice")
        assert [request.json() for request in invoices] == [{"capture": False, "notify": True}]
        assert shop.orders[self.COD]["total_due"] == 0

    def test_an_invoiced_order_is_not_invoiced_again(
        self, shop: MagentoShop, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = magento.MagentoSource(http).fetch_order(self.STORE, credentials, "318")  # invoiced at checkout

        magento.MagentoWriteBack(http).apply(self.STORE, credentials, _completed(_collected(order)))

        assert shop.ledger.of("318") == []


class TestEcwid:
    STORE = Store(store_id="ecwid-shop", platform="ecwid", secret_ref="/ref", platform_store_id=ECWID_STORE)

    @pytest.fixture
    def store(self, api: StubApi) -> EcwidStore:
        store = EcwidStore()  # KX7C1 is its cash-on-delivery order, awaiting payment
        store.install(api)
        return store

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(
            webhook_secret="test-secret", api_base_url=api.url, api_token=ECWID_TOKEN, extra={"currency": "EUR"}
        )

    def test_the_collected_cash_labels_the_order_paid_once(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = ecwid.EcwidSource(http).fetch_order(self.STORE, credentials, ECWID_COD)
        assert payment_method(order) is PaymentMethod.CASH_ON_DELIVERY
        write_back = ecwid.EcwidWriteBack(http)

        first = write_back.apply(self.STORE, credentials, _completed(_collected(order)))
        again = write_back.apply(self.STORE, credentials, _completed(_collected(order)))

        assert first.done and not first.already and again.already
        assert (store.orders[ECWID_COD]["paymentStatus"], store.orders[ECWID_COD]["fulfillmentStatus"]) == (
            "PAID",
            "DELIVERED",
        )

    def test_a_merchant_s_own_payment_label_is_left_alone(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders[ECWID_COD]["paymentStatus"] = "CUSTOM_PAYMENT_STATUS_1"
        order = ecwid.EcwidSource(http).fetch_order(self.STORE, credentials, ECWID_COD)
        order.payment.collected = Money.parse("1.00", "EUR")

        ecwid.EcwidWriteBack(http).apply(self.STORE, credentials, _completed(order))

        assert store.orders[ECWID_COD]["paymentStatus"] == "CUSTOM_PAYMENT_STATUS_1"


class TestBigCommerce:
    STORE = Store(store_id="bigshop", platform="bigcommerce", secret_ref="ref", platform_store_id=STORE_HASH)

    @pytest.fixture
    def store(self, api: StubApi) -> BigCommerceStore:
        store = BigCommerceStore()  # 1191 is its cash-on-delivery order, Awaiting Payment
        store.install(api)
        return store

    @pytest.fixture
    def credentials(self, api: StubApi) -> StoreCredentials:
        return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=BC_TOKEN)

    def test_a_cash_order_stays_awaiting_payment_until_it_is_completed(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = bigcommerce.BigCommerceSource(http).fetch_order(self.STORE, credentials, str(BIGCOMMERCE_COD))
        assert payment_method(order) is PaymentMethod.CASH_ON_DELIVERY
        write_back = bigcommerce.BigCommerceWriteBack(http)

        write_back.apply(self.STORE, credentials, StoreUpdate(kind=UpdateKind.PROCESSING, order=order))
        assert store.orders[BIGCOMMERCE_COD]["status_id"] == 7  # Awaiting Payment: true until the cash is in

        write_back.apply(self.STORE, credentials, _completed(_collected(order)))
        assert store.orders[BIGCOMMERCE_COD]["status_id"] == 10  # Completed

    def test_a_card_order_moves_to_awaiting_fulfillment(
        self, store: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders[1187].update(payment_method="Credit Card", payment_status="captured", status_id=7)
        order = bigcommerce.BigCommerceSource(http).fetch_order(self.STORE, credentials, "1187")

        bigcommerce.BigCommerceWriteBack(http).apply(
            self.STORE, credentials, StoreUpdate(kind=UpdateKind.PROCESSING, order=order)
        )

        assert store.orders[1187]["status_id"] == 11
