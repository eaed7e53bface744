"""WooCommerce write-back over real HTTP against the stub shop (local/stubs/woocommerce.py): each change once."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound, build
from fulfillment.errors import OrderInvalid, PlatformRejected, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult
from local.stub_api import Fault, StubApi
from local.stubs.woocommerce import CONSUMER_KEY, CONSUMER_SECRET, WooCommerceShop

EVENTS = Path(__file__).resolve().parents[2] / "events" / "woocommerce"
ORDER = r"/wp-json/wc/v3/orders/(\d+)"
TRACKINGS = r"/wp-json/wc-shipment-tracking/v3/orders/(\d+)/shipment-trackings"
TRACKING = "00340434161094042557"
TRACKING_URL = f"https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={TRACKING}"
STORE = Store(
    store_id="kaffeekontor",
    platform="woocommerce",
    secret_ref="/fulfillment/test/stores/kaffeekontor/webhook-secret",
    site_url="https://shop.kaffeekontor.example/",
)


@pytest.fixture
def shop() -> WooCommerceShop:
    return WooCommerceShop()


@pytest.fixture
def api(shop: WooCommerceShop) -> Iterator[StubApi]:
    with StubApi() as stub:
        shop.install(stub)
        yield stub


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps: list[float]) -> HttpClient:
    return HttpClient(timeout=2.0, attempts=3, base_delay=0.0, sleep=sleeps.append)


@pytest.fixture
def credentials(api: StubApi) -> StoreCredentials:
    return StoreCredentials(
        webhook_secret="test-secret", api_base_url=api.url, api_key=CONSUMER_KEY, api_secret=CONSUMER_SECRET
    )


def _order(name: str = "order_updated_paid.json") -> Order:
    request = WebhookRequest(body=(EVENTS / name).read_bytes(), headers={"x-wc-webhook-topic": "order.updated"})
    order = WooCommerceInbound().read(request, STORE).order
    assert order is not None
    return order


@pytest.fixture
def order() -> Order:
    """Order 4711 as the paid delivery carried it."""
    return _order()


def _apply(http: HttpClient, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
    write_back = build(http).write_back
    assert write_back is not None
    return write_back.apply(STORE, credentials, update)


def _shipped(order: Order) -> StoreUpdate:
    return StoreUpdate(
        kind=UpdateKind.SHIPPED, order=order, carrier="DHL", tracking_number=TRACKING, tracking_url=TRACKING_URL
    )


class TestTheConversation:
    def test_every_call_carries_the_consumer_key_and_secret_as_basic_auth(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        _apply(http, credentials, _shipped(order))
        expected = "Basic " + base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
        assert {request.headers["authorization"] for request in api.received()} == {expected}

    def test_the_site_url_is_the_base_without_an_api_base_url(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        store = STORE.model_copy(update={"site_url": f"{api.url}/"})
        write_back = build(http).write_back
        assert write_back is not None
        assert write_back.apply(store, credentials.model_copy(update={"api_base_url": None}), _shipped(order)).done
        assert api.received("POST", TRACKINGS)

    def test_without_a_consumer_key_nothing_is_sent(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(PlatformRejected, match="consumer key"):
            _apply(http, credentials.model_copy(update={"api_key": None}), _shipped(order))
        assert api.received() == []


class TestShipped:
    def test_a_listed_carrier_is_named_by_its_provider_name_from_the_stores_list(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        result = _apply(http, credentials, _shipped(order))
        (listed,) = api.received("GET", TRACKINGS)
        (created,) = api.received("POST", TRACKINGS)
        assert listed.path == created.path == "/wp-json/wc-shipment-tracking/v3/orders/4711/shipment-trackings"
        assert api.received("GET", r"/wp-json/wc-shipment-tracking/v3/shipment-trackings/providers")
        assert created.json() == {"tracking_provider": "DHL", "tracking_number": TRACKING}
        assert result == WriteBackResult(done=True, reference=shop.trackings[4711][0]["tracking_id"])
        assert shop.trackings[4711][0]["tracking_link"] == TRACKING_URL  # built from the list's URL format
        assert api.received("PUT", ORDER) == []  # the status stays for COMPLETED

    def test_the_provider_name_is_matched_without_regard_to_case(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        _apply(http, credentials, _shipped(order).model_copy(update={"carrier": "usps", "tracking_url": None}))
        (created,) = api.received("POST", TRACKINGS)
        assert created.json() == {"tracking_provider": "USPS", "tracking_number": TRACKING}

    def test_a_carrier_outside_the_list_is_a_custom_provider_with_its_link(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        link = f"https://track.example-courier.test/{TRACKING}"
        courier = _shipped(order).model_copy(update={"carrier": "Example Courier", "tracking_url": link})
        _apply(http, credentials, courier)
        (created,) = api.received("POST", TRACKINGS)
        assert created.json() == {
            "custom_tracking_provider": "Example Courier",
            "custom_tracking_link": link,
            "tracking_number": TRACKING,
        }
        assert (shop.trackings[4711][0]["custom_tracking_provider"], shop.trackings[4711][0]["tracking_link"]) == (
            "Example Courier",
            link,
        )

    def test_a_carrier_outside_the_list_without_a_link_is_told_in_a_customer_note(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = _shipped(order).model_copy(update={"carrier": "Example Courier", "tracking_url": None})
        _apply(http, credentials, update)
        assert api.received("POST", TRACKINGS) == []
        (note,) = shop.notes[4711]
        assert note["note"] == f"Shipped with Example Courier: {TRACKING} (ref: {update.key})"
        assert note["customer_note"] is True

    def test_shipping_twice_creates_one_tracking(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        first = _apply(http, credentials, _shipped(order))
        second = _apply(http, credentials, _shipped(order))
        assert (first.already, second.already) == (False, True)
        assert second.reference == first.reference
        assert len(shop.trackings[4711]) == 1
        assert len(api.received("POST", TRACKINGS)) == 1

    def test_without_the_plugin_the_tracking_becomes_one_customer_note(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        bare = WooCommerceShop(tracking_plugin=False)
        with StubApi() as other:
            bare.install(other)
            elsewhere = credentials.model_copy(update={"api_base_url": other.url})
            update = _shipped(order)
            assert not _apply(http, elsewhere, update).already
            assert _apply(http, elsewhere, update).already
            (note,) = bare.notes[4711]
            assert note["note"] == f"Shipped with DHL: {TRACKING} {TRACKING_URL} (ref: {update.key})"
            assert note["customer_note"] is True
            assert len(other.received("POST", rf"{ORDER}/notes")) == 1

    def test_a_shipment_without_a_tracking_number_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(OrderInvalid, match="tracking number"):
            _apply(http, credentials, StoreUpdate(kind=UpdateKind.SHIPPED, order=order, carrier="DHL"))
        assert api.received() == []


class TestStatusChanges:
    @pytest.mark.parametrize(
        ("kind", "status"), [(UpdateKind.COMPLETED, "completed"), (UpdateKind.CANCELLED, "cancelled")]
    )
    def test_each_kind_puts_its_status_once(
        self,
        api: StubApi,
        shop: WooCommerceShop,
        http: HttpClient,
        credentials: StoreCredentials,
        order: Order,
        kind: UpdateKind,
        status: str,
    ) -> None:
        update = StoreUpdate(kind=kind, order=order)
        assert _apply(http, credentials, update) == WriteBackResult(done=True, reference="4711")
        assert _apply(http, credentials, update) == WriteBackResult(done=True, already=True, reference="4711")
        (put,) = api.received("PUT", ORDER)
        assert put.path == "/wp-json/wc/v3/orders/4711"
        assert put.json() == {"status": status}
        assert shop.orders[4711]["status"] == status

    def test_an_order_the_store_cancelled_itself_is_already_cancelled(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        cancelled = _order("order_updated_cancelled.json")
        assert _apply(http, credentials, StoreUpdate(kind=UpdateKind.CANCELLED, order=cancelled)).already
        assert api.received("PUT", ORDER) == []


class TestProcessing:
    def test_accepting_the_order_is_one_private_note(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.PROCESSING, order=order)
        first = _apply(http, credentials, update)
        assert _apply(http, credentials, update) == WriteBackResult(done=True, already=True, reference=first.reference)
        (created,) = api.received("POST", rf"{ORDER}/notes")
        assert created.json() == {"note": f"Accepted for fulfillment (ref: {update.key})", "customer_note": False}
        assert [note["id"] for note in shop.notes[4711]] == [int(str(first.reference))]

    def test_a_note_among_others_is_found(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.PROCESSING, order=order)
        _apply(http, credentials, update)
        shop.notes[4711].insert(0, {"id": 1, "note": "Order status changed from Pending to Processing."})
        assert _apply(http, credentials, update).already


class TestReturned:
    def test_a_resolved_return_is_one_private_note_with_how_it_was_resolved(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(
            kind=UpdateKind.RETURNED,
            order=order,
            reason="refunded 14.50 through the payment gateway",
            reference="kaffeekontor:4711:R1",
        )
        first = _apply(http, credentials, update)
        assert _apply(http, credentials, update) == WriteBackResult(done=True, already=True, reference=first.reference)
        (created,) = api.received("POST", rf"{ORDER}/notes")
        assert created.json() == {
            "note": f"refunded 14.50 through the payment gateway (ref: {update.key})",
            "customer_note": False,
        }
        assert len(shop.notes[4711]) == 1

    def test_two_returns_are_two_notes(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        for reference in ("kaffeekontor:4711:R1", "kaffeekontor:4711:R2"):
            update = StoreUpdate(kind=UpdateKind.RETURNED, order=order, reason="replaced", reference=reference)
            assert not _apply(http, credentials, update).already
        assert len(shop.notes[4711]) == 2


class TestRefunded:
    def test_a_refund_is_recorded_without_the_gateway_once(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(
            kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("17.26", "EUR"), reason="Mug arrived broken"
        )
        first = _apply(http, credentials, update)
        second = _apply(http, credentials, update)
        assert (first.already, second.already, second.reference) == (False, True, first.reference)
        (created,) = api.received("POST", rf"{ORDER}/refunds")
        assert created.json() == {
            "amount": "17.26",
            "reason": f"Mug arrived broken (ref: {update.key})",
            "api_refund": False,
        }
        assert api.received("GET", rf"{ORDER}/refunds")[0].query == {"per_page": "100"}
        assert [refund["amount"] for refund in shop.refunds[4711]] == ["17.26"]
        assert shop.orders[4711]["status"] == "processing"

    def test_without_an_amount_the_whole_total_is_refunded(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        _apply(http, credentials, StoreUpdate(kind=UpdateKind.REFUNDED, order=order))
        (created,) = api.received("POST", rf"{ORDER}/refunds")
        assert created.json()["amount"] == "126.02"
        assert shop.orders[4711]["status"] == "refunded"

    def test_two_refunds_of_other_amounts_are_two_refunds(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        for amount in ("17.26", "10.00"):
            update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse(amount, "EUR"))
            assert not _apply(http, credentials, update).already
        assert len(shop.refunds[4711]) == 2

    def test_two_refunds_of_the_same_amount_for_two_returns_are_two_refunds(
        self, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        amount = Money.parse("10.00", "EUR")
        for reference in ("kaffeekontor:4711:R1", "kaffeekontor:4711:R2"):
            update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=amount, reference=reference)
            assert not _apply(http, credentials, update).already
            assert _apply(http, credentials, update).already
        assert [refund["amount"] for refund in shop.refunds[4711]] == ["10.00", "10.00"]

    def test_a_refund_beyond_what_is_left_is_rejected(
        self, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("500.00", "EUR"))
        with pytest.raises(PlatformRejected) as refused:
            _apply(http, credentials, update)
        assert refused.value.status == 400

    def test_a_refund_in_another_currency_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(OrderInvalid):
            _apply(
                http, credentials, StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("1", "USD"))
            )
        assert api.received() == []


class TestRefusals:
    def test_a_wrong_consumer_secret_is_rejected(
        self, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(PlatformRejected) as refused:
            _apply(http, credentials.model_copy(update={"api_secret": "cs_wrong"}), _shipped(order))
        assert refused.value.status == 401

    def test_an_unknown_order_is_rejected(self, http: HttpClient, credentials: StoreCredentials, order: Order) -> None:
        with pytest.raises(PlatformRejected) as refused:
            _apply(
                http,
                credentials,
                StoreUpdate(kind=UpdateKind.COMPLETED, order=order.model_copy(update={"external_id": "999"})),
            )
        assert refused.value.status == 404
        assert "woocommerce_rest_shop_order_invalid_id" in refused.value.body

    def test_an_order_id_that_is_not_a_number_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(OrderInvalid):
            _apply(http, credentials, _shipped(order.model_copy(update={"external_id": "4711/notes"})))
        assert api.received() == []


class TestTransientFailures:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_a_429_with_retry_after_is_waited_out_then_the_write_succeeds(
        self,
        api: StubApi,
        shop: WooCommerceShop,
        http: HttpClient,
        credentials: StoreCredentials,
        order: Order,
        sleeps: list[float],
        method: str,
    ) -> None:
        api.fail_next(method, TRACKINGS, Fault(429, retry_after="1"))
        assert _apply(http, credentials, _shipped(order)).done
        assert sleeps == [1.0]
        assert len(shop.trackings[4711]) == 1

    def test_a_server_error_on_the_write_ends_in_one_tracking_however_the_apply_is_retried(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", TRACKINGS, Fault(503))
        results = []
        for _ in range(3):  # the write-back worker retries the whole apply until it is done
            with suppress(TransientError):
                results.append(_apply(http, credentials, _shipped(order)))
        assert results[-1].already
        assert len(shop.trackings[4711]) == 1

    def test_a_write_whose_answer_was_lost_is_found_by_the_next_apply(
        self, api: StubApi, shop: WooCommerceShop, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", rf"{ORDER}/refunds", Fault.slow(0.6))
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("17.26", "EUR"))
        with pytest.raises(TransientError):
            _apply(HttpClient(timeout=0.3), credentials, update)
        deadline = time.monotonic() + 5
        while not shop.refunds[4711] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _apply(HttpClient(timeout=2.0), credentials, update).already
        assert len(shop.refunds[4711]) == 1

    def test_an_answer_slower_than_the_timeout_is_transient(
        self, api: StubApi, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("GET", ORDER, Fault.slow(1.0))
        with pytest.raises(TransientError):
            _apply(
                HttpClient(timeout=0.2, attempts=1), credentials, StoreUpdate(kind=UpdateKind.COMPLETED, order=order)
            )

    def test_server_errors_beyond_the_attempts_are_transient_and_write_nothing(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", rf"{ORDER}/refunds", Fault(500), Fault(502), Fault(503))
        with pytest.raises(TransientError):
            _apply(http, credentials, StoreUpdate(kind=UpdateKind.REFUNDED, order=order))
        assert shop.refunds[4711] == []


class TestPartialShipment:
    def test_a_short_shipment_adds_its_tracking_and_tells_the_customer_what_is_missing_once(
        self, api: StubApi, shop: WooCommerceShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = _shipped(order.model_copy(update={"short": {"TORCH-CB-01": 1}}))

        _apply(http, credentials, update)
        _apply(http, credentials, update)

        (note,) = shop.notes[4711]
        assert note["customer_note"] is True and "not shipped: 1 x" in note["note"] and "(TORCH-CB-01)" in note["note"]
        assert len(shop.trackings[4711]) == 1

    def test_without_the_tracking_extension_a_short_shipment_gets_both_notes_once(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        bare = WooCommerceShop(tracking_plugin=False)
        with StubApi() as other:
            bare.install(other)
            elsewhere = credentials.model_copy(update={"api_base_url": other.url})
            update = _shipped(order.model_copy(update={"short": {"TORCH-CB-01": 1}}))
            _apply(http, elsewhere, update)
            _apply(http, elsewhere, update)
        texts = [note["note"] for note in bare.notes[4711]]
        assert len(texts) == 2
        assert (
            sum(t.startswith("Partial shipment") for t in texts) == 1
            and sum(t.startswith("Shipped with") for t in texts) == 1
        )
