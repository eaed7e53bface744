"""Every branch of the fulfillment workflow, end to end through the local runtime.

Each scenario sends a signed WooCommerce delivery over HTTP, lets the simulators (the EasyPost stub,
warehouse, payment gateway) and, where a person is needed, the ``fulfillment`` CLI answer, and
checks the execution's path, the order's final state and timeline, and the side effects the
simulators recorded (labels, inspections, charges) and the stock left.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from local.client import send_woocommerce
from local.payment_simulator import intent_id_for
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.asl import happy_path
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e
SECRET = "test-secret"
HAPPY_PATH = happy_path()  # walked from the ASL's StartAt


def store(runtime: LocalRuntime, store_id: str, *, with_api: bool = False, **options: str) -> str:
    """A WooCommerce store; ``with_api``: with the stub shop's REST credentials (refunds go through it)."""
    api = {"api_base_url": "{stub}", "api_key": "ck_kaffeekontor_demo", "api_secret": "cs_kaffeekontor_demo"}
    runtime.register_store(
        {
            "platform": "woocommerce",
            "store_id": store_id,
            "webhook_secret": SECRET,
            "site_url": "https://shop.kaffeekontor.example/",
            "options": options,
        }
        | ({"api": api} if with_api else {})
    )
    return store_id


def order_body(template: bytes, *, payment_method: str | None = None, sku: str | None = None) -> tuple[bytes, str]:
    body, key = new_order_body(template)
    if payment_method:
        body = body.replace(b'"payment_method":"bacs"', f'"payment_method":"{payment_method}"'.encode())
    if payment_method == "authorized":  # the checkout's Stripe PaymentIntent, as the store records it
        body = body.replace(b'"transaction_id":""', f'"transaction_id":"{intent_id_for(key)}"'.encode())
    if sku:
        body = body.replace(b'"sku":"TORCH-CB-01"', f'"sku":"{sku}"'.encode())
    return body, key.split(":", 1)[1]


def send(runtime: LocalRuntime, store_id: str, body: bytes) -> str:
    answer = send_woocommerce(runtime.api_url, store_id, body, SECRET)
    assert answer.status == 202, answer.body
    return str(answer.body["order_key"])


def execution_of(runtime: LocalRuntime, key: str, timeout: float = 150) -> dict[str, Any]:
    store_id, external_id = key.split(":", 1)
    return runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=timeout)


def path_of(runtime: LocalRuntime, execution: dict[str, Any]) -> list[str]:
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


def wait_until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition never held")


def waiting_for(key: str, kind: str) -> None:
    wait_until(lambda: (order := container().orders.get(key)) is not None and order.wait.kind == kind)


