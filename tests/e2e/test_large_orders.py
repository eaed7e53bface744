"""A 3,000-line order through the local runtime: accepted, reserved, packed, shipped, delivered and completed like
any other."""

from __future__ import annotations

import base64
import json
import os

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from local.client import send_woocommerce, woocommerce_order_of_lines
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.asl import happy_path
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e
LINES = 3_000


@pytest.mark.large
def test_a_3000_line_order_completes_one_label_and_one_delivery_per_parcel(
    runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
) -> None:
    # Its ~75 parcels' tracker events arrive at once, some while the ship step is still buying labels: each keeps
    # its parcel's status in an item of its own, so none of them rewrites the order item the ship step saves.
    simulators.delivery = "delivered"
    inventory = container().inventory
    for sku in ("MUG-CC-BLU", "TEE-ORG-M-GRN", "TORCH-CB-01"):
        inventory.restock("main", sku, LINES)
    body, key = new_order_body(woocommerce_order_of_lines(woo_paid_body, LINES))
    assert 600_000 < len(body) < 1024 * 1024

    answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret")

    assert (answer.status, answer.body["status"], answer.body["fulfillment_started"]) == (202, "RECEIVED", True)
    execution = runtime.wait_for_execution(key.replace(":", "_"), timeout=600)
    assert execution["status"] == "SUCCEEDED", execution
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED
    assert len(order.lines) == LINES and sum(package.units for package in order.packages) == LINES
    shipments = [package.shipment_id for package in order.packages]
    assert len(order.packages) > 1 and all(package.label for package in order.packages)
    assert len(set(shipments)) == len(shipments)  # one shipment, one label per parcel
    assert runtime.easypost is not None and len(runtime.easypost.shipments_for(key)) == len(shipments)
    assert {package.tracking_status for package in order.packages} == {"delivered"}  # every parcel, as it said
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    entered = [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]
    assert entered == happy_path()
    payloads = [
        details.get("input") or details.get("output") or ""
        for event in history
        for name, details in event.items()
        if name.endswith("EventDetails") and isinstance(details, dict)
    ]
    assert max(len(payload) for payload in payloads) < 2_048  # keys, not documents: far under Step Functions' 256 KB
    kept = container().archive.list("kaffeekontor", key.split(":")[1])
    assert [delivery.request.body for delivery in kept] == [body]  # kept for replay, whole


def test_a_delivery_too_large_for_a_table_item_is_kept_whole_for_replay(
    runtime: LocalRuntime, woo_paid_body: bytes
) -> None:
    order = json.loads(woo_paid_body)
    order["_padding"] = base64.b64encode(os.urandom(600_000)).decode()  # 800 KB that compress to no less
    body, key = new_order_body(json.dumps(order, separators=(",", ":")).encode())

    answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret")

    assert answer.status == 202
    kept = container().archive.list("kaffeekontor", key.split(":")[1])
    assert [delivery.request.body for delivery in kept] == [body]
    listed = runtime.client("s3").list_objects_v2(Bucket="deliveryarchivebucket", Prefix="webhooks/kaffeekontor/")
    assert listed["KeyCount"] >= 1
