"""HttpClient over real sockets: what it retries, what it resends, and what it gives back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fulfillment.adapters.http_client import HttpClient, parse_retry_after
from fulfillment.errors import PlatformRejected, TransientError
from local.stub_api import Fault, StubApi


@pytest.fixture
def api() -> Iterator[StubApi]:
    with StubApi() as stub:
        stub.route("GET", r"/things/\d+", (200, {"ok": True}))
        stub.route("POST", r"/things", (201, {"id": 1}))
        yield stub


def client() -> HttpClient:
    return HttpClient(timeout=1.0, attempts=3, base_delay=0.01, sleep=lambda _: None)


class TestRetries:
    def test_a_read_is_retried_after_server_errors(self, api: StubApi) -> None:
        api.fail_next("GET", r"/things/\d+", Fault(500), Fault(503))

        assert client().request("GET", f"{api.url}/things/1").json() == {"ok": True}
        assert len(api.received("GET")) == 3

    def test_a_create_is_not_resent_after_a_server_error(self, api: StubApi) -> None:
        api.fail_next("POST", r"/things", Fault(500))

        with pytest.raises(TransientError):
            client().request("POST", f"{api.url}/things", json_body={"a": 1})
        assert len(api.received("POST")) == 1  # the caller looks before writing again

    def test_a_create_is_resent_after_429_because_it_was_not_processed(self, api: StubApi) -> None:
        api.fail_next("POST", r"/things", Fault(429, retry_after="0"))

        assert client().request("POST", f"{api.url}/things", json_body={"a": 1}).status == 201
        assert len(api.received("POST")) == 2

    def test_a_retry_after_longer_than_we_may_wait_is_handed_back(self, api: StubApi) -> None:
        api.fail_next("GET", r"/things/\d+", Fault(429, retry_after="120"))

        with pytest.raises(TransientError) as raised:
            client().request("GET", f"{api.url}/things/1")
        assert raised.value.retry_after == 120
        assert len(api.received("GET")) == 1

    def test_a_slow_answer_is_a_timeout(self, api: StubApi) -> None:
        api.fail_next("GET", r"/things/\d+", Fault.slow(2), Fault.slow(2), Fault.slow(2))

        with pytest.raises(TransientError, match="timed out"):
            HttpClient(timeout=0.3, attempts=1).request("GET", f"{api.url}/things/1")

    def test_other_client_errors_are_final(self, api: StubApi) -> None:
        with pytest.raises(PlatformRejected) as raised:
            client().request("GET", f"{api.url}/nothing")
        assert raised.value.status == 404


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None
