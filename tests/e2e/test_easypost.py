"""Labels through EasyPost's official SDK on the local EasyPost-compatible API, end to end: several packages,
customs for a parcel leaving the ship-from country, refunds on cancellation, and what ``orders show`` lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.e2e.conftest import new_order_body
from tests.e2e.test_workflow_scenarios import cli, execution_of, order, path_of, send, wait_until, waiting_for

pytestmark = pytest.mark.e2e
S = OrderStatus
STORE = "kaffeekontor"
TWO_PACKAGES = 36  # T-shirts: the packer needs a second box for the 36th (a poly mailer)


@pytest.fixture
def trackers(runtime: LocalRuntime) -> Iterator[SimulatorConfig]:
    """The EasyPost stub's test trackers for one test, restored afterwards."""
    config = runtime.config.simulators
    saved = (config.delivery, config.in_transit_after, config.delivered_after)
    yield config
    config.delivery, config.in_transit_after, config.delivered_after = saved


def body_with(template: bytes, *, tees: int | None = None, country: str | None = None) -> tuple[bytes, str]:
    body, key = new_order_body(template)
    if tees:  # the shared runtime's stock is for many small orders
        container().inventory.restock("main", "TEE-ORG-M-GRN", tees)
    document = json.loads(body)
    for line in document["line_items"]:
        if tees is not None and line["sku"] == "TEE-ORG-M-GRN":
            line["quantity"] = tees
    if country:
        document["shipping"]["country"] = document["billing"]["country"] = country
    return json.dumps(document).encode(), key


def shipments(runtime: LocalRuntime, key: str) -> list[dict[str, Any]]:
    assert runtime.easypost is not None
    return runtime.easypost.shipments_for(key)


class TestSeveralPackages:
    def test_a_two_package_order_completes_only_after_both_are_delivered(
        self, runtime: LocalRuntime, trackers: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        trackers.delivery = "silent"  # in transit, then nothing: the test delivers each parcel itself
        body, key = body_with(woo_paid_body, tees=TWO_PACKAGES)
        send(runtime, STORE, body)
        waiting_for(key, "delivery")
        assert runtime.easypost is not None
        first, second = (runtime.easypost.shipments[p.shipment_id or ""] for p in order(key).packages)

        assert runtime.easypost.advance_tracker(first["id"], "delivered", "arrived_at_destination") == [200]
        wait_until(lambda: order(key).packages[0].tracking_status == "delivered")
        assert (order(key).status, order(key).wait.kind) == (S.SHIPPED, "delivery")  # one parcel is not all

        assert runtime.easypost.advance_tracker(second["id"], "delivered", "arrived_at_destination") == [200]
        execution = execution_of(runtime, key)

        assert execution["status"] == "SUCCEEDED" and path_of(runtime, execution)[-1] == "Complete order"
        done = order(key)
        assert done.status is S.COMPLETED
        assert sorted(runtime.easypost.bought).count(first["id"]) == 1
        assert [p.shipment_id for p in done.packages] == [first["id"], second["id"]]
        assert done.shipping_cost is not None and done.shipping_cost.minor == sum(
            round(float(s["selected_rate"]["rate"]) * 100) for s in (first, second)
        )

    def test_orders_show_lists_each_packages_label_tracking_url_and_cost(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        body, key = body_with(woo_paid_body, tees=TWO_PACKAGES)
        send(runtime, STORE, body)
        assert execution_of(runtime, key)["status"] == "SUCCEEDED"

        shown = json.loads(cli(runtime, "orders", "show", key).stdout)

        assert len(shown["packages"]) == 2 and shown["shipping_cost"].endswith(" USD")
        assert runtime.easypost is not None
        for row in shown["packages"]:
            shipment = runtime.easypost.shipments[row["shipment_id"]]
            assert row["tracking_number"] == shipment["tracking_code"]
            assert row["label_url"] == shipment["postage_label"]["label_url"]
            assert row["tracking_url"] == shipment["tracker"]["public_url"]
            assert row["cost"] == f"{shipment['selected_rate']['rate']} USD"


class TestCustoms:
    def test_an_international_order_carries_customs_information(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        body, key = body_with(woo_paid_body, country="CH")  # the demo warehouse ships from DE
        send(runtime, STORE, body)
        assert execution_of(runtime, key)["status"] == "SUCCEEDED"

        [shipment] = shipments(runtime, key)
        customs = shipment["customs_info"]
        assert shipment["to_address"]["country"] == "CH" and customs["customs_certify"] is True
        items = {item["hs_tariff_number"]: item for item in customs["customs_items"]}
        assert set(items) == {"691200", "610910", "846820"}
        assert (items["691200"]["quantity"], items["691200"]["origin_country"]) == (2, "PT")
        assert {rate["carrier"] for rate in shipment["rates"]} == {"USPS", "DHLExpress"}


class TestCancellation:
    def test_a_cancellation_before_handover_refunds_every_label_once(
        self, runtime: LocalRuntime, trackers: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        trackers.delivery, trackers.in_transit_after = "silent", 60.0  # the carrier never picks the parcels up
        body, key = body_with(woo_paid_body, tees=TWO_PACKAGES)
        send(runtime, STORE, body)
        waiting_for(key, "delivery")

        done = cli(runtime, "orders", "cancel", key, "--reason", "customer changed their mind")
        assert done.returncode == 0, done.stderr
        execution = execution_of(runtime, key)

        assert path_of(runtime, execution)[-1] == "Order cancelled"
        cancelled = order(key)
        assert cancelled.status is S.CANCELLED
        assert [p.refund_status for p in cancelled.packages] == ["submitted", "submitted"]
        assert runtime.easypost is not None
        ids = [p.shipment_id for p in cancelled.packages]
        assert sorted(i for i in runtime.easypost.refunds if i in ids) == sorted(ids)  # each once, bought ones only
