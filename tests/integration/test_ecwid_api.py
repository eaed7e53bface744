"""Ecwid's REST v3 API over real HTTP against the local stub: fetching orders, write-backs, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.ecwid import EcwidInbound, EcwidSource, EcwidWriteBack
from fulfillment.errors import OrderInvalid, PlatformRejected, TransientError
from fulfillment.model import Money, Order, OrderStatus
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from local.stub_api import Fault, StubApi
from local.stubs.ecwid import API_TOKEN, STORE_ID, EcwidStore

EVENTS = Path(__file__).resolve().parents[2] / "events" / "ecwid"
STORE = Store(store_id="kaffeekontor-ecwid", platform="ecwid", secret_ref="/ref", platform_store_id=STORE_ID)
ORDER_PATH = r"/api/v3/31415926/orders/KX7Q2"
PROFILE_PATH = r"/api/v3/31415926/profile"
TRACKING = "JJD000390007200718471"


def eur(amount: str) -> Money:
    return Money.parse(amount, "EUR")


class Sleeps(list[float]):
    """HttpClient's sleep, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api() -> Iterator[StubApi]:
    with StubApi(name="ecwid-stub") as stub:
        yield stub


@pytest.fixture
def store(api: StubApi) -> EcwidStore:
    store = EcwidStore()
    store.install(api)
    return store


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sleeps: Sleeps) -> HttpClient:
    return HttpClient(timeout=5.0, attempts=3, base_delay=0.01, sleep=sleeps)


@pytest.fixture
def credentials(api: StubApi) -> StoreCredentials:
    return StoreCredentials(
        webhook_secret="test-secret", api_base_url=api.url, api_token=API_TOKEN, extra={"currency": "EUR"}
    )


def _fetch(http: HttpClient, credentials: StoreCredentials, order_id: str = "KX7Q2") -> Order:
    return EcwidSource(http).fetch_order(STORE, credentials, order_id)


def _update(kind: UpdateKind, order: Order, **fields: Any) -> StoreUpdate:
    return StoreUpdate(kind=kind, order=order, **fields)


def _puts(api: StubApi, path: str = ORDER_PATH) -> list[Any]:
    return [request.json() for request in api.received("PUT", path)]


def _apply(http: HttpClient, credentials: StoreCredentials, update: StoreUpdate) -> Any:
    return EcwidWriteBack(http).apply(STORE, credentials, update)


