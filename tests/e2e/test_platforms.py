"""Every platform end to end: a signed 'order paid' delivery over HTTP → Completed, and the store told.

Thin deliveries (BigCommerce, Ecwid) are acknowledged at once and fetched from the platform's stub
API by the fetch worker; every store's stub then receives the shipment (with the carrier's tracking
number) and the completion from the write-back worker.
"""

from __future__ import annotations

import json
import time

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from local.client import post
from local.deliveries import paid_delivery, sign
from local.platforms import EVENTS, demo_store, platform_names, platform_spec, sample_headers
from local.runtime import LocalRuntime
from local.stubs import platform_stub
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("platform", platform_names())
def test_a_paid_order_from_every_platform_completes_and_the_store_is_told(runtime: LocalRuntime, platform: str) -> None:
    delivery = paid_delivery(platform)

    answer = post(f"{runtime.api_url}/webhooks/{platform}/{demo_store(platform)}", delivery.body, delivery.headers)

    assert answer.status == 202, answer.body
    key = str(answer.body["order_key"])
    store_id, external_id = key.split(":", 1)
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=90)
    assert execution["status"] == "SUCCEEDED", execution
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED
    assert order.tracking_number
    checks = platform_stub(platform)
    stub = runtime.platform_apis[platform]
    assert eventually(lambda: any(checks.wrote_shipment(r, order.tracking_number or "") for r in stub.received())), (
        f"{platform}: no shipment write-back; got {[(r.method, r.path) for r in stub.received()]}"
    )
    assert eventually(lambda: any(checks.wrote_completion(r) for r in stub.received())), (
        f"{platform}: no completion write-back; got {[(r.method, r.path) for r in stub.received()]}"
    )


@pytest.mark.parametrize("platform", platform_names())
def test_a_forged_or_replayed_delivery_is_refused_and_changes_nothing(runtime: LocalRuntime, platform: str) -> None:
    forged = paid_delivery(platform, secret="not-the-store-secret")
    stale = paid_delivery(platform, now=time.time() - platform_spec(platform).max_age_seconds - 3600)
    before = runtime.client("dynamodb").scan(TableName="FulfillmentTable", Select="COUNT")["Count"]

    refused = post(f"{runtime.api_url}/webhooks/{platform}/{demo_store(platform)}", forged.body, forged.headers)
    assert refused.status == 401, refused.body
    if platform_spec(platform).signs_timestamp:
        replayed = post(f"{runtime.api_url}/webhooks/{platform}/{demo_store(platform)}", stale.body, stale.headers)
        assert replayed.status == 401, replayed.body

    after = runtime.client("dynamodb").scan(TableName="FulfillmentTable", Select="COUNT")["Count"]
    assert after == before


def test_a_magento_order_authorized_but_not_invoiced_is_recorded_and_not_fulfilled(runtime: LocalRuntime) -> None:
    # An authorize-only payment method places the order in state processing with everything still due: paid means
    # nothing left due (total_due), so it waits for its invoice instead of starting fulfillment.
    sample = EVENTS / "magento" / "mageos_02_sales.order.updated_invoiced.json"
    delivery = json.loads(sample.read_bytes())
    delivery["data"].update(entity_id=9318, increment_id="000009318", total_paid=None, base_total_paid=None)
    delivery["data"].update(total_due=107.94, base_total_due=107.94, total_invoiced=None, base_total_invoiced=None)
    signed = sign("magento", json.dumps(delivery).encode(), sample_headers(sample), "test-secret")

    answer = post(f"{runtime.api_url}/webhooks/magento/{demo_store('magento')}", signed.body, signed.headers)

    assert (answer.status, answer.body["status"], answer.body.get("fulfillment_started")) == (
        202,
        "PENDING_PAYMENT",
        False,
    ), answer.body
    order = container().orders.get(str(answer.body["order_key"]))
    assert order is not None and not order.paid and order.status is OrderStatus.PENDING_PAYMENT


