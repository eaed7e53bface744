"""Returns end to end through the local runtime: a delivered WooCommerce order, a return started with the
``fulfillment`` CLI, the warehouse simulator reporting the goods and their inspection, and the return's own
state machine refunding, replacing (a whole new fulfillment), refusing or letting the RMA lapse."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from fulfillment.model.returns import ReturnStatus
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.e2e.test_workflow_scenarios import (
    cli,
    execution_of,
    order,
    order_body,
    path_of,
    send,
    stock,
    store,
    wait_until,
)

pytestmark = pytest.mark.e2e
RETURN_MACHINE = "ReturnStateMachine"
REFUND_PATH = [
    "Authorize the return",
    "Authorized?",
    "Wait for the goods to arrive",
    "Wait for the inspection",
    "Dispose of the returned goods",
    "Refund or replace",
    "Close the return",
    "Return closed",
]


def completed_order(runtime: LocalRuntime, template: bytes, store_id: str, payment_method: str = "stripe") -> str:
    # Paid by card through the Stripe extension, which refunds through the API (a bank transfer cannot: below).
    body, _ = order_body(template, payment_method=payment_method)
    key = send(runtime, store_id, body)
    assert execution_of(runtime, key)["status"] == "SUCCEEDED"
    assert order(key).status is OrderStatus.COMPLETED
    return key


def start_return(
    runtime: LocalRuntime, key: str, *lines: str, resolution: str = "refund", timeout: float = 120
) -> tuple[str, dict[str, Any]]:
    args = ["returns", "start", key, "--reason", "defective", "--resolution", resolution, "--by", "cs-anna"]
    for line in lines:
        args += ["--line", line]
    done = cli(runtime, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    started = json.loads(done.stdout)
    execution = runtime.wait_for_execution(started["execution"], timeout=timeout, state_machine=RETURN_MACHINE)
    return started["return_key"], execution


def the_return(key: str) -> Any:
    found = container().returns.get(key)
    assert found is not None
    return found


def refunds_sent(runtime: LocalRuntime, store_id: str) -> list[dict[str, Any]]:
    api = runtime.platform_apis["woocommerce"]
    return [call for call in api.calls if call["path"].endswith("/refunds") and call["method"] == "POST"]


class TestRefunds:
    def test_a_full_return_is_refunded_by_the_store_restocked_and_the_order_returned(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "returns-full", with_api=True)
        key = completed_order(runtime, woo_paid_body, store_id)
        before = stock("MUG-CC-BLU").available

        return_key, execution = start_return(runtime, key, "301:2", "302:1", "303:1")

        assert execution["status"] == "SUCCEEDED"
        assert path_of(runtime, execution) == REFUND_PATH
        ret = the_return(return_key)
        assert ret.status is ReturnStatus.CLOSED and str(ret.refund) == "100.00 EUR"  # 2 x 14.50 + 29.00 + 42.00
        assert order(key).status is OrderStatus.RETURNED
        assert stock("MUG-CC-BLU").available == before + 2

    def test_a_partial_return_refunds_only_its_lines(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        store_id = store(runtime, "returns-partial", with_api=True)
        key = completed_order(runtime, woo_paid_body, store_id)

        return_key, execution = start_return(runtime, key, "MUG-CC-BLU:1")

        assert execution["status"] == "SUCCEEDED", the_return(return_key).failure
        ret = the_return(return_key)
        assert str(ret.refund) == "14.50 EUR"
        current = order(key)
        assert current.status is OrderStatus.PARTIALLY_RETURNED and current.returns.returned == {"301": 1}
        reasons = [event.reason for event in container().orders.timeline(key)]
        assert any("return R1 authorized" in reason for reason in reasons)

    def test_two_returns_that_together_exceed_what_was_delivered_refuse_the_second(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "returns-twice", with_api=True)
        key = completed_order(runtime, woo_paid_body, store_id)

        first_key, first = start_return(runtime, key, "301:2")
        second_key, second = start_return(runtime, key, "301:1")

        assert first["status"] == second["status"] == "SUCCEEDED"
        assert the_return(first_key).status is ReturnStatus.CLOSED
        refused = the_return(second_key)
        assert refused.status is ReturnStatus.REJECTED
        assert "2 delivered, 0 not yet returned" in refused.rejection
        assert path_of(runtime, second)[-1] == "Return rejected"
        assert order(key).returns.returned == {"301": 2}


class TestRefundDue:
    def test_a_return_the_platform_cannot_refund_is_due_until_a_person_confirms_the_payout(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "returns-due", with_api=True)
        key = completed_order(runtime, woo_paid_body, store_id, payment_method="bacs")  # a bank transfer

        return_key, execution = start_return(runtime, key, "MUG-CC-BLU:1")

        assert execution["status"] == "SUCCEEDED"
        ret = the_return(return_key)
        assert ret.status is ReturnStatus.REFUND_DUE and ret.refund is None  # never "refunded" before it is
        [due] = order(key).payment.outstanding_refunds
        assert str(due.amount) == "14.50 EUR"
        alerts = [e.reason for e in container().orders.timeline(key) if e.detail.get("alert") == "refund_due"]
        assert len(alerts) == 1 and "14.50 EUR" in alerts[0] and order(key).number in alerts[0]
        shown = cli(runtime, "orders", "show", key)
        assert json.loads(shown.stdout)["refunds_due"][0]["amount"] == "14.50 EUR"
        assert refunds_paid(runtime, key.split(":", 1)[1]) == []  # the shop was never asked to pay

        done = cli(runtime, "orders", "confirm-refund", key, "--reference", "SEPA-0042", "--by", "cs-anna")

        assert done.returncode == 0, done.stderr + done.stdout
        closed = the_return(return_key)
        assert closed.status is ReturnStatus.CLOSED and str(closed.refund) == "14.50 EUR"
        assert order(key).payment.outstanding_refunds == []
        again = cli(runtime, "orders", "confirm-refund", key, "--reference", "SEPA-0042")
        assert again.returncode != 0 and "no refund due" in again.stdout + again.stderr


def refunds_paid(runtime: LocalRuntime, order_id: str) -> list[dict[str, Any]]:
    stub = runtime.platform_apis["woocommerce"]
    return [json.loads(r.body) for r in stub.received("POST") if r.path.endswith(f"/orders/{order_id}/refunds")]


class TestRejectionsAndExceptions:
    def test_a_return_outside_the_window_is_rejected_and_visible(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        store_id = store(runtime, "returns-window", return_window_days="0")
        key = completed_order(runtime, woo_paid_body, store_id)

        return_key, execution = start_return(runtime, key, "301:1")

        assert path_of(runtime, execution)[-1] == "Return rejected"
        ret = the_return(return_key)
        assert ret.status is ReturnStatus.REJECTED and "outside the 0-day return window" in ret.rejection
        shown = cli(runtime, "returns", "list", "--order", key)
        assert json.loads(shown.stdout)[0]["status"] == "REJECTED"

    def test_goods_that_never_arrive_let_the_rma_lapse(
        self, runtime: LocalRuntime, woo_paid_body: bytes, simulators: SimulatorConfig
    ) -> None:
        # The store's own receipt window governs the RMA: one day, 10 s on the test runtime's clock.
        store_id = store(runtime, "returns-lapse", return_receipt_days="1")
        key = completed_order(runtime, woo_paid_body, store_id)
        simulators.return_goods = "never"

        started = time.monotonic()
        return_key, execution = start_return(runtime, key, "301:1", timeout=120)

        assert time.monotonic() - started < 60, "the store's 1-day window, not the 14-day default, ended the wait"

        assert path_of(runtime, execution)[-2:] == ["Record that the goods never arrived", "Return expired"]
        assert the_return(return_key).status is ReturnStatus.EXPIRED
        assert order(key).returns.claims == {"301": 0} and order(key).status is OrderStatus.COMPLETED

    def test_a_failed_inspection_refunds_nothing_and_sends_the_goods_back(
        self, runtime: LocalRuntime, woo_paid_body: bytes, simulators: SimulatorConfig
    ) -> None:
        store_id = store(runtime, "returns-failed")
        key = completed_order(runtime, woo_paid_body, store_id)
        simulators.return_inspection = {"MUG-CC-BLU": "failed"}
        before = stock("MUG-CC-BLU").available

        return_key, execution = start_return(runtime, key, "301:1")

        assert execution["status"] == "SUCCEEDED"
        ret = the_return(return_key)
        statuses = [event.status for event in container().returns.timeline(return_key)]
        assert ReturnStatus.REFUSED in statuses and ret.status is ReturnStatus.CLOSED
        assert ret.refund is None and ret.lines[0].disposition == "return_to_customer"
        assert stock("MUG-CC-BLU").available == before
        assert order(key).status is OrderStatus.COMPLETED


class TestReplacement:
    def test_a_replacement_runs_the_whole_fulfillment_again_and_completes(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        runtime.register_store(  # with the WooCommerce stub's API credentials: write-backs reach the "store"
            {
                "platform": "woocommerce",
                "store_id": "returns-replace",
                "webhook_secret": "test-secret",
                "site_url": "https://shop.kaffeekontor.example/",
                "api": {
                    "api_base_url": "{stub}",
                    "api_key": "ck_kaffeekontor_demo",
                    "api_secret": "cs_kaffeekontor_demo",
                },
            }
        )
        key = completed_order(runtime, woo_paid_body, "returns-replace")

        return_key, execution = start_return(runtime, key, "303:1", resolution="replacement")

        assert execution["status"] == "SUCCEEDED"
        ret = the_return(return_key)
        replacement_key = ret.replacement_order_key
        assert replacement_key == f"{key}-R1" and ret.status is ReturnStatus.CLOSED
        replacement_run = execution_of(runtime, replacement_key)
        assert replacement_run["status"] == "SUCCEEDED"
        replacement = order(replacement_key)
        assert replacement.status is OrderStatus.COMPLETED and replacement.platform_refs["replaces"] == key
        assert [(line.sku, line.quantity) for line in replacement.lines] == [("TORCH-CB-01", 1)]
        assert order(key).returns.replacements == [replacement_key]
        assert ret.refund is None
        # The store never saw the replacement order: its shipment is a note on the store's original order.
        external_id = key.split(":", 1)[1]
        notes_path = f"/wp-json/wc/v3/orders/{external_id}/notes"
        stub = runtime.platform_apis["woocommerce"]
        assert wait_until(
            lambda: any(
                r.method == "POST" and r.path.endswith(notes_path) and "Replacement order" in str(r.body)
                for r in stub.received()
            )
        )
        assert not [r for r in stub.received() if "-R1" in r.path]  # nothing addressed to an order it never had
        shown = json.loads(cli(runtime, "orders", "show", key).stdout)
        assert any(run["name"].endswith("-return1") for run in shown["executions"])


class TestRerunAndShow:
    def test_a_return_whose_refund_failed_is_rerun_from_that_step_and_refunds_once(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        from local.payment_simulator import PaymentSimulator
        from local.stub_api import Fault

        store_id = store(runtime, "returns-rerun")
        body, _ = order_body(woo_paid_body, payment_method="authorized")
        key = send(runtime, store_id, body)
        assert execution_of(runtime, key)["status"] == "SUCCEEDED"
        before = stock("MUG-CC-BLU").available
        refused = {"error": {"type": "invalid_request_error", "message": "gateway says no"}}  # Stripe's error shape
        runtime.payments.fail_next("POST", PaymentSimulator.REFUNDS, Fault(400, body=refused))

        return_key, failed = start_return(runtime, key, "301:1")

        assert failed["status"] == "FAILED"
        assert path_of(runtime, failed)[-2:] == ["Record why the return stopped", "Return failed"]
        shown = json.loads(cli(runtime, "returns", "show", return_key).stdout)
        assert shown["status"] == "FAILED" and shown["failure"]["resume_at"] == "INSPECTED"
        assert [line["disposition"] for line in shown["lines"]] == ["restock"]

        rerun = cli(runtime, "returns", "rerun", return_key, "--reason", "gateway fixed", "--by", "ops-lead")

        assert rerun.returncode == 0, rerun.stderr
        name = json.loads(rerun.stdout)["execution"]
        assert name.endswith("-return1-rerun1")
        second = runtime.wait_for_execution(name, timeout=120, state_machine=RETURN_MACHINE)
        assert second["status"] == "SUCCEEDED"
        assert path_of(runtime, second)[-3:] == ["Refund or replace", "Close the return", "Return closed"]
        assert the_return(return_key).status is ReturnStatus.CLOSED
        assert [c.amount for c in runtime.payments.charges_for(key, "refund")] == [1450]
        # Restocked once across both executions: returns restock only through restock_once, whose marker and stock
        # increment are one transaction that cannot run twice. (The shelf itself is shared with other tests' orders
        # on this worker, which may release units meanwhile: its level alone cannot say "once".)
        assert restocked(return_key) == ("MUG-CC-BLU", 1)
        assert stock("MUG-CC-BLU").available >= before + 1

    def test_orders_start_return_is_the_same_command(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        store_id = store(runtime, "returns-alias", with_api=True)
        key = completed_order(runtime, woo_paid_body, store_id)

        done = cli(runtime, "orders", "start-return", key, "--line", "302:1", "--reason", "wrong_item")

        assert done.returncode == 0, done.stderr
        started = json.loads(done.stdout)
        execution = runtime.wait_for_execution(started["execution"], timeout=120, state_machine=RETURN_MACHINE)
        assert execution["status"] == "SUCCEEDED"
        assert the_return(started["return_key"]).status is ReturnStatus.CLOSED

    def test_bad_input_is_refused_and_writes_nothing(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        store_id = store(runtime, "returns-bad")
        key = completed_order(runtime, woo_paid_body, store_id)
        before = container().orders.get(key)

        unknown_line = cli(runtime, "returns", "start", key, "--line", "999:1", "--reason", "defective")
        unknown_order = cli(runtime, "returns", "start", f"{store_id}:nope", "--line", "301:1", "--reason", "x")

        assert unknown_line.returncode == unknown_order.returncode == 1
        assert json.loads(unknown_line.stdout)["error"] == "return_invalid"
        assert json.loads(unknown_order.stdout)["error"] == "order_not_found"
        after = container().orders.get(key)
        assert before is not None and after is not None and after.version == before.version
        assert container().returns.for_order(key) == []
        machine = runtime.state_machine_arns[RETURN_MACHINE]
        runs = runtime.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
        assert not [run for run in runs if run["name"].startswith(before.execution_name())]  # nothing started


def restocked(return_key: str) -> tuple[str, int] | None:
    """The returned line's restock marker (SKU, units): what makes a re-run put nothing back twice."""
    from fulfillment.adapters.dynamodb import _from_item, _to_item

    table = container().settings.table_name
    client = container().client("dynamodb")
    item = client.get_item(TableName=table, Key=_to_item({"PK": f"RESTOCK#{return_key}:301", "SK": "RESTOCK"}))
    if "Item" not in item:
        return None
    marker = _from_item(item["Item"])
    return str(marker["sku"]), int(marker["quantity"])
