"""OpenCart write-back over real HTTP against the stub shop (local/stubs/opencart.py): history entries, once each."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.opencart import HISTORY_ROUTE, OpenCartInbound, build
from fulfillment.errors import OrderInvalid, PlatformRejected, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackResult
from local.stub_api import Fault, StubApi, StubRequest
from local.stubs.opencart import API_KEY, API_USERNAME, SHOP_URL, OpenCartShop

EVENTS = Path(__file__).resolve().parents[2] / "events" / "opencart"
ENTRY = r"/index\.php"
TRACKING = "6A12345678901"
TRACKING_URL = f"https://www.laposte.fr/outils/suivre-vos-envois?code={TRACKING}"
STORE = Store(
    store_id="torrefaction-lyon",
    platform="opencart",
    secret_ref="/fulfillment/test/stores/torrefaction-lyon/webhook-secret",
    site_url=SHOP_URL,
)


RELEASES = ["4.0.2.3", "4.1.0.4"]  # the two release lines: session API, and 4.1's signed one


@pytest.fixture(params=RELEASES)
def shop(request: pytest.FixtureRequest) -> OpenCartShop:
    return OpenCartShop(version=str(request.param))


@pytest.fixture
def api(shop: OpenCartShop) -> Iterator[StubApi]:
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
def credentials(api: StubApi, shop: OpenCartShop) -> StoreCredentials:
    return StoreCredentials(
        webhook_secret="test-secret",
        api_base_url=api.url,
        api_key=API_USERNAME,
        api_secret=API_KEY,
        extra={"opencart_version": shop.version},
    )


@pytest.fixture
def order() -> Order:
    """Order 1207 as the paid delivery (sample 02) carried it."""
    body = (EVENTS / "02_order_status_processing_paid.json").read_bytes()
    read = OpenCartInbound().read(WebhookRequest(body=body), STORE).order
    assert read is not None
    return read


def _apply(http: HttpClient, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult:
    write_back = build(http).write_back
    assert write_back is not None
    return write_back.apply(STORE, credentials, update)


def _route(request: StubRequest) -> str:
    return request.query.get("route", "")


def _calls(api: StubApi, route: str) -> list[StubRequest]:
    return [request for request in api.received() if _route(request) == route]


def _adds(api: StubApi) -> list[StubRequest]:
    """The history additions, as either release names them (4.0.2.x api/sale/order.addHistory; 4.1 api/order
    with call=history_add)."""
    return [
        request
        for request in api.received()
        if _route(request) == "api/sale/order.addHistory"
        or (_route(request) == "api/order" and request.query.get("call") == "history_add")
    ]


def _form(request: StubRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode(), keep_blank_values=True))


def _shipped(order: Order) -> StoreUpdate:
    return StoreUpdate(
        kind=UpdateKind.SHIPPED, order=order, carrier="Colissimo", tracking_number=TRACKING, tracking_url=TRACKING_URL
    )


def _history(shop: OpenCartShop) -> list[dict[str, Any]]:
    return shop.histories[1207]


class TestTheConversation:
    def test_it_logs_in_with_the_api_user_reads_the_history_then_adds_to_it(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        if shop.signed_api:
            pytest.skip("4.0.2.x only: 4.1 has no api/account/login (test_on_4_1_every_request_is_signed)")
        _apply(http, credentials, _shipped(order))
        login, history, add = api.received()
        assert (login.method, _route(login)) == ("POST", "api/account/login")
        assert login.headers["content-type"] == "application/x-www-form-urlencoded"
        assert _form(login) == {"username": API_USERNAME, "key": API_KEY}
        assert (history.method, _route(history), history.query["order_id"]) == ("GET", HISTORY_ROUTE, "1207")
        assert (add.method, _route(add)) == ("POST", "api/sale/order.addHistory")
        assert history.query["api_token"] == add.query["api_token"] == "stub-session-0001"

    def test_on_4_1_every_request_is_signed_and_history_is_added_through_api_order(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        if not shop.signed_api:
            pytest.skip("4.1 only")
        _apply(http, credentials, _shipped(order))
        history, add = api.received()
        assert (history.method, _route(history), history.query["call"]) == ("GET", HISTORY_ROUTE, "history")
        assert (add.method, _route(add), add.query["call"]) == ("POST", "api/order", "history_add")
        for request in (history, add):
            assert {"username", "store_id", "language", "currency", "time", "signature"} <= set(request.query)
        assert add.query["currency"] == "EUR" and _form(add)["order_status_id"] == "3"

    def test_on_4_1_the_session_api_is_gone(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        if not shop.signed_api:
            pytest.skip("4.1 only")
        as_40 = credentials.model_copy(update={"extra": {"opencart_version": "4.0.2.3"}})
        with pytest.raises(PlatformRejected) as refused:
            _apply(http, as_40, _shipped(order))  # a shop upgraded to 4.1 but registered as 4.0.2
        assert refused.value.status == 403 and _adds(api) == []

    def test_on_4_1_a_wrong_key_makes_a_signature_the_shop_refuses(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        if not shop.signed_api:
            pytest.skip("4.1 only")
        with pytest.raises(PlatformRejected):
            _apply(http, credentials.model_copy(update={"api_secret": "not-the-key"}), _shipped(order))
        assert _adds(api) == []

    def test_the_shop_url_is_the_stores_site_url_without_an_api_base_url(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        store = STORE.model_copy(update={"site_url": f"{api.url}/"})
        write_back = build(http).write_back
        assert write_back is not None
        result = write_back.apply(store, credentials.model_copy(update={"api_base_url": None}), _shipped(order))
        assert result.done
        assert api.received("POST", ENTRY)

    def test_without_api_credentials_nothing_is_sent(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(PlatformRejected, match="api_key"):
            _apply(http, credentials.model_copy(update={"api_secret": None}), _shipped(order))
        assert api.received() == []


class TestShipped:
    def test_a_shipment_is_status_3_with_the_tracking_in_a_comment_the_customer_is_sent(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = _shipped(order)
        assert _apply(http, credentials, update) == WriteBackResult(done=True)
        (add,) = _adds(api)
        form = _form(add)
        assert form == {
            "order_id": "1207",
            "order_status_id": "3",
            "comment": f"Shipped with Colissimo, tracking number {TRACKING} {TRACKING_URL} (ref: {update.key})",
            "notify": "1",
            "override": "0",
        }
        assert shop.orders[1207]["order_status_id"] == "3"

    def test_shipping_twice_adds_one_entry_and_the_second_is_already_there(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        first = _apply(http, credentials, _shipped(order))
        second = _apply(http, credentials, _shipped(order))
        assert (first.already, second.already) == (False, True)
        assert second.reference == str(_history(shop)[-1]["order_history_id"])
        assert len(_adds(api)) == 1
        assert len(shop.writes) == 1

    def test_another_tracking_number_is_another_entry(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        _apply(http, credentials, _shipped(order))
        second = _shipped(order).model_copy(update={"tracking_number": "6A99999999999"})
        assert not _apply(http, credentials, second).already
        assert len(_adds(api)) == 2

    def test_a_shipment_without_a_tracking_number_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(OrderInvalid, match="tracking number"):
            _apply(http, credentials, StoreUpdate(kind=UpdateKind.SHIPPED, order=order, carrier="Colissimo"))
        assert api.received() == []

    def test_a_merchant_can_name_its_own_shipped_status(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        custom = credentials.model_copy(update={"extra": credentials.extra | {"shipped_status_id": "18"}})
        _apply(http, custom, _shipped(order))
        (add,) = _adds(api)
        assert _form(add)["order_status_id"] == "18"


class TestStatusChanges:
    @pytest.mark.parametrize(
        ("kind", "status_id", "comment"),
        [
            (UpdateKind.COMPLETED, "5", "Delivered and completed"),
            (UpdateKind.CANCELLED, "7", "Out of stock"),
        ],
    )
    def test_each_kind_sets_its_status_once(
        self,
        api: StubApi,
        shop: OpenCartShop,
        http: HttpClient,
        credentials: StoreCredentials,
        order: Order,
        kind: UpdateKind,
        status_id: str,
        comment: str,
    ) -> None:
        update = StoreUpdate(kind=kind, order=order, reason="Out of stock")
        assert not _apply(http, credentials, update).already
        assert _apply(http, credentials, update).already
        (add,) = _adds(api)
        assert _form(add) == {
            "order_id": "1207",
            "order_status_id": status_id,
            "comment": f"{comment} (ref: {update.key})",
            "notify": "0",
            "override": "0",
        }
        assert shop.orders[1207]["order_status_id"] == status_id

    def test_an_entry_with_the_marker_but_another_status_does_not_count(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.COMPLETED, order=order)
        _history(shop).append(
            {"order_history_id": 1, "order_status_id": 2, "notify": 0, "comment": f"(ref: {update.key})"}
        )
        assert not _apply(http, credentials, update).already
        assert len(_adds(api)) == 1


class TestRefunded:
    def test_a_whole_refund_is_status_11_once(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, reason="Returned")
        assert not _apply(http, credentials, update).already
        assert _apply(http, credentials, update).already
        (add,) = _adds(api)
        assert _form(add)["order_status_id"] == "11"
        assert _form(add)["comment"] == f"Returned: 126.00 EUR (ref: {update.key})"
        assert shop.orders[1207]["order_status_id"] == "11"

    def test_a_part_refund_is_a_comment_that_keeps_the_status(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("17.26", "EUR"))
        _apply(http, credentials, update)
        (add,) = _adds(api)
        assert _form(add)["order_status_id"] == "2"
        assert _form(add)["comment"] == f"Refunded: 17.26 EUR (ref: {update.key})"
        assert shop.orders[1207]["order_status_id"] == "2"

    def test_a_part_refund_recorded_before_a_status_change_is_still_found(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("17.26", "EUR"))
        _apply(http, credentials, update)
        _apply(http, credentials, _shipped(order))
        assert _apply(http, credentials, update).already
        assert len(_adds(api)) == 2

    def test_a_refund_in_another_currency_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("17.26", "USD"))
        with pytest.raises(OrderInvalid):
            _apply(http, credentials, update)
        assert api.received() == []


class TestProcessing:
    def test_accepting_the_order_is_one_comment_at_the_current_status(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(kind=UpdateKind.PROCESSING, order=order)
        assert not _apply(http, credentials, update).already
        assert _apply(http, credentials, update).already
        (add,) = _adds(api)
        assert _form(add) == {
            "order_id": "1207",
            "order_status_id": "2",
            "comment": f"Accepted for fulfillment (ref: {update.key})",
            "notify": "0",
            "override": "0",
        }
        assert [entry["order_status_id"] for entry in _history(shop)] == [1, 2, 2]


class TestReturned:
    def test_a_resolved_return_is_one_comment_at_the_current_status(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        update = StoreUpdate(
            kind=UpdateKind.RETURNED, order=order, reason="refunded by the store", reference="oc:1207:R1"
        )
        assert not _apply(http, credentials, update).already
        assert _apply(http, credentials, update).already
        (add,) = _adds(api)
        assert (_form(add)["order_status_id"], _form(add)["comment"]) == (
            "2",
            f"refunded by the store (ref: {update.key})",
        )

    def test_two_returns_of_the_same_amount_are_two_refund_comments(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        for reference in ("oc:1207:R1", "oc:1207:R2"):
            update = StoreUpdate(
                kind=UpdateKind.REFUNDED, order=order, amount=Money.parse("5.00", "EUR"), reference=reference
            )
            assert not _apply(http, credentials, update).already
        assert len(_adds(api)) == 2


class TestRefusals:
    def test_a_wrong_api_key_is_rejected_with_opencarts_reason(
        self, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(PlatformRejected, match=r"Incorrect API Key|You do not have permission"):
            _apply(http, credentials.model_copy(update={"api_secret": "wrong"}), _shipped(order))

    def test_an_unknown_order_is_rejected(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        unknown = order.model_copy(update={"external_id": "9999"})
        with pytest.raises(PlatformRejected) as refused:
            _apply(http, credentials, _shipped(unknown))
        assert refused.value.status == 404
        assert _adds(api) == []

    def test_an_error_object_answered_with_200_is_rejected_with_its_text(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        refusal = {"error": {"warning": "Warning: You do not have permission to access the API!"}}
        api.route("POST", ENTRY, (200, refusal))
        with pytest.raises(PlatformRejected, match="You do not have permission"):
            _apply(http, credentials, _shipped(order))

    @pytest.mark.parametrize("status", [401, 403, 404])
    def test_a_refusing_http_status_is_rejected(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order, status: int
    ) -> None:
        api.fail_next("POST", ENTRY, Fault(status))
        with pytest.raises(PlatformRejected) as refused:
            _apply(http, credentials, _shipped(order))
        assert refused.value.status == status

    def test_an_answer_that_is_not_an_object_is_rejected(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", ENTRY, Fault(200, body="<html>Maintenance</html>"))
        with pytest.raises(PlatformRejected, match="not an object"):
            _apply(http, credentials, _shipped(order))

    def test_an_order_id_that_is_not_a_number_is_refused_before_any_call(
        self, api: StubApi, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        with pytest.raises(OrderInvalid):
            _apply(http, credentials, _shipped(order.model_copy(update={"external_id": "../1207"})))
        assert api.received() == []


class TestTransientFailures:
    @pytest.mark.parametrize(
        "faults",
        [
            {"POST": [Fault(429, retry_after="1")]},  # the login
            {"GET": [Fault(429, retry_after="1")]},  # the history read
            {"POST": [Fault.slow(0), Fault(429, retry_after="1")]},  # the write: a 429 says it was not processed
        ],
        ids=["login", "history", "write"],
    )
    def test_a_429_with_retry_after_is_waited_out_then_the_write_succeeds(
        self,
        api: StubApi,
        shop: OpenCartShop,
        http: HttpClient,
        credentials: StoreCredentials,
        order: Order,
        sleeps: list[float],
        faults: dict[str, list[Fault]],
    ) -> None:
        for method, scripted in faults.items():
            # 4.1 logs in with nothing: its first POST is the write
            skip = 1 if shop.signed_api and method == "POST" and len(scripted) > 1 else 0
            api.fail_next(method, ENTRY, *scripted[skip:])
        assert _apply(http, credentials, _shipped(order)).done
        assert sleeps == [1.0]
        assert len(shop.writes) == 1

    def test_a_server_error_on_the_write_ends_in_one_entry_however_the_apply_is_retried(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", ENTRY, Fault.slow(0), Fault(503))
        results = []
        for _ in range(3):  # the write-back worker retries the whole apply until it is done
            with suppress(TransientError):
                results.append(_apply(http, credentials, _shipped(order)))
        assert results[-1].already
        assert len(shop.writes) == 1

    def test_an_answer_slower_than_the_timeout_is_transient(
        self, api: StubApi, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("POST", ENTRY, Fault.slow(1.0))
        with pytest.raises(TransientError):
            _apply(HttpClient(timeout=0.2, attempts=1), credentials, _shipped(order))

    def test_server_errors_beyond_the_attempts_are_transient_and_write_nothing(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        api.fail_next("GET", ENTRY, Fault(503), Fault(503), Fault(503))
        with pytest.raises(TransientError):
            _apply(http, credentials, _shipped(order))
        assert shop.writes == []

    def test_a_retry_after_a_lost_answer_adds_nothing_new(
        self, api: StubApi, shop: OpenCartShop, credentials: StoreCredentials, order: Order
    ) -> None:
        # The login (4.0.2.x) answers at once; the history add lands only after the client has given up on it.
        api.fail_next("POST", ENTRY, *([] if shop.signed_api else [Fault.slow(0)]), Fault.slow(0.6))
        update = _shipped(order)
        with pytest.raises(TransientError):
            _apply(HttpClient(timeout=0.3, attempts=1), credentials, update)
        deadline = time.monotonic() + 5
        while not shop.writes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _apply(HttpClient(timeout=2.0), credentials, update).already
        assert len(shop.writes) == 1


class TestTheStub:
    def test_it_serves_the_history_the_sample_deliveries_announced(self, shop: OpenCartShop) -> None:
        deliveries = [
            json.loads((EVENTS / name).read_bytes())["args"]
            for name in ("01_order_confirmed_pending.json", "02_order_status_processing_paid.json")
        ]
        assert [(entry["order_status_id"], entry["comment"]) for entry in _history(shop)] == [
            (args["order_status_id"], args["comment"]) for args in deliveries
        ]


class TestPartialShipment:
    def test_a_short_shipment_is_shipped_with_what_is_missing_in_the_customers_comment(
        self, api: StubApi, shop: OpenCartShop, http: HttpClient, credentials: StoreCredentials, order: Order
    ) -> None:
        # OpenCart's history has no per-product shipment: status 3 with a comment naming what did not ship.
        first = order.lines[0]
        update = _shipped(order.model_copy(update={"short": {first.sku: first.quantity}}))

        _apply(http, credentials, update)
        again = _apply(http, credentials, update)

        (add,) = _adds(api)
        comment = _form(add)["comment"]
        assert _form(add)["order_status_id"] == "3" and _form(add)["notify"] == "1"
        assert f"not shipped: {first.quantity} x" in comment and f"({first.sku})" in comment
        assert again.already