def test_a_shopify_order_at_two_locations_is_fulfilled_as_two_fulfillments(runtime: LocalRuntime) -> None:
    # Shopify splits an order into one fulfillment order per location; fulfillmentCreate takes one location's.
    sample = EVENTS / "shopify" / "02_orders_paid.json"
    rest = json.loads(sample.read_bytes())
    rest.update(id=6154876990001, admin_graphql_api_id="gid://shopify/Order/6154876990001", name="#2001")
    rest["line_items"][2]["origin_location"] = {"id": 2}  # the torch waits at the second warehouse
    stub = runtime.platform_apis["shopify"]
    seeded = post(f"{stub.url}/_stub/orders/6154876990001.json", json.dumps(rest).encode(), {}, method="PUT")
    assert seeded.status == 200
    headers = sample_headers(sample) | {"X-Shopify-Event-Id": "e2e-two-locations", "X-Shopify-Webhook-Id": "e2e-2"}
    signed = sign("shopify", json.dumps(rest).encode(), headers, "test-secret")

    answer = post(f"{runtime.api_url}/webhooks/shopify/{demo_store('shopify')}", signed.body, signed.headers)

    assert answer.status == 202, answer.body
    execution = runtime.wait_for_execution(fulfillment_execution_name(demo_store("shopify"), "6154876990001"), 90)
    assert execution["status"] == "SUCCEEDED", execution

    def fulfilled() -> list[list[str]]:
        calls = [json.loads(r.body) for r in stub.received("POST") if b"mutation FulfillmentCreate" in r.body]
        return [
            [pair["fulfillmentOrderId"] for pair in call["variables"]["fulfillment"]["lineItemsByFulfillmentOrder"]]
            for call in calls
            if "6154876990001" in json.dumps(call["variables"])
        ]

    assert eventually(lambda: len(fulfilled()) == 2), fulfilled()
    assert sorted(fulfilled()) == [
        ["gid://shopify/FulfillmentOrder/615487699000100"],
        ["gid://shopify/FulfillmentOrder/615487699000101"],
    ]


def test_a_bigcommerce_order_to_two_addresses_ships_as_two_shipments_with_their_own_items(
    runtime: LocalRuntime,
) -> None:
    # Order 1190 of the stub store: the mug and tee to Austin (address 1475), the torch to San Francisco (1476).
    sample = EVENTS / "bigcommerce" / "02_store_order_statusUpdated_paid.json"
    body = sample.read_bytes().replace(b'"id":1187', b'"id":1190')
    headers = {k: v for k, v in sample_headers(sample).items() if k.lower() != "webhook-id"}  # a delivery of its own
    signed = sign("bigcommerce", body, headers, "test-secret")

    answer = post(f"{runtime.api_url}/webhooks/bigcommerce/{demo_store('bigcommerce')}", signed.body, signed.headers)

    assert (answer.status, answer.body.get("duplicate", False)) == (202, False), answer.body
    execution = runtime.wait_for_execution(fulfillment_execution_name(demo_store("bigcommerce"), "1190"), 90)
    assert execution["status"] == "SUCCEEDED", execution
    order = container().orders.get(f"{demo_store('bigcommerce')}:1190")
    assert order is not None
    assert sorted({package.destination for package in order.packages}) == ["1475", "1476"]  # packed per address
    stub = runtime.platform_apis["bigcommerce"]

    def shipments() -> list[tuple[int, list[int]]]:
        posted = [json.loads(r.body) for r in stub.received("POST", r".*/v2/orders/1190/shipments")]
        return sorted((s["order_address_id"], [i["order_product_id"] for i in s["items"]]) for s in posted)

    assert eventually(lambda: len(shipments()) == 2), shipments()
    assert shipments() == [(1475, [2331, 2332]), (1476, [2333])]
    # Each shipment carries the label of the parcel that went to its address, not the order's first one.
    posted = {
        str(s["order_address_id"]): s["tracking_number"]
        for s in (json.loads(r.body) for r in stub.received("POST", r".*/v2/orders/1190/shipments"))
    }
    labels = {package.destination: package.label.tracking_number for package in order.packages if package.label}
    assert posted == labels and len(set(posted.values())) == 2, (posted, labels)
