"""Every platform end to end: a signed 'order paid' delivery over HTTP → Completed, and the store told.

Thin deliveries (BigCommerce, Ecwid) are acknowledged at once and fetched from the platform's stub
API by the fetch worker; every store's stub then receives the shipment (with the carrier's tracking
number) and the completion from the write-back worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from local.client import post
from local.deliveries import PAID_SAMPLES, paid_delivery
from local.runtime import LocalRuntime
from local.stub_api import StubRequest

pytestmark = pytest.mark.e2e

STORES = {
    "woocommerce": "kaffeekontor",
    "bigcommerce": "kaffee-bc",
    "ecwid": "kaffee-ecwid",
    "magento": "kaffee-magento",
    "opencart": "torrefaction-lyon",
    "shopify": "kaffee-shopify",
}
Check = Callable[[StubRequest, str], bool]


def _form(request: StubRequest) -> dict[str, list[str]]:
    return parse_qs(request.body.decode(errors="replace"))


def _opencart_history(status: str) -> Check:
    return lambda request, _: (
        request.query.get("route") == "api/sale/order.addHistory" and _form(request).get("order_status_id") == [status]
    )


# What each store's API must have received: (the shipment, with the tracking number; the completion).
WRITE_BACKS: dict[str, tuple[Check, Check]] = {
    "woocommerce": (
        lambda r, tracking: (
            r.method == "POST" and r.path.endswith("/shipment-trackings") and tracking in r.body.decode()
        ),
        lambda r, _: r.method == "PUT" and r.path == "/wp-json/wc/v3/orders/4711" and b'"completed"' in r.body,
    ),
    "bigcommerce": (
        lambda r, tracking: (
            r.method == "POST" and r.path.endswith("/v2/orders/1187/shipments") and tracking in r.body.decode()
        ),
        lambda r, _: r.method == "PUT" and r.path.endswith("/v2/orders/1187") and b"10" in r.body,
    ),
    "ecwid": (
        lambda r, tracking: r.method == "PUT" and b"SHIPPED" in r.body and tracking in r.body.decode(),
        lambda r, _: r.method == "PUT" and b"DELIVERED" in r.body,
    ),
    "magento": (
        lambda r, tracking: r.method == "POST" and r.path == "/rest/V1/order/318/ship" and tracking in r.body.decode(),
        lambda r, _: r.method == "POST" and r.path == "/rest/V1/orders/318/comments" and b"completed" in r.body,
    ),
    "opencart": (_opencart_history("3"), _opencart_history("5")),
    "shopify": (
        lambda r, tracking: b"fulfillmentCreate" in r.body and tracking in r.body.decode(),
        lambda r, _: b"tagsAdd" in r.body,
    ),
}


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.mark.parametrize("platform", sorted(PAID_SAMPLES))
def test_a_paid_order_from_every_platform_completes_and_the_store_is_told(runtime: LocalRuntime, platform: str) -> None:
    delivery = paid_delivery(platform)

    answer = post(f"{runtime.api_url}/webhooks/{platform}/{STORES[platform]}", delivery.body, delivery.headers)

    assert answer.status == 202, answer.body
    key = str(answer.body["order_key"])
    store_id, external_id = key.split(":", 1)
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=90)
    assert execution["status"] == "SUCCEEDED", execution
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED
    assert order.tracking_number
    shipped, completed = WRITE_BACKS[platform]
    stub = runtime.platform_apis[platform]
    assert _eventually(lambda: any(shipped(r, order.tracking_number or "") for r in stub.received())), (
        f"{platform}: no shipment write-back; got {[(r.method, r.path) for r in stub.received()]}"
    )
    assert _eventually(lambda: any(completed(r, "") for r in stub.received())), (
        f"{platform}: no completion write-back; got {[(r.method, r.path) for r in stub.received()]}"
    )


@pytest.mark.parametrize("platform", sorted(PAID_SAMPLES))
def test_a_forged_or_replayed_delivery_is_refused_and_changes_nothing(runtime: LocalRuntime, platform: str) -> None:
    forged = paid_delivery(platform, secret="not-the-store-secret")
    stale = paid_delivery(platform, now=time.time() - 3600)
    before = runtime.client("dynamodb").scan(TableName="FulfillmentTable", Select="COUNT")["Count"]

    refused = post(f"{runtime.api_url}/webhooks/{platform}/{STORES[platform]}", forged.body, forged.headers)
    assert refused.status == 401, refused.body
    if platform in {"bigcommerce", "ecwid", "opencart"}:  # the schemes that sign a timestamp
        replayed = post(f"{runtime.api_url}/webhooks/{platform}/{STORES[platform]}", stale.body, stale.headers)
        assert replayed.status == 401, replayed.body

    after = runtime.client("dynamodb").scan(TableName="FulfillmentTable", Select="COUNT")["Count"]
    assert after == before
