"""The logs of a whole order, from webhook to write-back, carry no personal data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from fulfillment.model import fulfillment_execution_name
from local.client import send_woocommerce
from local.runtime import LocalRuntime
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e

# The sample order's customer, as WooCommerce sends it.
PERSONAL = [
    "Zoë",
    "Ångström",
    "zoe.angstrom@example.com",
    "+49 30 12345678",
    "Karl-Marx-Allee",
    "Straße des 17. Juni",
    "10243",
    "Hinterhaus",
]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured(runtime: LocalRuntime, woo_paid_body: bytes) -> Iterator[Capture]:
    # Warm the functions up so their Powertools loggers exist, then listen with their own formatter.
    body, _ = new_order_body(woo_paid_body)
    send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret")
    service = logging.getLogger("fulfillment")
    capture = Capture()
    capture.setFormatter(service.handlers[0].formatter)
    previous = service.level
    service.addHandler(capture)
    service.setLevel(logging.DEBUG)  # the most a log line could ever say
    yield capture
    service.removeHandler(capture)
    service.setLevel(previous)


def test_a_full_order_logs_no_personal_data(runtime: LocalRuntime, woo_paid_body: bytes, captured: Capture) -> None:
    body, key = new_order_body(woo_paid_body)

    send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret")
    store_id, external_id = key.split(":", 1)
    assert runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=150)["status"] == (
        "SUCCEEDED"
    )
    # Every step that returns the order logs "step done" before it returns, so all are in by now; each line names
    # its own function and this order's key (in-process invocations run concurrently; their contexts never mix).
    own = [json.loads(line) for line in captured.lines if f'"correlation_id":"{key}"' in line]
    assert {line["function_name"] for line in own} >= {
        "ReserveInventoryFunction",
        "PackageOrderFunction",
        "ShipOrderFunction",
        "CompletePaymentFunction",
        "CompleteOrderFunction",
    }, "every step logs its outcome"
    assert all(line["order_key"] == key for line in own if "order_key" in line)
    text = "\n".join(captured.lines)
    assert [word for word in PERSONAL if word in text] == []
