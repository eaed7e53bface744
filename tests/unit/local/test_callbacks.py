"""Simulator callbacks (``local/callbacks.py``) are retried as partners retry: after a timeout, a 5xx or a refused
connection, with backoff, signed afresh each time, and never forever."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.callbacks import post_callback, timestamped_hmac
from local.runtime import free_ports

SECRET = "callback-secret"


class Partner:
    """Our API as a scripted server: each request gets the next answer ("hang" never answers in time)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.hung = threading.Event()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                partner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = partner.answers[min(len(partner.requests), len(partner.answers)) - 1]
                if answer == "hang":
                    partner.hung.wait(30)  # released at teardown; the client gave up long before
                    return
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/carriers/sim/tracking"

    def close(self) -> None:
        self.hung.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def partner(request: pytest.FixtureRequest) -> Iterator[Partner]:
    server = Partner(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("partner", [["hang", "503", "202"]], indirect=True)
def test_a_callback_is_retried_after_a_timeout_and_a_5xx_until_it_is_taken(partner: Partner) -> None:
    delays: list[float] = []

    code = post_callback(
        partner.url, {"event_id": "e1"}, timestamped_hmac(SECRET, "Carrier"), timeout=0.5, sleep=delays.append
    )

    assert code == 202
    assert len(partner.requests) == 3
    assert delays == [0.2, 0.4]  # exponential backoff
    for headers, body in partner.requests:  # each attempt signed, over its own timestamp
        signed = headers["x-carrier-timestamp"].encode() + b"." + body
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["x-carrier-signature"] == f"sha256={expected}"


@pytest.mark.parametrize("partner", [["400"]], indirect=True)
def test_a_refusal_is_not_retried(partner: Partner) -> None:
    assert post_callback(partner.url, {"event_id": "e2"}, sleep=lambda _: None) == 400
    assert len(partner.requests) == 1


def test_retries_are_bounded_when_nothing_answers() -> None:
    (port,) = free_ports(1)  # nothing listens there: every attempt is refused
    delays: list[float] = []

    code = post_callback(f"http://127.0.0.1:{port}/x", {}, attempts=4, max_delay=0.5, sleep=delays.append)

    assert code == 0
    assert delays == [0.2, 0.4, 0.5]  # capped, and no sleep after the last attempt
