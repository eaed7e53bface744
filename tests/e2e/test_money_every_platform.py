"""Money end to end on every platform (issue #11): a paid order an operator cancels mid-fulfillment gives the money
back exactly once, where the money is. A platform whose API refunds to the original payment (Shopify, BigCommerce,
WooCommerce with a gateway that refunds) pays it back: its stub's ledger shows one online refund of what was paid
and nothing is left due. Where the API cannot move the money — Ecwid and OpenCart, a WooCommerce bank transfer,
a Magento method without online refunds (an offline credit memo is recorded, no money moves) — the order ends with
one refund due of that amount, an alert naming it and ``orders show`` listing it: never reported as refunded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import amount_to_collect
from local.client import HttpAnswer, post, send_woocommerce
from local.deliveries import paid_delivery
from local.platforms import platform_names
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.conftest import WOO_EVENTS
from tests.e2e.conftest import fresh_store, stored_order
from tests.e2e.test_workflow_scenarios import SECRET, cli, order_body, path_of, wait_until

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Case:
    platform: str
    paid_with: str  # the sample's way of paying, as the test id says
    paid_back: bool  # the platform's API refunds it (else: a refund due)
    recorded: bool = False  # the platform records a refund that moves no money (Magento's offline credit memo)
    card: bool = False  # WooCommerce only: the paid sample paid by card through the Stripe extension, a fresh order


CASES = [
    Case("woocommerce", "card (Stripe extension)", paid_back=True, card=True),
    Case("woocommerce", "bank transfer (bacs)", paid_back=False),
    Case("shopify", "card, captured at checkout", paid_back=True),
    Case("bigcommerce", "card, captured at checkout", paid_back=True),
    Case("magento", "check / money order, invoiced", paid_back=False, recorded=True),
    Case("ecwid", "paid, partly refunded by the store", paid_back=False),
    Case("opencart", "paid", paid_back=False),
]


def test_every_platform_has_a_case() -> None:
    assert {case.platform for case in CASES} == set(platform_names())


def _ledger(runtime: LocalRuntime, platform: str, order_id: str) -> list[tuple[str, Decimal, bool]]:
    answer = post(f"{runtime.platform_apis[platform].url}/_stub/ledger/{order_id}", b"", {}, method="GET")
    if answer.status == 404:  # a platform whose API moves no money keeps no ledger
        return []
    return [(entry["kind"], Decimal(entry["amount"]), entry["online"]) for entry in answer.body["entries"]]


def _deliver(runtime: LocalRuntime, case: Case, store_id: str) -> HttpAnswer:
    if case.card:  # a fresh order id the WooCommerce stub takes as any order, paid through a gateway that refunds
        body, _ = order_body((WOO_EVENTS / "order_updated_paid.json").read_bytes(), payment_method="stripe")
        return send_woocommerce(runtime.api_url, store_id, body, SECRET)
    delivery = paid_delivery(case.platform)
    return post(f"{runtime.api_url}/webhooks/{case.platform}/{store_id}", delivery.body, delivery.headers)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.platform}: {case.paid_with}")
def test_a_paid_order_cancelled_mid_fulfillment_gives_the_money_back_once_where_it_is(
    runtime: LocalRuntime, simulators: SimulatorConfig, stubs_as_they_were: None, case: Case
) -> None:
    simulators.inspection_after = 30.0  # the warehouse takes its time: the order is cancelled while it inspects
    store_id = fresh_store(runtime, case.platform)
    answer = _deliver(runtime, case, store_id)
    assert answer.status == 202, answer.body
    key = str(answer.body["order_key"])
    external_id = key.split(":", 1)[1]
    wait_until(lambda: (found := container().orders.get(key)) is not None and found.wait.kind == "inspection", 90)
    before = _ledger(runtime, case.platform, external_id)

    done = cli(runtime, "orders", "cancel", key, "--reason", "customer changed their mind", "--by", "cs-anna")

    assert done.returncode == 0, done.stderr + done.stdout
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=90)
    assert path_of(runtime, execution)[-1] == "Order cancelled"
    cancelled = stored_order(key)
    assert cancelled.status is OrderStatus.CANCELLED
    paid = amount_to_collect(cancelled)  # what the customer paid, less what the store had refunded before
    moved = _ledger(runtime, case.platform, external_id)[len(before) :]
    if case.paid_back:
        assert moved == [("refund", paid.to_decimal(), True)]
        assert cancelled.payment.outstanding_refunds == []
        return
    assert moved == ([("refund", paid.to_decimal(), False)] if case.recorded else [])  # no money moved
    [due] = cancelled.payment.outstanding_refunds
    assert due.amount == paid and due.paid_out_at is None
    alerts = [e.reason for e in container().orders.timeline(key) if e.detail.get("alert") == "refund_due"]
    assert len(alerts) == 1 and str(paid) in alerts[0]
    shown = json.loads(cli(runtime, "orders", "show", key).stdout)
    assert [due["amount"] for due in shown["refunds_due"]] == [str(paid)]
