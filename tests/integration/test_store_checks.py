"""``stores check`` against each platform's stub: one call with the registered credentials, and what is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.registry import platform_spec
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.onboarding.check import StoreCheckReport, check_store
from local.stub_api import StubApi
from local.stubs import bigcommerce, ecwid, magento, opencart, shopify, woocommerce


def _check(platform: str, store: Store, credentials: StoreCredentials) -> StoreCheckReport:
    return check_store(store, credentials, platform_spec(platform).build(HttpClient(timeout=2.0, attempts=1)))


@pytest.fixture
def api() -> Iterator[StubApi]:
    with StubApi() as stub:
        yield stub


class TestMagento:
    STORE = Store(store_id="m", platform="magento", secret_ref="/r")

    def _credentials(self, api: StubApi, **extra: str) -> StoreCredentials:
        return StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token=magento.API_TOKEN, extra=extra)

    def test_a_default_install_refuses_the_bare_token_and_the_check_says_why(self, api: StubApi) -> None:
        magento.MagentoShop().install(api)
        report = _check("magento", self.STORE, self._credentials(api))
        assert not report.ok and "enable_integration_as_bearer" in report.findings[0]

    def test_oauth_signed_credentials_pass(self, api: StubApi) -> None:
        magento.MagentoShop().install(api)
        credentials = self._credentials(api, access_token_secret=magento.ACCESS_TOKEN_SECRET).model_copy(
            update={"api_key": magento.CONSUMER_KEY, "api_secret": magento.CONSUMER_SECRET}
        )
        assert _check("magento", self.STORE, credentials).ok

    def test_a_multi_source_shop_needs_the_source_option(self, api: StubApi) -> None:
        magento.MagentoShop(integration_as_bearer=True, sources=("default", "berlin")).install(api)
        report = _check("magento", self.STORE, self._credentials(api))
        assert not report.ok and "magento_source_code" in report.findings[0]
        chosen = self.STORE.model_copy(update={"options": {"magento_source_code": "berlin"}})
        assert _check("magento", chosen, self._credentials(api)).ok


class TestOpenCart:
    STORE = Store(store_id="o", platform="opencart", secret_ref="/r", site_url=opencart.SHOP_URL)

    def _credentials(self, api: StubApi, version: str, key: str = opencart.API_KEY) -> StoreCredentials:
        return StoreCredentials(
            webhook_secret="s",
            api_base_url=api.url,
            api_key=opencart.API_USERNAME,
            api_secret=key,
            extra={"opencart_version": version},
        )

    @pytest.mark.parametrize("version", ["4.0.2.3", "4.1.0.4"])
    def test_the_right_api_user_on_either_release_passes(self, api: StubApi, version: str) -> None:
        opencart.OpenCartShop(version=version).install(api)
        assert _check("opencart", self.STORE, self._credentials(api, version)).ok

    def test_a_41_shop_registered_as_402_is_told_to_set_its_release(self, api: StubApi) -> None:
        opencart.OpenCartShop(version="4.1.0.4").install(api)
        report = _check("opencart", self.STORE, self._credentials(api, "4.0.2.3"))
        assert not report.ok and "opencart_version" in report.findings[0]

    def test_a_wrong_key_names_the_api_user_and_the_ip_list(self, api: StubApi) -> None:
        opencart.OpenCartShop(version="4.1.0.4").install(api)
        report = _check("opencart", self.STORE, self._credentials(api, "4.1.0.4", key="wrong"))
        assert not report.ok and "IP addresses" in report.findings[0]


class TestWooCommerce:
    STORE = Store(store_id="w", platform="woocommerce", secret_ref="/r", site_url="https://shop.example/")

    def _credentials(self, api: StubApi, secret: str = woocommerce.CONSUMER_SECRET) -> StoreCredentials:
        return StoreCredentials(
            webhook_secret="s", api_base_url=api.url, api_key=woocommerce.CONSUMER_KEY, api_secret=secret
        )

    def test_keys_and_the_tracking_extension_pass(self, api: StubApi) -> None:
        woocommerce.WooCommerceShop().install(api)
        assert _check("woocommerce", self.STORE, self._credentials(api)).ok

    def test_wrong_keys_or_no_tracking_extension_are_named(self, api: StubApi) -> None:
        woocommerce.WooCommerceShop(tracking_plugin=False).install(api)
        assert "Shipment Tracking" in _check("woocommerce", self.STORE, self._credentials(api)).findings[0]
        assert "consumer key" in _check("woocommerce", self.STORE, self._credentials(api, "cs_wrong")).findings[0]


class TestTheOrderFetchProbe:
    @pytest.mark.parametrize(
        ("platform", "install", "store", "credentials"),
        [
            (
                "bigcommerce",
                bigcommerce.install,
                Store(store_id="b", platform="bigcommerce", secret_ref="/r", platform_store_id=bigcommerce.STORE_HASH),
                {"api_token": bigcommerce.API_TOKEN},
            ),
            (
                "ecwid",
                ecwid.install,
                Store(store_id="e", platform="ecwid", secret_ref="/r", platform_store_id=ecwid.STORE_ID),
                {"api_token": ecwid.API_TOKEN},
            ),
            (
                "shopify",
                shopify.install,
                Store(store_id="s", platform="shopify", secret_ref="/r", platform_store_id=shopify.SHOP_DOMAIN),
                {"api_token": shopify.ACCESS_TOKEN},
            ),
        ],
    )
    def test_right_credentials_pass_and_a_wrong_token_is_named(
        self, api: StubApi, platform: str, install: object, store: Store, credentials: dict[str, str]
    ) -> None:
        install(api)  # type: ignore[operator]
        good = StoreCredentials(webhook_secret="s", api_base_url=api.url, **credentials)
        assert _check(platform, store, good).ok, _check(platform, store, good).findings
        bad = _check(platform, store, good.model_copy(update={"api_token": "wrong"}))
        assert not bad.ok and "refused the registered credentials" in bad.findings[0]  # Shopify: its scopes check


class TestShopify:
    STORE = Store(store_id="s", platform="shopify", secret_ref="/r", platform_store_id=shopify.SHOP_DOMAIN)

    def test_an_app_without_the_fulfillment_order_scope_is_told_which_to_ask_for(self, api: StubApi) -> None:
        shop = shopify.ShopifyShop()
        shop.scopes = ["read_orders", "write_orders"]
        shop.install(api)
        credentials = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token=shopify.ACCESS_TOKEN)

        report = _check("shopify", self.STORE, credentials)

        assert report.findings == [
            "the app lacks the access scopes write_merchant_managed_fulfillment_orders: ask the merchant to grant them"
        ]


class TestWebhookSubscriptions:
    URL = "https://api.example/webhooks/{platform}/{store}"

    def test_woocommerce_gets_one_webhook_per_order_topic_once(self, api: StubApi) -> None:
        shop = woocommerce.WooCommerceShop()
        shop.install(api)
        store = TestWooCommerce.STORE
        credentials = StoreCredentials(
            webhook_secret="whsec",
            api_base_url=api.url,
            api_key=woocommerce.CONSUMER_KEY,
            api_secret=woocommerce.CONSUMER_SECRET,
        )
        subscribe = platform_spec("woocommerce").build(HttpClient(attempts=1)).subscribe
        assert subscribe is not None
        url = self.URL.format(platform="woocommerce", store="w")

        first, second = subscribe(store, credentials, url), subscribe(store, credentials, url)

        assert [hook["topic"] for hook in shop.webhooks] == ["order.created", "order.updated", "order.deleted"]
        assert {hook["delivery_url"] for hook in shop.webhooks} == {url}
        assert all("created" in line for line in first) and all("already there" in line for line in second)
        posted = [body for method, path, body in shop.writes if path == "/webhooks"]
        assert {body["secret"] for body in posted} == {"whsec"}  # signed with the registered webhook secret

    def test_bigcommerce_gets_one_hook_per_fetched_scope_and_a_deactivated_one_back(self, api: StubApi) -> None:
        shop = bigcommerce.BigCommerceStore()
        shop.install(api)
        store = Store(store_id="b", platform="bigcommerce", secret_ref="/r", platform_store_id=bigcommerce.STORE_HASH)
        credentials = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token=bigcommerce.API_TOKEN)
        subscribe = platform_spec("bigcommerce").build(HttpClient(attempts=1)).subscribe
        assert subscribe is not None
        url = self.URL.format(platform="bigcommerce", store="b")

        subscribe(store, credentials, url)
        shop.hooks[0]["is_active"] = False  # BigCommerce deactivates a hook after its retries run out
        again = subscribe(store, credentials, url)

        assert sorted(hook["scope"] for hook in shop.hooks) == [
            "store/order/archived",
            "store/order/created",
            "store/order/refund/created",
            "store/order/statusUpdated",
            "store/order/updated",
        ]
        assert all(hook["is_active"] for hook in shop.hooks) and len(shop.hooks) == 5
        assert sum("re-activated" in line for line in again) == 1

    def test_shopify_gets_one_subscription_per_topic_with_the_uri_field_once(self, api: StubApi) -> None:
        shop = shopify.ShopifyShop()
        shop.install(api)
        store = TestShopify.STORE
        credentials = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token=shopify.ACCESS_TOKEN)
        subscribe = platform_spec("shopify").build(HttpClient(attempts=1)).subscribe
        assert subscribe is not None
        url = self.URL.format(platform="shopify", store="s")

        first, second = subscribe(store, credentials, url), subscribe(store, credentials, url)

        assert sorted(sub["topic"] for sub in shop.subscriptions) == [
            "ORDERS_CANCELLED",
            "ORDERS_CREATE",
            "ORDERS_FULFILLED",
            "ORDERS_PAID",
            "ORDERS_PARTIALLY_FULFILLED",
            "ORDERS_UPDATED",
            "REFUNDS_CREATE",
        ]
        assert {sub["uri"] for sub in shop.subscriptions} == {url}
        assert all("created" in line for line in first) and all("already there" in line for line in second)