class TestFetchingAnOrder:
    def test_maps_the_order_the_store_answers(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        assert (order.external_id, order.number, order.currency) == ("KX7Q2", "KX7Q2", "EUR")
        assert [line.line_id for line in order.lines] == ["1828115520", "1828115521", "1828115522"]
        assert (order.paid, order.cancelled, order.refunded) == (True, False, eur("17.26"))
        assert order.totals.grand_total == eur("126.02")
        assert order.source_modified_at == datetime(2025, 6, 5, 8, 40, 2, tzinfo=UTC)

    def test_the_order_a_delivery_names_is_the_order_fetched(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        for name, expected in (("02_order_updated_paid", "KX7Q2"), ("05_order_updated_cancelled", "KX7R9")):
            headers = json.loads((EVENTS / f"{name}.headers.json").read_text(encoding="utf-8"))
            request = WebhookRequest(
                body=(EVENTS / f"{name}.json").read_bytes(), headers={k.lower(): v for k, v in headers.items()}
            )
            event = EcwidInbound().read(request, STORE)
            assert event.needs_fetch and event.external_order_id == expected
            assert _fetch(http, credentials, event.external_order_id).external_id == expected

    def test_the_cancelled_order_reads_as_cancelled_and_unpaid(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials, "KX7R9")
        assert (order.paid, order.cancelled, order.refunded) == (False, True, None)
        assert order.totals.grand_total == eur("55.88")

    def test_asks_the_documented_endpoint_with_the_bearer_token(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        _fetch(http, credentials)
        [request] = api.received("GET", ORDER_PATH)
        assert request.headers["authorization"] == f"Bearer {API_TOKEN}"
        assert api.received("GET", PROFILE_PATH) == []  # the currency was configured

    def test_without_a_configured_currency_reads_it_from_the_store_profile(
        self, api: StubApi, http: HttpClient
    ) -> None:
        EcwidStore(currency="CHF").install(api)
        credentials = StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token=API_TOKEN)
        order = _fetch(http, credentials)
        assert order.currency == "CHF" and order.totals.grand_total == Money.parse("126.02", "CHF")
        assert len(api.received("GET", PROFILE_PATH)) == 1

    def test_an_unknown_order_is_rejected(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(PlatformRejected) as caught:
            _fetch(http, credentials, "NOPE1")
        assert caught.value.status == 404

    def test_a_wrong_token_is_rejected(self, api: StubApi, store: EcwidStore, http: HttpClient) -> None:
        wrong = StoreCredentials(webhook_secret="test-secret", api_base_url=api.url, api_token="secret_wrong")
        with pytest.raises(PlatformRejected) as caught:
            _fetch(http, wrong)
        assert caught.value.status == 401

    def test_an_order_id_is_sent_as_one_path_segment(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(PlatformRejected):
            _fetch(http, credentials, "../profile")
        assert api.received("GET", PROFILE_PATH) == []

    def test_waits_as_long_as_a_429_asks_then_succeeds(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials, sleeps: Sleeps
    ) -> None:
        api.fail_next("GET", store.order_route, Fault(429, retry_after="1"))
        assert _fetch(http, credentials).external_id == "KX7Q2"
        assert len(api.received("GET", ORDER_PATH)) == 2
        assert sleeps and sleeps[0] >= 1.0

    def test_a_slow_answer_beyond_the_timeout_is_transient(
        self, api: StubApi, store: EcwidStore, credentials: StoreCredentials
    ) -> None:
        api.fail_next("GET", store.order_route, Fault.slow(1.5))
        with pytest.raises(TransientError):
            _fetch(HttpClient(timeout=0.3, attempts=1), credentials)

    def test_a_store_without_its_ecwid_id_cannot_be_fetched(
        self, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        with pytest.raises(PlatformRejected, match="platform_store_id"):
            EcwidSource(http).fetch_order(STORE.model_copy(update={"platform_store_id": None}), credentials, "KX7Q2")


class TestReportedReturn:
    def test_an_order_marked_returned_reports_every_line_back_and_the_refunded_amount(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"].update(fulfillmentStatus="RETURNED", paymentStatus="REFUNDED", refundedAmount=126.02)
        order = _fetch(http, credentials)
        (report,) = order.reported_returns
        assert report.external_id == "returned-KX7Q2"
        assert [(line.line_id, line.quantity) for line in report.lines] == [
            (line.line_id, line.quantity) for line in order.lines
        ]
        assert report.refunded_minor == 12602

    def test_returned_without_a_refund_paid_nothing_back(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"].update(fulfillmentStatus="RETURNED", paymentStatus="PAID")
        assert _fetch(http, credentials).reported_returns[0].refunded_minor == 0

    def test_the_label_our_own_write_back_set_reports_nothing(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"].update(
            fulfillmentStatus="RETURNED",
            privateAdminNotes=f"refunded by the store [{STORE.store_id}:KX7Q2:returned:{STORE.store_id}:KX7Q2:R1]",
        )
        assert _fetch(http, credentials).reported_returns == ()

    def test_an_order_not_returned_reports_nothing(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        assert _fetch(http, credentials).reported_returns == ()


class TestShipped:
    def test_sets_the_fulfillment_status_and_tracking_number(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        result = _apply(http, credentials, _update(UpdateKind.SHIPPED, order, carrier="DHL", tracking_number=TRACKING))
        assert (result.done, result.already) == (True, False)
        assert _puts(api) == [{"fulfillmentStatus": "SHIPPED", "trackingNumber": TRACKING}]
        assert api.received("PUT", ORDER_PATH)[0].headers["authorization"] == f"Bearer {API_TOKEN}"
        assert store.orders["KX7Q2"]["trackingNumber"] == TRACKING

    def test_applying_it_twice_writes_once(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.SHIPPED, _fetch(http, credentials), tracking_number=TRACKING)
        first, second = _apply(http, credentials, update), _apply(http, credentials, update)
        assert (first.already, second.already) == (False, True)
        assert len(_puts(api)) == 1

    def test_the_tracking_number_already_on_the_order_counts_as_done(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.SHIPPED, _fetch(http, credentials), tracking_number="00340434161094027318")
        assert _apply(http, credentials, update).already is True
        assert _puts(api) == []

    def test_an_order_that_will_not_be_delivered_is_not_shipped(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.SHIPPED, _fetch(http, credentials, "KX7R9"), tracking_number=TRACKING)
        with pytest.raises(PlatformRejected, match="WILL_NOT_DELIVER"):
            _apply(http, credentials, update)
        assert _puts(api, r"/api/v3/31415926/orders/KX7R9") == []

    def test_needs_a_tracking_number(self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials) -> None:
        with pytest.raises(OrderInvalid, match="tracking number"):
            _apply(http, credentials, _update(UpdateKind.SHIPPED, _fetch(http, credentials)))


class TestCompletedAndProcessing:
    def test_completed_marks_the_order_delivered_once(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.COMPLETED, _fetch(http, credentials))
        first, second = _apply(http, credentials, update), _apply(http, credentials, update)
        assert (first.done, first.already, second.already) == (True, False, True)
        assert _puts(api) == [{"fulfillmentStatus": "DELIVERED"}]

    def test_processing_moves_only_an_order_awaiting_processing(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        assert _apply(http, credentials, _update(UpdateKind.PROCESSING, order)).already is True  # already SHIPPED
        store.orders["KX7Q2"]["fulfillmentStatus"] = "AWAITING_PROCESSING"
        assert _apply(http, credentials, _update(UpdateKind.PROCESSING, order)).already is False
        assert _apply(http, credentials, _update(UpdateKind.PROCESSING, order)).already is True
        assert _puts(api) == [{"fulfillmentStatus": "PROCESSING"}]


class TestCancelled:
    def test_a_paid_order_will_not_be_delivered_and_keeps_its_payment_status(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.CANCELLED, _fetch(http, credentials))
        first, second = _apply(http, credentials, update), _apply(http, credentials, update)
        assert (first.already, second.already) == (False, True)
        assert _puts(api) == [{"fulfillmentStatus": "WILL_NOT_DELIVER"}]
        assert store.orders["KX7Q2"]["paymentStatus"] == "PARTIALLY_REFUNDED"

    def test_an_unpaid_order_is_also_labelled_cancelled(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"].update(paymentStatus="AWAITING_PAYMENT", fulfillmentStatus="AWAITING_PROCESSING")
        _apply(http, credentials, _update(UpdateKind.CANCELLED, _fetch(http, credentials)))
        assert _puts(api) == [{"fulfillmentStatus": "WILL_NOT_DELIVER", "paymentStatus": "CANCELLED"}]

    def test_an_order_cancelled_in_ecwid_is_already_cancelled(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        assert _apply(http, credentials, _update(UpdateKind.CANCELLED, _fetch(http, credentials, "KX7R9"))).already
        assert api.received("PUT") == []


class TestRefunded:
    def test_records_the_refund_as_a_label_and_a_marked_note(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.REFUNDED, _fetch(http, credentials), amount=eur("14.50"), reason="broken handle")
        result = _apply(http, credentials, update)
        assert (result.done, result.already) == (True, False)
        [body] = _puts(api)
        assert body["paymentStatus"] == "PARTIALLY_REFUNDED"  # 17.26 + 14.50 of 126.02
        assert "14.50 EUR" in body["privateAdminNotes"] and f"[{update.key}]" in body["privateAdminNotes"]
        assert "payment provider" in body["privateAdminNotes"]
        assert set(body) == {"paymentStatus", "privateAdminNotes"}  # never items: Ecwid would replace them

    def test_applying_it_twice_writes_once(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        update = _update(UpdateKind.REFUNDED, _fetch(http, credentials), amount=eur("14.50"))
        first, second = _apply(http, credentials, update), _apply(http, credentials, update)
        assert (first.already, second.already) == (False, True)
        assert len(_puts(api)) == 1

    def test_keeps_the_notes_already_on_the_order(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"]["privateAdminNotes"] = "Kundin rief an."
        _apply(http, credentials, _update(UpdateKind.REFUNDED, _fetch(http, credentials), amount=eur("1.00")))
        assert store.orders["KX7Q2"]["privateAdminNotes"].startswith("Kundin rief an.\nRefund of 1.00 EUR")

    def test_the_rest_of_the_total_is_a_full_refund(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        _apply(http, credentials, _update(UpdateKind.REFUNDED, _fetch(http, credentials), amount=eur("108.76")))
        assert _puts(api)[0]["paymentStatus"] == "REFUNDED"

    @pytest.mark.parametrize("amount", [None, Money.parse("0", "EUR"), Money.parse("5", "USD")])
    def test_needs_a_positive_amount_in_the_order_currency(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials, amount: Money | None
    ) -> None:
        with pytest.raises(OrderInvalid):
            _apply(http, credentials, _update(UpdateKind.REFUNDED, _fetch(http, credentials), amount=amount))


class TestReturned:
    def test_a_resolved_return_is_one_marked_line_in_the_private_notes(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        store.orders["KX7Q2"]["privateAdminNotes"] = "Kundin rief an."
        update = _update(
            UpdateKind.RETURNED, _fetch(http, credentials), reason="replaced by order KX7Q2-R1", reference="x:KX7Q2:R1"
        )
        first, second = _apply(http, credentials, update), _apply(http, credentials, update)
        assert (first.already, second.already) == (False, True)
        [body] = _puts(api)
        assert body == {"privateAdminNotes": f"Kundin rief an.\nreplaced by order KX7Q2-R1 [{update.key}]"}

    def test_the_whole_order_back_is_labelled_returned(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials).model_copy(update={"status": OrderStatus.RETURNED})
        _apply(http, credentials, _update(UpdateKind.RETURNED, order, reference="x:KX7Q2:R1"))
        assert _puts(api)[0]["fulfillmentStatus"] == "RETURNED"

    def test_two_returns_of_the_same_amount_are_two_refund_notes(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        for reference in ("x:KX7Q2:R1", "x:KX7Q2:R2"):
            update = _update(UpdateKind.REFUNDED, order, amount=eur("5.00"), reference=reference)
            assert _apply(http, credentials, update).already is False
        assert len(_puts(api)) == 2


class TestWriteBackFaults:
    def test_a_429_on_the_update_then_success_writes_once(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials, sleeps: Sleeps
    ) -> None:
        api.fail_next("PUT", store.order_route, Fault(429, retry_after="1"))
        update = _update(UpdateKind.SHIPPED, _fetch(http, credentials), tracking_number=TRACKING)
        assert _apply(http, credentials, update).done
        assert sleeps[0] >= 1.0
        assert len(api.received("PUT", ORDER_PATH)) == 2 and len(store.writes) == 1

    def test_a_slow_answer_beyond_the_timeout_is_transient(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        order = _fetch(http, credentials)
        api.fail_next("PUT", store.order_route, Fault.slow(1.5))
        with pytest.raises(TransientError):
            EcwidWriteBack(HttpClient(timeout=0.3, attempts=1)).apply(
                STORE, credentials, _update(UpdateKind.COMPLETED, order)
            )

    def test_a_wrong_token_is_rejected(self, api: StubApi, store: EcwidStore, http: HttpClient) -> None:
        good = StoreCredentials(
            webhook_secret="x", api_base_url=api.url, api_token=API_TOKEN, extra={"currency": "EUR"}
        )
        order = _fetch(http, good)
        wrong = good.model_copy(update={"api_token": "secret_wrong"})
        with pytest.raises(PlatformRejected) as caught:
            _apply(http, wrong, _update(UpdateKind.COMPLETED, order))
        assert caught.value.status == 401

    def test_an_order_ecwid_does_not_know_is_rejected(
        self, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        unknown = _fetch(http, credentials).model_copy(update={"external_id": "GONE1"})
        with pytest.raises(PlatformRejected) as caught:
            _apply(http, credentials, _update(UpdateKind.COMPLETED, unknown))
        assert caught.value.status == 404


class TestPartialShipment:
    def test_a_short_shipment_is_shipped_with_what_is_missing_in_the_private_notes(
        self, api: StubApi, store: EcwidStore, http: HttpClient, credentials: StoreCredentials
    ) -> None:
        # Ecwid's fulfillment status is the order's, with no per-item shipment: the shortfall goes in the notes.
        order = _fetch(http, credentials).model_copy(update={"short": {"TORCH-CB-01": 1}})
        update = _update(UpdateKind.SHIPPED, order, carrier="DHL", tracking_number=TRACKING)

        _apply(http, credentials, update)
        again = _apply(http, credentials, update)

        notes = store.orders["KX7Q2"]["privateAdminNotes"]
        assert "Partial shipment:" in notes and "not shipped: 1 x" in notes and "(TORCH-CB-01)" in notes
        assert notes.count(update.key) == 1 and again.already
        assert store.orders["KX7Q2"]["trackingNumber"] == TRACKING
