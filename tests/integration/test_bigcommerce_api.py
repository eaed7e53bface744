"""BigCommerce's REST API over real HTTP: the order source and every write-back against the local stub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.bigcommerce import BigCommerceApi, BigCommerceSource, BigCommerceWriteBack
from fulfillment.errors import OrderInvalid, PlatformRejected, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.labels import Label
from fulfillment.model.packaging import Package
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult
from local.stub_api import Fault, StubApi
from local.stubs.bigcommerce import API_TOKEN, STORE_HASH, BigCommerceStore, install

V2 = rf"/stores/{STORE_HASH}/v2/orders"
V3 = rf"/stores/{STORE_HASH}/v3/orders"
STORE = Store(store_id="bigshop", platform="bigcommerce", secret_ref="ref", platform_store_id=STORE_HASH)


@pytest.fixture(scope="module")
def server() -> Iterator[StubApi]:
    with StubApi() as stub:  # one server per module: stopping one takes half a second
        yield stub


@pytest.fixture
def api(server: StubApi) -> StubApi:
    server.requests.clear()  # each test installs a fresh store, whose routes shadow the last one's
    return server


@pytest.fixture
def shop(api: StubApi) -> BigCommerceStore:
    store = BigCommerceStore()
    store.install(api)
    return store


@pytest.fixture
def credentials(api: StubApi) -> StoreCredentials:
    return StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=API_TOKEN)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps: list[float]) -> HttpClient:
    return HttpClient(timeout=2.0, attempts=3, base_delay=0.0, sleep=sleeps.append)


def _fetch(http: HttpClient, credentials: StoreCredentials, order_id: str = "1187") -> Order:
    return BigCommerceSource(http).fetch_order(STORE, credentials, order_id)


def _update(order: Order, kind: UpdateKind, **fields: object) -> StoreUpdate:
    return StoreUpdate.model_validate({"kind": kind, "order": order, **fields})


class TestFetchingAnOrder:
    def test_maps_the_order_its_products_and_its_shipping_address(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        assert (order.external_id, order.number, order.currency, order.paid, order.cancelled) == (
            "1187",
            "1187",
            "USD",
            True,
            False,
        )
        assert [(line.line_id, line.sku, line.quantity) for line in order.lines] == [
            ("2301", "MUG-CC-BLU", 2),
            ("2302", "TEE-ORG-M-GRN", 1),
            ("2303", "TORCH-CB-01", 1),
        ]
        assert order.totals.grand_total == Money.parse("116.86", "USD")
        assert order.shipping_address.postal_code == "78702"
        assert order.platform_refs == {"order_address_id": "1455"}
        assert order.source_modified_at == datetime(2025, 6, 4, 7, 12, 40, tzinfo=UTC)

    def test_reads_the_three_documented_resources_with_the_token(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        _fetch(http, credentials)
        paths = [request.path for request in api.received("GET")]
        assert paths == [f"{V2}/1187", f"{V2}/1187/products", f"{V2}/1187/shipping_addresses"]
        assert {request.headers["x-auth-token"] for request in api.received()} == {API_TOKEN}
        assert api.received("GET", rf"{V2}/1187/products")[0].query == {"page": "1", "limit": "250"}

    def test_a_cancelled_order_is_cancelled_and_not_paid(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials, "1188")
        assert (order.paid, order.cancelled) == (False, True)

    def test_the_default_installer_serves_the_demo_store(self, http: HttpClient) -> None:
        with StubApi() as fresh:
            install(fresh)
            credentials = StoreCredentials(webhook_secret="s", api_base_url=fresh.url, api_token=API_TOKEN)
            assert _fetch(http, credentials).external_id == "1187"


class TestRefundsMadeInTheStore:
    def test_an_order_without_refunds_reads_no_refunds(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        assert _fetch(http, credentials).reported_returns == ()
        assert api.received("GET", rf"{V3}/.*") == []
        assert len(api.received()) == 3  # order, products, shipping addresses: the happy path is unchanged

    def test_a_refund_of_products_is_a_return_of_those_lines(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refund_in_control_panel(
            1187, [{"item_type": "PRODUCT", "item_id": 2301, "quantity": 1, "reason": "handle broke"}]
        )
        order = _fetch(http, credentials)
        (report,) = order.reported_returns
        assert (report.external_id, report.reason) == ("refund-41", "handle broke")
        assert [(line.line_id, line.quantity) for line in report.lines] == [("2301", 1)]
        assert report.refunded_minor == Money.parse(shop.refunds[1187][0]["total_amount"], "USD").minor > 0
        assert order.refunded is not None and order.refunded.minor == report.refunded_minor
        assert [request.path for request in api.received("GET", rf"{V3}/.*")] == [f"{V3}/1187/payment_actions/refunds"]

    def test_a_token_without_the_refunds_scope_still_records_the_order(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refund_in_control_panel(1187, [{"item_type": "PRODUCT", "item_id": 2301, "quantity": 1}])
        api.fail_next("GET", rf"{V3}/(\d+)/payment_actions/refunds", Fault(403, body={"title": "missing scope"}))

        order = _fetch(http, credentials)

        assert order.external_id == "1187" and order.refunded is not None and order.reported_returns == ()

    def test_a_refund_without_products_is_money_only(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refund_in_control_panel(1187, [{"item_type": "ORDER", "item_id": 1187, "amount": 5.0, "reason": "late"}])
        (report,) = _fetch(http, credentials).reported_returns
        assert (report.external_id, report.lines, report.reason, report.refunded_minor) == (
            "refund-41",
            (),
            "late",
            500,
        )

    def test_our_own_refund_comes_back_with_its_marker(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(order, UpdateKind.REFUNDED, amount=Money.parse("15.70", "USD"), reason="Damaged mug")
        BigCommerceWriteBack(http).apply(STORE, credentials, update)
        (report,) = _fetch(http, credentials).reported_returns
        assert f"{order.key}:{UpdateKind.REFUNDED}:" in report.reason  # what services skip
        assert report.lines == ()

    def test_every_refund_is_reported_once(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refund_in_control_panel(1187, [{"item_type": "PRODUCT", "item_id": 2302, "quantity": 1}])
        shop.refund_in_control_panel(1187, [{"item_type": "SHIPPING", "item_id": 1455, "amount": 2.0}])
        reports = _fetch(http, credentials).reported_returns
        assert [(r.external_id, [line.line_id for line in r.lines]) for r in reports] == [
            ("refund-41", ["2302"]),
            ("refund-42", []),
        ]


class TestApiFailures:
    def test_an_unknown_order_is_rejected(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(PlatformRejected) as caught:
            _fetch(http, credentials, "9999")
        assert caught.value.status == 404

    def test_a_wrong_token_is_rejected(self, shop: BigCommerceStore, http: HttpClient, api: StubApi) -> None:
        wrong = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token="expired")
        with pytest.raises(PlatformRejected) as caught:
            _fetch(http, wrong)
        assert caught.value.status == 401
        assert len(api.received()) == 1  # a refusal is not retried

    def test_a_store_without_a_token_is_rejected_before_any_call(
        self, shop: BigCommerceStore, http: HttpClient, api: StubApi
    ) -> None:
        with pytest.raises(PlatformRejected, match="API token"):
            _fetch(http, StoreCredentials(webhook_secret="s", api_base_url=api.url))
        assert api.received() == []

    def test_rate_limiting_is_waited_out_as_asked(
        self,
        api: StubApi,
        shop: BigCommerceStore,
        http: HttpClient,
        credentials: StoreCredentials,
        sleeps: list[float],
    ) -> None:
        api.fail_next("GET", rf"{V2}/(\d+)", Fault(429, retry_after="1"))
        assert _fetch(http, credentials).external_id == "1187"
        assert sleeps and sleeps[0] >= 1.0
        assert len(api.received("GET", rf"{V2}/1187")) == 2

    def test_an_answer_slower_than_the_timeout_is_transient(
        self, api: StubApi, shop: BigCommerceStore, credentials: StoreCredentials
    ) -> None:
        api.fail_next("GET", rf"{V2}/(\d+)", Fault.slow(1.5))
        with pytest.raises(TransientError):
            _fetch(HttpClient(timeout=0.3, attempts=1), credentials)

    def test_server_errors_that_persist_are_transient(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        api.fail_next("GET", rf"{V2}/(\d+)", Fault(500), Fault(502), Fault(503))
        with pytest.raises(TransientError):
            _fetch(http, credentials)

    def test_a_write_back_to_an_unknown_order_is_rejected(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        ghost = _fetch(http, credentials).model_copy(update={"external_id": "9999"})
        with pytest.raises(PlatformRejected) as caught:
            BigCommerceWriteBack(http).apply(STORE, credentials, _update(ghost, UpdateKind.COMPLETED))
        assert caught.value.status == 404


class TestShipping:
    def test_creates_one_shipment_of_every_line_to_the_order_address(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(order, UpdateKind.SHIPPED, carrier="ups", tracking_number="1Z999AA10123456784")
        result = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (True, False, "73")
        (posted,) = api.received("POST", rf"{V2}/1187/shipments")
        assert posted.json() == {
            "order_address_id": 1455,
            "tracking_number": "1Z999AA10123456784",
            "shipping_provider": "ups",
            "items": [
                {"order_product_id": 2301, "quantity": 2},
                {"order_product_id": 2302, "quantity": 1},
                {"order_product_id": 2303, "quantity": 1},
            ],
        }
        assert shop.orders[1187]["status_id"] == 2

    def test_shipping_twice_creates_one_shipment(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(order, UpdateKind.SHIPPED, carrier="ups", tracking_number="1Z999AA10123456784")
        writer = BigCommerceWriteBack(http)
        writer.apply(STORE, credentials, update)
        again = writer.apply(STORE, credentials, update)
        assert (again.done, again.already, again.reference) == (True, True, "73")
        assert len(api.received("POST", rf"{V2}/1187/shipments")) == 1
        assert len(shop.shipments[1187]) == 1

    def test_a_carrier_bigcommerce_does_not_integrate_is_a_tracking_carrier(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(
            order, UpdateKind.SHIPPED, carrier="dhl", tracking_number="JD0146", tracking_url="https://t.example/JD0146"
        )
        BigCommerceWriteBack(http).apply(STORE, credentials, update)
        body = api.received("POST", rf"{V2}/1187/shipments")[0].json()
        assert (body["shipping_provider"], body["tracking_carrier"], body["tracking_link"]) == (
            "",
            "dhl",
            "https://t.example/JD0146",
        )

    def test_ships_only_what_earlier_shipments_left(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        writer = BigCommerceWriteBack(http)
        partial = order.model_copy(update={"lines": order.lines[:1]})
        writer.apply(STORE, credentials, _update(partial, UpdateKind.SHIPPED, carrier="ups", tracking_number="A1"))
        assert shop.orders[1187]["status_id"] == 3
        writer.apply(STORE, credentials, _update(order, UpdateKind.SHIPPED, carrier="ups", tracking_number="B2"))
        second = api.received("POST", rf"{V2}/1187/shipments")[1].json()
        assert second["items"] == [{"order_product_id": 2302, "quantity": 1}, {"order_product_id": 2303, "quantity": 1}]
        assert shop.orders[1187]["status_id"] == 2

    def test_a_shipment_already_entered_with_the_tracking_number_counts(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.shipments[1187].append(
            {
                "id": 70,
                "order_address_id": 1455,  # a shipment is always for one address
                "tracking_number": "1Z9",
                "items": [{"order_product_id": 2301, "quantity": 2}],
            }
        )
        update = _update(_fetch(http, credentials), UpdateKind.SHIPPED, carrier="ups", tracking_number="1Z9")
        result = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (True, True, "70")
        assert api.received("POST") == []


class TestStatusChanges:
    @pytest.mark.parametrize(("kind", "status_id"), [(UpdateKind.COMPLETED, 10), (UpdateKind.CANCELLED, 5)])
    def test_puts_the_status_once(
        self,
        api: StubApi,
        shop: BigCommerceStore,
        http: HttpClient,
        credentials: StoreCredentials,
        kind: UpdateKind,
        status_id: int,
    ) -> None:
        update = _update(_fetch(http, credentials), kind)
        writer = BigCommerceWriteBack(http)
        first = writer.apply(STORE, credentials, update)
        second = writer.apply(STORE, credentials, update)
        assert (first.done, first.already, second.done, second.already) == (True, False, True, True)
        puts = api.received("PUT", rf"{V2}/1187")
        assert [put.json() for put in puts] == [{"status_id": status_id}]
        assert shop.orders[1187]["status_id"] == status_id

    def test_processing_leaves_an_order_already_awaiting_fulfillment_alone(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        result = BigCommerceWriteBack(http).apply(
            STORE, credentials, _update(_fetch(http, credentials), UpdateKind.PROCESSING)
        )
        assert (result.done, result.already) == (True, True)
        assert api.received("PUT") == []

    def test_processing_moves_an_order_awaiting_payment_to_awaiting_fulfillment(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        shop.orders[1187]["status_id"] = 7
        result = BigCommerceWriteBack(http).apply(STORE, credentials, _update(order, UpdateKind.PROCESSING))
        assert (result.done, result.already) == (True, False)
        assert [put.json() for put in api.received("PUT", rf"{V2}/1187")] == [{"status_id": 11}]

    @pytest.mark.parametrize("status_id", [2, 10])
    def test_processing_never_moves_an_order_back(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials, status_id: int
    ) -> None:
        order = _fetch(http, credentials)
        shop.orders[1187]["status_id"] = status_id
        result = BigCommerceWriteBack(http).apply(STORE, credentials, _update(order, UpdateKind.PROCESSING))
        assert (result.done, result.already) == (True, True)
        assert api.received("PUT") == []

    @pytest.mark.parametrize("status_id", [5, 12])
    def test_processing_never_overrides_a_cancelled_or_held_order(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials, status_id: int
    ) -> None:
        order = _fetch(http, credentials)
        shop.orders[1187]["status_id"] = status_id
        result = BigCommerceWriteBack(http).apply(STORE, credentials, _update(order, UpdateKind.PROCESSING))
        assert result.done is False
        assert api.received("PUT") == []


class TestRefunding:
    def test_quotes_then_refunds_the_amount_marked_with_the_update_key(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(order, UpdateKind.REFUNDED, amount=Money.parse("15.70", "USD"), reason="Damaged mug")
        result = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (True, False, "41")
        item = {
            "item_type": "ORDER",
            "item_id": 1187,
            "amount": 15.7,
            "reason": "Damaged mug [bigshop:1187:refunded:1570]",
        }
        assert [request.json() for request in api.received("POST", rf"{V3}/1187/payment_actions/refund_quotes")] == [
            {"items": [item]}
        ]
        (refund,) = api.received("POST", rf"{V3}/1187/payment_actions/refunds")
        assert refund.json() == {
            "items": [item],
            "payments": [{"provider_id": "stripev3", "amount": 15.7, "offline": False}],
        }
        assert _fetch(http, credentials).refunded == Money.parse("15.70", "USD")

    def test_refunding_twice_refunds_once(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        update = _update(order, UpdateKind.REFUNDED, amount=Money.parse("15.70", "USD"))
        writer = BigCommerceWriteBack(http)
        writer.apply(STORE, credentials, update)
        again = writer.apply(STORE, credentials, update)
        assert (again.done, again.already, again.reference) == (True, True, "41")
        assert len(api.received("POST", rf"{V3}/1187/payment_actions/refunds")) == 1
        assert len(shop.refunds[1187]) == 1

    def test_a_refund_of_the_same_amount_made_in_the_control_panel_counts(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refunds[1187].append({"id": 40, "reason": "customer called", "total_amount": 15.7, "items": []})
        update = _update(_fetch(http, credentials), UpdateKind.REFUNDED, amount=Money.parse("15.70", "USD"))
        result = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (True, True, "40")
        assert api.received("POST") == []

    def test_two_returns_of_the_same_amount_are_two_refunds(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        writer = BigCommerceWriteBack(http)
        for reference in ("bigshop:1187:R1", "bigshop:1187:R2"):
            update = _update(order, UpdateKind.REFUNDED, amount=Money.parse("5.00", "USD"), reference=reference)
            assert writer.apply(STORE, credentials, update).already is False
            assert writer.apply(STORE, credentials, update).already is True
        reasons = [refund["reason"] for refund in shop.refunds[1187]]
        assert reasons == [
            "Refund [bigshop:1187:refunded:bigshop:1187:R1]",
            "Refund [bigshop:1187:refunded:bigshop:1187:R2]",
        ]

    def test_a_control_panel_refund_of_the_same_amount_does_not_stand_for_a_returns_refund(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refunds[1187].append({"id": 40, "reason": "customer called", "total_amount": 5.0, "items": []})
        update = _update(
            _fetch(http, credentials),
            UpdateKind.REFUNDED,
            amount=Money.parse("5.00", "USD"),
            reference="bigshop:1187:R1",
        )
        assert BigCommerceWriteBack(http).apply(STORE, credentials, update).already is False
        assert len(shop.refunds[1187]) == 2

    def test_a_refund_above_what_is_left_is_rejected(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(_fetch(http, credentials), UpdateKind.REFUNDED, amount=Money.parse("500.00", "USD"))
        with pytest.raises(PlatformRejected) as caught:
            BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert caught.value.status == 422

    def test_different_amounts_are_different_refunds_even_once_shipped(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        writer = BigCommerceWriteBack(http)
        for amount in ("10.00", "5.00"):
            update = _update(order, UpdateKind.REFUNDED, amount=Money.parse(amount, "USD"), tracking_number="1Z9")
            assert writer.apply(STORE, credentials, update).already is False
        reasons = [refund["reason"] for refund in shop.refunds[1187]]
        assert reasons == ["Refund [bigshop:1187:refunded:1000]", "Refund [bigshop:1187:refunded:500]"]

    def test_a_refund_without_an_amount_is_refused_before_any_call(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(_fetch(http, credentials), UpdateKind.REFUNDED)
        api.requests.clear()
        with pytest.raises(OrderInvalid, match="positive amount"):
            BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert api.received() == []

    def test_a_refund_carrying_the_marker_counts_whatever_amount_was_recorded(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.refunds[1187].append(
            {"id": 39, "reason": "", "total_amount": 15.69, "items": [{"reason": "x [bigshop:1187:refunded:1570]"}]}
        )
        update = _update(_fetch(http, credentials), UpdateKind.REFUNDED, amount=Money.parse("15.70", "USD"))
        result = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        assert (result.done, result.already, result.reference) == (True, True, "39")
        assert api.received("POST") == []


class TestReturned:
    def test_a_resolved_return_is_one_line_in_the_staff_notes(
        self, api: StubApi, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        shop.orders[1187]["staff_notes"] = "VIP customer"
        update = _update(
            _fetch(http, credentials), UpdateKind.RETURNED, reason="refunded by the store", reference="bigshop:1187:R1"
        )
        writer = BigCommerceWriteBack(http)
        assert writer.apply(STORE, credentials, update) == WriteBackResult(done=True)
        assert writer.apply(STORE, credentials, update) == WriteBackResult(done=True, already=True)
        (put,) = api.received("PUT", rf"{V2}/1187")
        assert put.json() == {
            "staff_notes": "VIP customer\nrefunded by the store [bigshop:1187:returned:bigshop:1187:R1]"
        }
        assert shop.orders[1187]["status_id"] == 11

    def test_two_returns_are_two_lines(
        self, shop: BigCommerceStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        for reference in ("bigshop:1187:R1", "bigshop:1187:R2"):
            BigCommerceWriteBack(http).apply(
                STORE, credentials, _update(order, UpdateKind.RETURNED, reference=reference)
            )
        assert shop.orders[1187]["staff_notes"].count("[bigshop:1187:returned:") == 2


class TestMultiAddressOrders:
    """Order 1190 ships to two addresses: the mug and tee to Austin (1475), the torch to San Francisco (1476)."""

    def test_each_line_is_tied_to_the_address_its_product_names(
        self, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials, "1190")

        assert {line.sku: line.destination for line in order.lines} == {
            "MUG-CC-BLU": "1475",
            "TEE-ORG-M-GRN": "1475",
            "TORCH-CB-01": "1476",
        }
        assert order.address_of("1476").city == "San Francisco" and order.shipping_address.city == "Austin"

    def test_one_shipment_per_address_with_its_own_items_and_its_own_parcel_tracking(
        self, http: HttpClient, credentials: StoreCredentials, shop: BigCommerceStore
    ) -> None:
        def parcel(destination: str | None, number: str, carrier: str = "ups") -> Package:
            label = Label(carrier=carrier, tracking_number=number, tracking_url=f"https://t.example/{number}")
            return Package(box_code="S", items=(), weight_g=500, destination=destination, label=label)

        # Two parcels to Austin (only the first one's number fits the one shipment), one to San Francisco.
        packages = [parcel(None, "1Z1"), parcel("1476", "JD2", "dhl"), parcel("1475", "1Z3")]
        order = _fetch(http, credentials, "1190").model_copy(update={"packages": packages})
        update = _update(order, UpdateKind.SHIPPED, carrier="ups", tracking_number="1Z1")

        first = BigCommerceWriteBack(http).apply(STORE, credentials, update)
        again = BigCommerceWriteBack(http).apply(STORE, credentials, update)

        shipments = shop.shipments[1190]
        assert [
            (s["order_address_id"], [i["order_product_id"] for i in s["items"]], s["tracking_number"])
            for s in shipments
        ] == [(1475, [2331, 2332], "1Z1"), (1476, [2333], "JD2")]
        assert [(s["shipping_provider"], s["tracking_carrier"], s["tracking_link"]) for s in shipments] == [
            ("ups", "", "https://t.example/1Z1"),  # a BigCommerce shipping module
            ("", "dhl", "https://t.example/JD2"),
        ]
        assert not first.already and again.already and len(shipments) == 2

    def test_a_retry_after_one_address_shipped_adds_only_the_other(
        self, http: HttpClient, credentials: StoreCredentials, shop: BigCommerceStore
    ) -> None:
        label = Label(carrier="dhl", tracking_number="JD2")
        packages = [Package(box_code="S", items=(), weight_g=500, destination="1476", label=label)]
        order = _fetch(http, credentials, "1190").model_copy(update={"packages": packages})
        shop.shipments[1190].append(  # the San Francisco parcel's shipment, made before a lost answer
            {
                "id": 71,
                "order_address_id": 1476,
                "tracking_number": "JD2",
                "items": [{"order_product_id": 2333, "quantity": 1}],
            }
        )

        BigCommerceWriteBack(http).apply(STORE, credentials, _update(order, UpdateKind.SHIPPED, tracking_number="1Z1"))

        assert [(s["order_address_id"], s["tracking_number"]) for s in shop.shipments[1190]] == [
            (1476, "JD2"),
            (1475, "1Z1"),
        ]

    def test_a_short_line_ships_only_what_went_out(
        self, http: HttpClient, credentials: StoreCredentials, shop: BigCommerceStore
    ) -> None:
        order = _fetch(http, credentials, "1190").model_copy(update={"short": {"MUG-CC-BLU": 1, "TORCH-CB-01": 1}})

        BigCommerceWriteBack(http).apply(STORE, credentials, _update(order, UpdateKind.SHIPPED, tracking_number="1Z2"))

        [shipment] = shop.shipments[1190]  # nothing of the torch's address shipped
        assert [(i["order_product_id"], i["quantity"]) for i in shipment["items"]] == [(2331, 1), (2332, 1)]
        assert shop.orders[1190]["status_id"] == 3  # Partially Shipped

    def test_an_unknown_carrier_goes_with_an_empty_tracking_carrier_and_the_link(
        self, http: HttpClient, credentials: StoreCredentials, shop: BigCommerceStore
    ) -> None:
        update = _update(
            _fetch(http, credentials),
            UpdateKind.SHIPPED,
            carrier="simcarrier",
            tracking_number="SIM1",
            tracking_url="https://t/1",
        )
        BigCommerceWriteBack(http).apply(STORE, credentials, update)
        [shipment] = shop.shipments[1187]
        assert (shipment["tracking_carrier"], shipment["tracking_link"]) == ("", "https://t/1")

    def test_the_store_refuses_a_tracking_carrier_it_does_not_know(
        self, http: HttpClient, credentials: StoreCredentials, shop: BigCommerceStore, api: StubApi
    ) -> None:
        body = {
            "order_address_id": 1455,
            "tracking_carrier": "simcarrier",
            "items": [{"order_product_id": 2301, "quantity": 1}],
        }
        with pytest.raises(PlatformRejected):
            BigCommerceApi(http, STORE, credentials).call("POST", "/v2/orders/1187/shipments", body)
