"""Thin deliveries when the platform's API is down: acknowledged anyway, never lost, replayable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from local.client import post
from local.deliveries import sign
from local.platforms import EVENTS, sample_headers
from local.runtime import LocalRuntime
from local.stub_api import Fault

pytestmark = pytest.mark.e2e

ORDER_ROUTE = rf"/stores/{re.escape('k3h9x2ab7q')}/v2/orders/(\d+)"
CANCELLED_SAMPLE = "bigcommerce/06_store_order_statusUpdated_cancelled.json"


@pytest.fixture
def bigcommerce_down(runtime: LocalRuntime) -> Iterator[None]:
    api = runtime.platform_apis["bigcommerce"]
    api.fail_next("GET", ORDER_ROUTE, *[Fault(503)] * 500)
    yield
    api.clear_faults()


def dead_letters(runtime: LocalRuntime, verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.cli",
            "--endpoint-url",
            runtime.aws_endpoint,
            "--output",
            "json",
            "dead-letters",
            verb,
            "--queue",
            "fetch",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_delivery_accepted_while_the_api_is_down_ends_in_the_dead_letter_queue_and_replays(
    runtime: LocalRuntime, bigcommerce_down: None
) -> None:
    sample = EVENTS / CANCELLED_SAMPLE
    delivery = sign("bigcommerce", sample.read_bytes(), sample_headers(sample), "test-secret")

    answer = post(f"{runtime.api_url}/webhooks/bigcommerce/kaffee-bc", delivery.body, delivery.headers)

    # Acknowledged without waiting for the platform: the fetch happens after the answer.
    assert (answer.status, answer.body["outcome"], answer.body["order_key"]) == (202, "queued", "kaffee-bc:1188")
    deadline = time.monotonic() + 120
    letters: list[dict[str, object]] = []
    while time.monotonic() < deadline and not letters:
        time.sleep(2)
        letters = json.loads(dead_letters(runtime, "list").stdout or "[]")
    assert [letter["body"]["external_order_id"] for letter in letters] == ["1188"]  # type: ignore[index]
    assert container().orders.get("kaffee-bc:1188") is None

    runtime.platform_apis["bigcommerce"].clear_faults()
    replayed = dead_letters(runtime, "replay")

    assert json.loads(replayed.stdout) == {"queue": "fetch", "replayed": 1}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and container().orders.get("kaffee-bc:1188") is None:
        time.sleep(0.5)
    order = container().orders.get("kaffee-bc:1188")
    assert order is not None and order.status is OrderStatus.CANCELLED  # sample 06 is a cancelled order


def test_an_ecwid_delivery_retried_20_minutes_after_its_event_is_accepted_once(runtime: LocalRuntime) -> None:
    # Ecwid resends an undelivered webhook after 15, 30, 45 min, … for 24 h, each time with the original
    # eventCreated (docs.ecwid.com, "How to process webhooks"): the retry verifies, its repeat is a duplicate.
    sample = EVENTS / "ecwid/02_order_updated_paid.json"
    body = sample.read_bytes().replace(b"109a3e69-2658-582a-8b2b-e6bdc40de205", b"e2e-ecwid-retry-20-min")
    retry = sign("ecwid", body, sample_headers(sample), "test-secret", now=time.time() - 20 * 60)
    url = f"{runtime.api_url}/webhooks/ecwid/kaffee-ecwid"

    first, again = post(url, retry.body, retry.headers), post(url, retry.body, retry.headers)

    assert (first.status, first.body["outcome"], first.body.get("duplicate", False)) == (202, "queued", False)
    assert (again.status, again.body.get("duplicate")) == (202, True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and container().orders.get("kaffee-ecwid:KX7Q2") is None:
        time.sleep(0.5)
    assert container().orders.get("kaffee-ecwid:KX7Q2") is not None