def cli(runtime: LocalRuntime, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "--endpoint-url", runtime.aws_endpoint, "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def order(key: str) -> Any:
    found = container().orders.get(key)
    assert found is not None
    return found


def stock(sku: str) -> Any:
    return container().inventory.level("main", sku)


def reservation(key: str) -> Any:
    return container().inventory.reservation(key)


class TestApproval:
    def test_a_high_value_order_waits_for_a_person_and_completes_once_approved(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "review-shop", review_above_minor="1000")
        body, _ = order_body(woo_paid_body)
        key = send(runtime, store_id, body)
        waiting_for(key, "approval")

        done = cli(runtime, "orders", "approve", key, "--by", "ops-lead")

        assert done.returncode == 0, done.stderr
        execution = execution_of(runtime, key)
        assert execution["status"] == "SUCCEEDED"
        assert "Wait for approval" in path_of(runtime, execution)
        assert order(key).status is OrderStatus.COMPLETED
        assert any("approved by ops-lead" in event.reason for event in container().orders.timeline(key))
        assert cli(runtime, "orders", "approve", key).returncode == 1  # nothing left to decide

    def test_an_order_with_a_deleted_product_is_recorded_and_held_for_review(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        # WooCommerce sends "sku": null for a line whose product was deleted (WC_REST_Orders_V2_Controller::
        # get_order_item_data): the order is taken (a 400 counts as a failed delivery) and waits for a person.
        body, _ = order_body(woo_paid_body)
        body = body.replace(b'"sku":"TORCH-CB-01"', b'"sku":null')
        key = send(runtime, store(runtime, "deleted-product-shop"), body)
        waiting_for(key, "approval")

        held = order(key)
        assert "woo-deleted-product-1221" in [line.sku for line in held.lines]
        assert "product deleted in WooCommerce" in held.platform_refs["flagged"]
        assert reservation(key) is None  # nothing reserved while it waits
        assert cli(runtime, "orders", "reject", key, "--reason", "product no longer sold").returncode == 0

    def test_a_rejected_order_is_cancelled_and_nothing_is_reserved(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "review-shop", review_above_minor="1000")
        body, _ = order_body(woo_paid_body)
        key = send(runtime, store_id, body)
        waiting_for(key, "approval")

        assert cli(runtime, "orders", "reject", key, "--reason", "suspected fraud").returncode == 0

        execution = execution_of(runtime, key)
        assert (execution["status"], path_of(runtime, execution)[-1]) == ("SUCCEEDED", "Order cancelled")
        assert order(key).status is OrderStatus.CANCELLED
        assert reservation(key) is None


class TestOutOfStock:
    def test_the_cancel_policy_cancels_and_takes_no_stock(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        store_id = store(runtime, "strict-shop", out_of_stock="cancel")
        before = stock("MUG-CC-BLU").available
        body, _ = order_body(woo_paid_body, sku="NOT-STOCKED-1")
        key = send(runtime, store_id, body)

        execution = execution_of(runtime, key)

        assert path_of(runtime, execution)[-1] == "Order cancelled"
        assert order(key).status is OrderStatus.CANCELLED
        assert stock("MUG-CC-BLU").available == before  # the in-stock lines were not taken either

    def test_two_orders_racing_for_the_last_units_one_ships_and_the_other_is_cancelled(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "race-shop", out_of_stock="cancel")
        sku, each, spare = "TORCH-CB-01", 5, 2
        # Enough on the shelf for one order's five torches, not for both: seven. Other tests' orders still running
        # on this worker's runtime may take (or give back) a torch or two meanwhile without changing the outcome.
        surplus = stock(sku).available - (each + spare)
        if surplus > 0:
            _take(surplus, sku)
        elif surplus < 0:
            container().inventory.restock("main", sku, -surplus)
        first, second = (_with_quantity(order_body(woo_paid_body)[0], sku, each) for _ in range(2))

        with ThreadPoolExecutor(max_workers=2) as pool:
            keys = list(pool.map(lambda body: send(runtime, store_id, body), [first, second]))

        try:
            outcomes = {key: str(order(key).status) for key in keys if execution_of(runtime, key)}
            timelines = {
                key: [f"{event.status}: {event.reason}" for event in container().orders.timeline(key)] for key in keys
            }
            assert sorted(outcomes.values()) == ["CANCELLED", "COMPLETED"], timelines
            assert stock(sku).available <= spare
        finally:
            container().inventory.restock("main", sku, 100)  # for the scenarios after this one

    def test_the_partial_policy_ships_what_is_there_and_writes_the_shipment_back_as_partial(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = "partial-shop"
        runtime.register_store(  # with the stub shop's API, so the write-back reaches it
            {
                "platform": "woocommerce",
                "store_id": store_id,
                "webhook_secret": SECRET,
                "site_url": "https://shop.kaffeekontor.example/",
                "options": {"out_of_stock": "partial"},
                "api": {
                    "api_base_url": "{stub}",
                    "api_key": "ck_kaffeekontor_demo",
                    "api_secret": "cs_kaffeekontor_demo",
                },
            }
        )
        body, external_id = order_body(woo_paid_body, sku="NOT-STOCKED-1")  # the torch's line: none on the shelf
        key = send(runtime, store_id, body)

        execution = execution_of(runtime, key)

        shipped = order(key)
        assert (execution["status"], shipped.status) == ("SUCCEEDED", OrderStatus.COMPLETED)
        assert shipped.short == {"NOT-STOCKED-1": 1}
        assert all(sku != "NOT-STOCKED-1" for package in shipped.packages for sku, _ in package.items)
        woo = runtime.platform_apis["woocommerce"]

        def partial_notes() -> list[str]:
            posted = [r.json() for r in woo.received("POST", rf"/wp-json/wc/v3/orders/{external_id}/notes")]
            return [note["note"] for note in posted if "Partial shipment" in note["note"]]

        notes = wait_until(partial_notes)
        assert len(notes) == 1 and "not shipped: 1 x" in notes[0] and "(NOT-STOCKED-1)" in notes[0]
        assert woo.received("POST", rf"/wp-json/wc-shipment-tracking/v3/orders/{external_id}/shipment-trackings")


def _with_quantity(body: bytes, sku: str, quantity: int) -> bytes:
    """The order with ``quantity`` units on its ``sku`` line, its totals following."""
    order = json.loads(body)
    line = next(line for line in order["line_items"] if line["sku"] == sku)
    price = Decimal(str(line["price"]))
    order["total"] = f"{Decimal(order['total']) + price * (quantity - line['quantity']):.2f}"
    line["quantity"] = quantity
    line["subtotal"] = line["total"] = f"{price * quantity:.2f}"
    return json.dumps(order).encode()


def _take(quantity: int, sku: str) -> None:
    """Reserve ``quantity`` units for a parked order so the shelf holds what a test needs."""
    from fulfillment.model.inventory import OutOfStockPolicy
    from tests.fakes import make_line, make_order

    parked = make_order(
        store_id="stock-holder", external_id=f"hold-{time.time_ns()}", lines=(make_line(sku=sku, quantity=quantity),)
    )
    container().inventory.reserve(parked, OutOfStockPolicy.CANCEL)


class TestInspection:
    def test_a_failed_unit_is_swapped_and_re_inspected(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.inspections = ["failed", "passed"]
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)

        execution = execution_of(runtime, key)

        assert execution["status"] == "SUCCEEDED", path_of(runtime, execution)[-3:]
        assert order(key).inspection_attempts == 1
        assert any("unit swapped" in event.reason for event in container().orders.timeline(key))
        assert runtime.warehouse is not None
        attempts = sorted(int(r["attempt"]) for r in runtime.warehouse.inspections.values() if r["reference"] == key)
        assert attempts == [1, 2]

    def test_an_inspection_that_keeps_failing_waits_for_an_operator_who_accepts_it(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.inspections = ["failed"]
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "operator")

        assert cli(runtime, "orders", "pass-inspection", key, "--reason", "cosmetic only").returncode == 0

        execution = execution_of(runtime, key)
        assert execution["status"] == "SUCCEEDED", path_of(runtime, execution)[-3:]
        assert "Wait for an operator: inspection" in path_of(runtime, execution)
        assert order(key).inspection_attempts == 3

    def test_an_operator_who_refuses_the_goods_cancels_and_the_reservation_is_released(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.inspections = ["failed"]
        before = stock("TORCH-CB-01").available
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "operator")

        assert cli(runtime, "orders", "fail-inspection", key, "--reason", "broken").returncode == 0

        execution = execution_of(runtime, key)
        assert path_of(runtime, execution)[-1] == "Order cancelled"
        assert order(key).status is OrderStatus.CANCELLED
        assert reservation(key).status == "released"
        assert stock("TORCH-CB-01").available == before


class TestDelivery:
    def test_a_lost_parcel_ends_in_a_recorded_failure_with_the_store_told(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.delivery = "lost"
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)

        execution = execution_of(runtime, key)

        assert execution["status"] == "FAILED"
        assert "Handle delivery exception" in path_of(runtime, execution)
        failed = order(key)
        assert failed.status is OrderStatus.FAILED and failed.failure is not None
        assert failed.failure.error == "DeliveryFailed" and "lost" in failed.failure.cause

    def test_silence_from_the_carrier_raises_an_alert_and_an_operator_confirms_delivery(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes, timers: Any
    ) -> None:
        simulators.delivery = "silent"
        timers({"Wait for delivery confirmation": {"HeartbeatSeconds": 2}})  # not the scaled 3 days (30 s)
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "operator")

        assert cli(runtime, "orders", "confirm-delivery", key, "--reason", "customer called").returncode == 0

        execution = execution_of(runtime, key)
        assert execution["status"] == "SUCCEEDED"
        assert {"Alert: delivery overdue", "Wait for an operator: delivery"} <= set(path_of(runtime, execution))
        assert any("alert: delivery overdue" in event.reason for event in container().orders.timeline(key))

    def test_an_operator_reports_a_silent_parcel_lost_and_the_order_fails_with_the_money_returned(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.delivery = "silent"
        body, _ = order_body(woo_paid_body, payment_method="authorized")
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "delivery")

        reported = cli(runtime, "orders", "report-lost", key, "--reason", "carrier lost the parcel", "--by", "ops")

        assert reported.returncode == 0, reported.stderr
        execution = execution_of(runtime, key)
        assert execution["status"] == "FAILED"
        assert "Handle delivery exception" in path_of(runtime, execution)
        failed = order(key)
        assert failed.status is OrderStatus.FAILED and failed.failure is not None
        assert failed.failure.error == "DeliveryFailed"
        assert not runtime.payments.charges_for(key)  # captured on delivery, which never came: no money moved

    def test_a_failed_attempt_keeps_the_wait_alive_until_delivery(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.delivery = "failed_attempt"
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)

        assert execution_of(runtime, key)["status"] == "SUCCEEDED"
        assert order(key).status is OrderStatus.COMPLETED


class TestPayment:
    def test_cash_on_delivery_is_collected_once(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        body, _ = order_body(woo_paid_body, payment_method="cod")
        key = send(runtime, "kaffeekontor", body)

        assert execution_of(runtime, key)["status"] == "SUCCEEDED"
        assert runtime.payments is not None
        assert [c for c in runtime.payments.charges if c.order_key == key] == []  # Stripe has no part in cash
        stored = order(key)
        assert stored.payment.collected is not None and stored.payment.collected == stored.totals.grand_total

    def test_an_authorized_payment_is_captured_once_at_shipment_when_the_store_says_so(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "capture-at-shipment", capture_on="shipment")
        body, _ = order_body(woo_paid_body, payment_method="authorized")
        key = send(runtime, store_id, body)

        assert execution_of(runtime, key)["status"] == "SUCCEEDED"
        assert runtime.payments is not None
        charges = [c for c in runtime.payments.charges if c.order_key == key]
        assert [c.kind for c in charges] == ["capture"]
        shipped = next(e for e in container().orders.timeline(key) if e.status is OrderStatus.SHIPPED)
        assert "captured" in shipped.detail

    def test_a_declined_capture_cancels_the_order_and_returns_the_stock(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "declines-shop", capture_on="shipment")
        body, external_id = order_body(woo_paid_body, payment_method="authorized")
        assert runtime.payments is not None
        runtime.payments.declining_orders.add(f"{store_id}:{external_id}")
        key = send(runtime, store_id, body)

        execution = execution_of(runtime, key)

        assert path_of(runtime, execution)[-1] == "Order cancelled"
        assert order(key).status is OrderStatus.CANCELLED
        assert reservation(key).status == "released"
        assert runtime.easypost is not None
        # Captured before any shipment is created: nothing was bought, nothing to refund.
        assert runtime.easypost.shipments_for(key) == []


class TestCancellation:
    def test_an_operator_cancels_while_the_warehouse_inspects(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.inspection_after = 30.0  # the warehouse takes its time
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "inspection")

        done = cli(runtime, "orders", "cancel", key, "--reason", "customer changed their mind")

        assert done.returncode == 0, done.stderr
        execution = execution_of(runtime, key)
        assert path_of(runtime, execution)[-1] == "Order cancelled"
        cancelled = order(key)
        assert cancelled.status is OrderStatus.CANCELLED
        assert reservation(key).status == "released"
        undone = next(e for e in container().orders.timeline(key) if e.status is OrderStatus.CANCELLED).detail["undone"]
        assert "reservation released" in undone and "store told" in undone

    def test_a_delivered_order_cannot_be_cancelled(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        execution = execution_of(runtime, key)
        assert path_of(runtime, execution) == HAPPY_PATH, order(key)

        refused = cli(runtime, "orders", "cancel", key, "--reason", "too late")

        assert refused.returncode == 1
        assert "return" in refused.stderr
        assert order(key).status is OrderStatus.COMPLETED

    def test_the_store_cancelling_a_paid_order_mid_fulfillment_compensates(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        simulators.inspection_after = 30.0
        body, _ = order_body(woo_paid_body)
        key = send(runtime, "kaffeekontor", body)
        waiting_for(key, "inspection")
        cancelled = re.sub(rb'"status":"processing"', b'"status":"cancelled"', body, count=1)
        cancelled = re.sub(rb'"date_modified_gmt":"[^"]+"', b'"date_modified_gmt":"2030-01-01T00:00:00"', cancelled)

        send(runtime, "kaffeekontor", cancelled)

        execution = execution_of(runtime, key)
        assert path_of(runtime, execution)[-1] == "Order cancelled"
        assert order(key).status is OrderStatus.CANCELLED


def test_cli_show_prints_the_timeline(runtime: LocalRuntime, woo_paid_body: bytes) -> None:
    body, _ = order_body(woo_paid_body)
    key = send(runtime, "kaffeekontor", body)
    execution_of(runtime, key)

    shown = json.loads(cli(runtime, "orders", "show", key).stdout)

    assert shown["status"] == "COMPLETED"
    assert [event["status"] for event in shown["timeline"]][-1] == "COMPLETED"
    [execution] = shown["executions"]
    assert (execution["status"], execution["path"]) == ("SUCCEEDED", HAPPY_PATH)
    listed = json.loads(cli(runtime, "orders", "list", "--status", "COMPLETED", "--store", "kaffeekontor").stdout)
    assert key in {entry["order_key"] for entry in listed}
    assert all(entry["order_key"].startswith("kaffeekontor:") for entry in listed)


class TestFaultsAtTheGateway:
    def test_a_gateway_that_fails_once_still_charges_exactly_once(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        from local.payment_simulator import PaymentSimulator
        from local.stub_api import Fault

        assert runtime.payments is not None
        runtime.payments.fail_next("POST", PaymentSimulator.CAPTURE, Fault(503), Fault.slow(6))
        body, _ = order_body(woo_paid_body, payment_method="authorized")
        key = send(runtime, "kaffeekontor", body)

        assert execution_of(runtime, key)["status"] == "SUCCEEDED"
        charges = [c for c in runtime.payments.charges if c.order_key == key]
        assert [c.kind for c in charges] == ["capture"]  # a 503, then an answer lost to a timeout: one charge
