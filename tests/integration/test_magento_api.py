"""Magento's REST API over real HTTP (the local stub shop): fetching orders and idempotent write-backs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.magento import MagentoInbound, MagentoSource, MagentoWriteBack
from fulfillment.errors import PlatformRejected, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult
from local.stub_api import Fault, StubApi
from local.stubs.magento import (
    ACCESS_TOKEN_SECRET,
    API_TOKEN,
    CANCEL_PATH,
    COMMENTS_PATH,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    CREDITMEMOS_PATH,
    ORDER_PATH,
    REFUND_PATH,
    SHIP_PATH,
    SHIPMENTS_PATH,
    MagentoShop,
)

EVENTS = Path(__file__).resolve().parents[2] / "events" / "magento"
STORE = Store(store_id="kaffeekontor-mage", platform="magento", secret_ref="/fulfillment/test/stores/x/webhook-secret")
SHIPMENT_FILTER = {
    "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
    "searchCriteria[filter_groups][0][filters][0][value]": "318",
    "searchCriteria[filter_groups][0][filters][0][condition_type]": "eq",
}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def shop() -> MagentoShop:
    return MagentoShop(integration_as_bearer=True)  # most tests: a shop that takes the token as Bearer


@pytest.fixture
def api(shop: MagentoShop) -> Iterator[StubApi]:
    with StubApi() as stub:
        shop.install(stub)
        yield stub


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sleeps: Sleeps) -> HttpClient:
    return HttpClient(timeout=2.0, attempts=3, base_delay=0.0, sleep=sleeps)


@pytest.fixture
def credentials(api: StubApi) -> StoreCredentials:
    return StoreCredentials(
        webhook_secret="test-secret",
        api_base_url=api.url + "/",
        api_token=API_TOKEN,
        extra={"adobe_key_base_url": api.url},
    )


def _delivered(name: str) -> Order:
    body = (EVENTS / f"{name}.json").read_bytes()
    headers = {k.lower(): v for k, v in json.loads((EVENTS / f"{name}.headers.json").read_text()).items()}
    order = MagentoInbound(HttpClient()).read(WebhookRequest(body=body, headers=headers), STORE).order
    assert order is not None
    return order


@pytest.fixture
def paid_order() -> Order:
    return _delivered("mageos_02_sales.order.updated_invoiced")


def _update(order: Order, kind: UpdateKind, **fields: Any) -> StoreUpdate:
    return StoreUpdate(kind=kind, order=order, **fields)


class TestFetchOrder:
    def test_the_fetched_order_is_the_order_the_fat_delivery_carries(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, paid_order: Order
    ) -> None:
        fetched = MagentoSource(http).fetch_order(STORE, credentials, "318")
        assert fetched == paid_order
        (request,) = api.received("GET", ORDER_PATH)
        assert request.path == "/rest/V1/orders/318"
        assert request.headers["authorization"] == f"Bearer {API_TOKEN}"

    def test_a_thin_adobe_event_is_completed_by_the_fetch(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi
    ) -> None:
        body = (EVENTS / "adobe_io_01_observer.sales_order_save_after_placed.json").read_bytes()
        headers = json.loads((EVENTS / "adobe_io_01_observer.sales_order_save_after_placed.headers.json").read_text())
        request = WebhookRequest(body=body, headers=headers)
        inbound = MagentoInbound(http)
        inbound.verify(request, credentials, now=1748953270.0)  # the keys come from the stub's key host
        event = inbound.read(request, STORE)
        assert event.needs_fetch
        assert event.external_order_id is not None
        order = MagentoSource(http).fetch_order(STORE, credentials, event.external_order_id)
        assert (order.number, order.paid, order.totals.grand_total) == ("000000318", True, _gbp(10794))

    def test_the_shops_address_is_required(self, http: HttpClient) -> None:
        with pytest.raises(PlatformRejected, match="api_base_url"):
            MagentoSource(http).fetch_order(STORE, StoreCredentials(webhook_secret="s", api_token="t"), "318")

    def test_a_wrong_token_is_rejected_for_good(self, http: HttpClient, credentials: StoreCredentials) -> None:
        wrong = credentials.model_copy(update={"api_token": "expired"})
        with pytest.raises(PlatformRejected) as raised:
            MagentoSource(http).fetch_order(STORE, wrong, "318")
        assert raised.value.status == 401

    def test_an_unknown_order_is_rejected_for_good(self, http: HttpClient, credentials: StoreCredentials) -> None:
        with pytest.raises(PlatformRejected) as raised:
            MagentoSource(http).fetch_order(STORE, credentials, "999")
        assert raised.value.status == 404

    def test_a_429_is_waited_out_as_retry_after_asks(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, sleeps: Sleeps
    ) -> None:
        api.fail_next("GET", ORDER_PATH, Fault(429, retry_after="1"))
        assert MagentoSource(http).fetch_order(STORE, credentials, "318").external_id == "318"
        assert sleeps == [1.0]
        assert len(api.received("GET", ORDER_PATH)) == 2

    def test_a_server_error_is_retried(self, http: HttpClient, credentials: StoreCredentials, api: StubApi) -> None:
        api.fail_next("GET", ORDER_PATH, Fault(503))
        assert MagentoSource(http).fetch_order(STORE, credentials, "318").external_id == "318"

    def test_an_answer_slower_than_the_timeout_is_transient(self, credentials: StoreCredentials, api: StubApi) -> None:
        api.fail_next("GET", ORDER_PATH, Fault.slow(1.0))
        with pytest.raises(TransientError):
            MagentoSource(HttpClient(timeout=0.2, attempts=1)).fetch_order(STORE, credentials, "318")


class TestReportedCreditMemos:
    def test_a_refunded_order_reports_its_credit_memos_items_and_total(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop
    ) -> None:
        shop.orders[318]["total_refunded"] = 14.4
        shop.creditmemos.append(json.loads((EVENTS / "mageos_03_sales.creditmemo.created.json").read_bytes())["data"])
        (report,) = MagentoSource(http).fetch_order(STORE, credentials, "318").reported_returns
        assert report.external_id == "creditmemo-27"
        assert [(line.line_id, line.quantity) for line in report.lines] == [("9001", 1)]
        assert report.refunded_minor == 1440
        assert "Handle broke in transit" in report.reason

    def test_an_adjustment_only_credit_memo_is_money_only(
        self, http: HttpClient, credentials: StoreCredentials, shop: MagentoShop
    ) -> None:
        memo = json.loads((EVENTS / "mageos_03_sales.creditmemo.created.json").read_bytes())["data"]
        memo["items"] = [{"order_item_id": 9001, "qty": 0}]
        shop.orders[318]["total_refunded"] = 14.4
        shop.creditmemos.append(memo)
        (report,) = MagentoSource(http).fetch_order(STORE, credentials, "318").reported_returns
        assert (report.lines, report.refunded_minor) == ((), 1440)

    def test_an_order_without_refunds_lists_no_credit_memos(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi
    ) -> None:
        assert MagentoSource(http).fetch_order(STORE, credentials, "318").reported_returns == ()
        assert api.received("GET", CREDITMEMOS_PATH) == []


class TestShipped:
    def test_a_shipment_with_the_tracking_number_is_created_for_every_line(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")
        result = MagentoWriteBack(http).apply(STORE, credentials, update)
        assert result == WriteBackResult(done=True, reference="52")
        (lookup,) = api.received("GET", SHIPMENTS_PATH)
        assert lookup.query == SHIPMENT_FILTER
        (ship,) = api.received("POST", SHIP_PATH)
        assert ship.path == "/rest/V1/order/318/ship"
        assert ship.json() == {
            "items": [
                {"order_item_id": 9001, "qty": 2},
                {"order_item_id": 9002, "qty": 1},
                {"order_item_id": 9004, "qty": 1},
            ],
            "notify": True,
            "tracks": [{"track_number": "RM123456785GB", "title": "Royal Mail", "carrier_code": "custom"}],
        }
        assert shop.orders[318]["state"] == "complete"  # invoiced and now shipped

    def test_shipping_twice_creates_one_shipment(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")
        first = MagentoWriteBack(http).apply(STORE, credentials, update)
        again = MagentoWriteBack(http).apply(STORE, credentials, update)
        assert again == WriteBackResult(done=True, already=True, reference=first.reference)
        assert len(shop.shipments) == 1
        assert len(api.received("POST", SHIP_PATH)) == 1

    def test_a_shipment_the_merchant_made_with_that_number_counts(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        shop.shipments.append({"entity_id": 7, "order_id": 318, "tracks": [{"track_number": "RM123456785GB"}]})
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(
            done=True, already=True, reference="7"
        )
        assert api.received("POST", SHIP_PATH) == []

    def test_a_shipment_of_another_order_does_not_count(
        self, http: HttpClient, credentials: StoreCredentials, shop: MagentoShop, paid_order: Order
    ) -> None:
        shop.shipments.append({"entity_id": 7, "order_id": 317, "tracks": [{"track_number": "RM123456785GB"}]})
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")
        assert not MagentoWriteBack(http).apply(STORE, credentials, update).already
        assert len(shop.shipments) == 2

    def test_a_shipment_without_tracking_number_is_refused(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, paid_order: Order
    ) -> None:
        with pytest.raises(PlatformRejected, match="tracking number"):
            MagentoWriteBack(http).apply(STORE, credentials, _update(paid_order, UpdateKind.SHIPPED, carrier="DHL"))
        assert api.received() == []

    def test_a_429_on_the_lookup_is_waited_out(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        api.fail_next("GET", SHIPMENTS_PATH, Fault(429, retry_after="2"))
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM1")
        assert MagentoWriteBack(http).apply(STORE, credentials, update).done
        assert len(shop.shipments) == 1


class TestLostAnswers:
    def test_a_shipment_whose_answer_was_lost_is_found_by_the_next_apply_not_posted_again(
        self, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        # The shop creates the shipment after the client stopped waiting: a blind re-POST would make a second.
        api.fail_next("POST", SHIP_PATH, Fault.slow(0.6))
        http = HttpClient(timeout=0.2, attempts=3, base_delay=0.0)
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")
        with pytest.raises(TransientError):
            MagentoWriteBack(http).apply(STORE, credentials, update)
        _wait_for(lambda: len(shop.shipments) == 1)
        assert MagentoWriteBack(http).apply(STORE, credentials, update).already
        assert len(api.received("POST", SHIP_PATH)) == 1
        assert len(shop.shipments) == 1

    def test_a_refund_whose_answer_was_lost_is_found_by_the_next_apply_not_posted_again(
        self, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        api.fail_next("POST", REFUND_PATH, Fault.slow(0.6))
        http = HttpClient(timeout=0.2, attempts=3, base_delay=0.0)
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(1440))
        with pytest.raises(TransientError):
            MagentoWriteBack(http).apply(STORE, credentials, update)
        _wait_for(lambda: len(shop.creditmemos) == 1)
        assert MagentoWriteBack(http).apply(STORE, credentials, update).already
        assert len(shop.creditmemos) == 1


class TestComments:
    @pytest.mark.parametrize(
        ("kind", "text"), [(UpdateKind.PROCESSING, "Accepted for fulfillment."), (UpdateKind.COMPLETED, "Delivered")]
    )
    def test_a_private_comment_carries_the_updates_marker(
        self,
        http: HttpClient,
        credentials: StoreCredentials,
        api: StubApi,
        shop: MagentoShop,
        paid_order: Order,
        kind: UpdateKind,
        text: str,
    ) -> None:
        update = _update(paid_order, kind)
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True)
        (post,) = api.received("POST", COMMENTS_PATH)
        assert post.path == "/rest/V1/orders/318/comments"
        history = post.json()["statusHistory"]
        assert history["comment"].startswith(text)
        assert f"[fulfillment:{update.key}]" in history["comment"]
        assert (history["status"], history["is_customer_notified"], history["is_visible_on_front"]) == (
            "processing",
            0,
            0,
        )
        assert shop.orders[318]["status"] == "processing"

    @pytest.mark.parametrize("kind", [UpdateKind.PROCESSING, UpdateKind.COMPLETED])
    def test_commenting_twice_adds_one_comment(
        self,
        http: HttpClient,
        credentials: StoreCredentials,
        api: StubApi,
        shop: MagentoShop,
        paid_order: Order,
        kind: UpdateKind,
    ) -> None:
        update = _update(paid_order, kind, reason="warehouse Leeds")
        MagentoWriteBack(http).apply(STORE, credentials, update)
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True, already=True)
        assert len(api.received("POST", COMMENTS_PATH)) == 1
        assert len(shop.orders[318]["status_histories"]) == 3  # the two recorded ones and ours

    def test_processing_and_completed_are_separate_comments(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, paid_order: Order
    ) -> None:
        for kind in (UpdateKind.PROCESSING, UpdateKind.COMPLETED):
            MagentoWriteBack(http).apply(STORE, credentials, _update(paid_order, kind))
        assert len(api.received("POST", COMMENTS_PATH)) == 2


class TestReturned:
    def test_a_resolved_return_is_one_private_comment(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(
            paid_order, UpdateKind.RETURNED, reason="refunded by the store", reference="kaffeekontor-mage:318:R1"
        )
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True)
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True, already=True)
        (post,) = api.received("POST", COMMENTS_PATH)
        history = post.json()["statusHistory"]
        assert history["comment"] == f"refunded by the store [fulfillment:{update.key}]"
        assert (history["status"], history["is_customer_notified"]) == ("processing", 0)


class TestCancelled:
    @pytest.fixture
    def unpaid_shop(self, shop: MagentoShop) -> MagentoShop:
        shop.add_order(json.loads((EVENTS / "mageos_01_sales.order.created.json").read_bytes())["data"])
        return shop

    def test_an_unpaid_order_is_cancelled(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, unpaid_shop: MagentoShop
    ) -> None:
        order = _delivered("mageos_01_sales.order.created")
        assert MagentoWriteBack(http).apply(
            STORE, credentials, _update(order, UpdateKind.CANCELLED)
        ) == WriteBackResult(done=True)
        (cancel,) = api.received("POST", CANCEL_PATH)
        assert cancel.path == "/rest/V1/orders/318/cancel"
        assert unpaid_shop.orders[318]["state"] == "canceled"

    def test_cancelling_twice_cancels_once(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, unpaid_shop: MagentoShop
    ) -> None:
        update = _update(_delivered("mageos_01_sales.order.created"), UpdateKind.CANCELLED)
        MagentoWriteBack(http).apply(STORE, credentials, update)
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True, already=True)
        assert len(api.received("POST", CANCEL_PATH)) == 1

    def test_an_invoiced_order_cannot_be_cancelled_only_refunded(
        self, http: HttpClient, credentials: StoreCredentials, shop: MagentoShop, paid_order: Order
    ) -> None:
        with pytest.raises(PlatformRejected, match="refused to cancel"):
            MagentoWriteBack(http).apply(STORE, credentials, _update(paid_order, UpdateKind.CANCELLED))
        assert shop.orders[318]["state"] == "processing"


class TestRefunded:
    def test_the_full_amount_refunds_every_item_offline(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(10794))
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(done=True, reference="29")
        (lookup,) = api.received("GET", CREDITMEMOS_PATH)
        assert lookup.query == SHIPMENT_FILTER
        (refund,) = api.received("POST", REFUND_PATH)
        assert refund.path == "/rest/V1/order/318/refund"
        body = refund.json()
        assert body["items"] == [
            {"order_item_id": 9001, "qty": 2},
            {"order_item_id": 9002, "qty": 1},
            {"order_item_id": 9004, "qty": 1},
        ]
        assert body["notify"] is True
        assert "arguments" not in body
        assert f"[fulfillment:{update.key}]" in body["comment"]["comment"]
        assert (shop.orders[318]["state"], shop.orders[318]["total_refunded"]) == ("closed", 107.94)

    def test_a_partial_amount_is_an_adjustment_refund_of_exactly_that(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(1440))
        MagentoWriteBack(http).apply(STORE, credentials, update)
        body = api.received("POST", REFUND_PATH)[0].json()
        assert body["items"] == [
            {"order_item_id": 9001, "qty": 0},
            {"order_item_id": 9002, "qty": 0},
            {"order_item_id": 9004, "qty": 0},
        ]
        assert body["arguments"] == {"shipping_amount": 0, "adjustment_positive": 14.4, "adjustment_negative": 0}
        assert shop.creditmemos[0]["grand_total"] == 14.4
        assert (shop.orders[318]["state"], shop.orders[318]["total_refunded"]) == ("processing", 14.4)

    def test_refunding_twice_creates_one_credit_memo(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(1440))
        first = MagentoWriteBack(http).apply(STORE, credentials, update)
        again = MagentoWriteBack(http).apply(STORE, credentials, update)
        assert again == WriteBackResult(done=True, already=True, reference=first.reference)
        assert len(shop.creditmemos) == 1
        assert len(api.received("POST", REFUND_PATH)) == 1

    def test_a_credit_memo_the_merchant_made_for_that_amount_counts(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        shop.creditmemos.append(json.loads((EVENTS / "mageos_03_sales.creditmemo.created.json").read_bytes())["data"])
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(1440))
        assert MagentoWriteBack(http).apply(STORE, credentials, update) == WriteBackResult(
            done=True, already=True, reference="27"
        )
        assert api.received("POST", REFUND_PATH) == []

    def test_a_merchants_credit_memo_of_that_amount_does_not_stand_for_a_returns_refund(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        shop.creditmemos.append(json.loads((EVENTS / "mageos_03_sales.creditmemo.created.json").read_bytes())["data"])
        update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(1440), reference="kaffeekontor-mage:318:R1")
        assert MagentoWriteBack(http).apply(STORE, credentials, update).already is False
        assert len(api.received("POST", REFUND_PATH)) == 1

    def test_two_returns_of_the_same_amount_are_two_credit_memos(
        self, http: HttpClient, credentials: StoreCredentials, shop: MagentoShop, paid_order: Order
    ) -> None:
        for reference in ("kaffeekontor-mage:318:R1", "kaffeekontor-mage:318:R2"):
            update = _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(500), reference=reference)
            assert MagentoWriteBack(http).apply(STORE, credentials, update).already is False
            assert MagentoWriteBack(http).apply(STORE, credentials, update).already is True
        assert [memo["grand_total"] for memo in shop.creditmemos] == [5.0, 5.0]

    def test_another_amount_is_another_refund(
        self, http: HttpClient, credentials: StoreCredentials, shop: MagentoShop, paid_order: Order
    ) -> None:
        for minor in (1440, 500):
            MagentoWriteBack(http).apply(
                STORE, credentials, _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(minor))
            )
        assert [memo["grand_total"] for memo in shop.creditmemos] == [14.4, 5.0]

    def test_more_than_was_paid_is_rejected_by_the_shop(
        self, http: HttpClient, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        with pytest.raises(PlatformRejected) as raised:
            MagentoWriteBack(http).apply(
                STORE, credentials, _update(paid_order, UpdateKind.REFUNDED, amount=_gbp(99999))
            )
        assert raised.value.status == 400


class TestWriteBackFailures:
    def test_a_wrong_token_is_rejected_for_good(
        self, http: HttpClient, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        wrong = credentials.model_copy(update={"api_token": "expired"})
        with pytest.raises(PlatformRejected) as raised:
            MagentoWriteBack(http).apply(STORE, wrong, _update(paid_order, UpdateKind.PROCESSING))
        assert raised.value.status == 401

    def test_an_unknown_order_is_rejected_for_good(
        self, http: HttpClient, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        missing = paid_order.model_copy(update={"external_id": "999"})
        with pytest.raises(PlatformRejected) as raised:
            MagentoWriteBack(http).apply(STORE, credentials, _update(missing, UpdateKind.CANCELLED))
        assert raised.value.status == 404

    def test_a_slow_shop_is_transient(self, credentials: StoreCredentials, api: StubApi, paid_order: Order) -> None:
        api.fail_next("GET", SHIPMENTS_PATH, Fault.slow(1.0))
        update = _update(paid_order, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM1")
        with pytest.raises(TransientError):
            MagentoWriteBack(HttpClient(timeout=0.2, attempts=1)).apply(STORE, credentials, update)
        assert api.received("POST", SHIP_PATH) == []

    def test_write_back_needs_the_shops_address(self, http: HttpClient, paid_order: Order) -> None:
        with pytest.raises(PlatformRejected, match="api_base_url"):
            MagentoWriteBack(http).apply(
                STORE, StoreCredentials(webhook_secret="s"), _update(paid_order, UpdateKind.PROCESSING)
            )


def _wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the stub shop never got there"
        time.sleep(0.02)


def _gbp(minor: int) -> Money:
    return Money(minor=minor, currency="GBP")


def _oauth(credentials: StoreCredentials, **changes: str) -> StoreCredentials:
    secret = changes.pop("access_token_secret", ACCESS_TOKEN_SECRET)
    return credentials.model_copy(
        update={
            "api_key": CONSUMER_KEY,
            "api_secret": CONSUMER_SECRET,
            "extra": credentials.extra | {"access_token_secret": secret},
            **changes,
        }
    )


class TestIntegrationCredentials:
    """A default install refuses the integration token as Bearer (oauth/consumer/enable_integration_as_bearer
    off): the four integration credentials sign every request with OAuth 1.0a HMAC-SHA256 instead."""

    @pytest.fixture
    def default_install(self) -> Iterator[StubApi]:
        with StubApi() as stub:
            MagentoShop().install(stub)
            yield stub

    def test_on_a_default_install_the_bare_token_is_refused(
        self, http: HttpClient, default_install: StubApi, credentials: StoreCredentials
    ) -> None:
        bearer = credentials.model_copy(update={"api_base_url": default_install.url})
        with pytest.raises(PlatformRejected) as raised:
            MagentoSource(http).fetch_order(STORE, bearer, "318")
        assert raised.value.status == 401

    def test_signed_requests_fetch_and_write_back_on_a_default_install(
        self, http: HttpClient, default_install: StubApi, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        signed = _oauth(credentials.model_copy(update={"api_base_url": default_install.url}))

        fetched = MagentoSource(http).fetch_order(STORE, signed, "318")
        shipped = MagentoWriteBack(http).apply(
            STORE, signed, _update(paid_order, UpdateKind.SHIPPED, carrier="DHL", tracking_number="JD014600003GB")
        )

        assert fetched.number == "000000318" and shipped.done
        (listing,) = default_install.received("GET", SHIPMENTS_PATH)  # a query string, signed with the header
        assert listing.query == SHIPMENT_FILTER
        for request in default_install.received():
            assert request.headers["authorization"].startswith("OAuth ")
            assert 'oauth_signature_method="HMAC-SHA256"' in request.headers["authorization"]

    @pytest.mark.parametrize(
        "changes", [{"access_token_secret": "wrong"}, {"api_secret": "wrong"}, {"api_token": "another-token"}]
    )
    def test_a_wrong_secret_or_token_is_refused(
        self, http: HttpClient, default_install: StubApi, credentials: StoreCredentials, changes: dict[str, str]
    ) -> None:
        signed = _oauth(credentials.model_copy(update={"api_base_url": default_install.url}), **changes)
        with pytest.raises(PlatformRejected) as raised:
            MagentoSource(http).fetch_order(STORE, signed, "318")
        assert raised.value.status == 401


class TestMultiSourceInventory:
    def test_a_shipment_names_the_stores_source(
        self, http: HttpClient, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        shop = MagentoShop(integration_as_bearer=True, sources=("default", "berlin-warehouse"))
        store = STORE.model_copy(update={"options": {"magento_source_code": "berlin-warehouse"}})
        with StubApi() as stub:
            shop.install(stub)
            at = credentials.model_copy(update={"api_base_url": stub.url})
            update = _update(paid_order, UpdateKind.SHIPPED, carrier="DHL", tracking_number="JD014600003GB")
            assert MagentoWriteBack(http).apply(store, at, update).done
            (posted,) = stub.received("POST", SHIP_PATH)
        assert posted.json()["arguments"] == {"extension_attributes": {"source_code": "berlin-warehouse"}}
        assert shop.shipments[0]["extension_attributes"] == {"source_code": "berlin-warehouse"}

    def test_a_multi_source_shop_refuses_a_shipment_without_its_source(
        self, http: HttpClient, credentials: StoreCredentials, paid_order: Order
    ) -> None:
        shop = MagentoShop(integration_as_bearer=True, sources=("default", "berlin-warehouse"))
        with StubApi() as stub:
            shop.install(stub)
            at = credentials.model_copy(update={"api_base_url": stub.url})
            update = _update(paid_order, UpdateKind.SHIPPED, carrier="DHL", tracking_number="JD014600003GB")
            with pytest.raises(PlatformRejected) as raised:
                MagentoWriteBack(http).apply(STORE, at, update)
        assert raised.value.status == 400 and shop.shipments == []


class TestPartialShipment:
    def test_a_short_shipment_ships_only_the_units_that_left_and_the_order_stays_open(
        self, http: HttpClient, credentials: StoreCredentials, api: StubApi, shop: MagentoShop, paid_order: Order
    ) -> None:
        short = paid_order.model_copy(update={"short": {"MUG-CC-BLU": 1, "TORCH-CB-01": 1}})
        update = _update(short, UpdateKind.SHIPPED, carrier="Royal Mail", tracking_number="RM123456785GB")

        MagentoWriteBack(http).apply(STORE, credentials, update)
        again = MagentoWriteBack(http).apply(STORE, credentials, update)

        (ship,) = api.received("POST", SHIP_PATH)
        assert ship.json()["items"] == [{"order_item_id": 9001, "qty": 1}, {"order_item_id": 9002, "qty": 1}]
        assert shop.orders[318]["state"] == "processing"  # the rest is still to ship
        assert again.already
