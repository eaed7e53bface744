"""Money end to end on every platform (issue #11): a paid order an operator cancels mid-fulfillment gives the money
back exactly once, where the money is. A platform whose API refunds to the original payment (Shopify, BigCommerce,
WooCommerce with a gateway that refunds) pays it back: its stub's ledger shows one online refund of what was paid
and nothing is left due. Where the API cannot move the money — Ecwid and OpenCart, a WooCommerce bank transfer,
a Magento method without online refunds (an offline credit memo is recorded, no money moves) — the order ends with
one refund due of that amount, an alert naming it and ``orders show`` listing it: never reported as refunded."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import Order, OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import amount_to_collect
from local.client import HttpAnswer, post, send_woocommerce
from local.deliveries import paid_delivery
from local.money_ledger import MoneyLedger
from local.platforms import demo_stores, platform_names
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from tests.conftest import WOO_EVENTS
from tests.e2e.test_workflow_scenarios import SECRET, cli, order_body, path_of, wait_until

pytestmark = pytest.mark.e2e
_stores = count(1)


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


@pytest.fixture
def stubs_as_they_were(runtime: LocalRuntime) -> Iterator[None]:
    """The platform stubs' shops put back as they were after the test: the demo orders this test cancels and
    refunds are the ones every other end-to-end test on this worker fulfils (the same ids in the same stubs)."""
    saved = {name: _data(api.shop) for name, api in runtime.platform_apis.items()}
    yield
    for name, api in runtime.platform_apis.items():
        for attribute, value in copy.deepcopy(saved[name]).items():
            if isinstance(getattr(api.shop, attribute), MoneyLedger):  # its route is bound to it: refilled in place
                getattr(api.shop, attribute).entries = value
            else:
                setattr(api.shop, attribute, value)


def _data(shop: object) -> dict[str, Any]:
    """What a stub's shop holds: its public attributes (not its locks and id counters), a ledger's entries."""
    return {
        attribute: copy.deepcopy(value.entries if isinstance(value, MoneyLedger) else value)
        for attribute, value in vars(shop).items()
        if not attribute.startswith("_")
    }


def test_every_platform_has_a_case() -> None:
    assert {case.platform for case in CASES} == set(platform_names())


def _ledger(runtime: LocalRuntime, platform: str, order_id: str) -> list[tuple[str, Decimal, bool]]:
    answer = post(f"{runtime.platform_apis[platform].url}/_stub/ledger/{order_id}", b"", {}, method="GET")
    if answer.status == 404:  # a platform whose API moves no money keeps no ledger
        return []
    return [(entry["kind"], Decimal(entry["amount"]), entry["online"]) for entry in answer.body["entries"]]


def _fresh_store(runtime: LocalRuntime, platform: str) -> str:
    """The platform's demo store again under a new id: the same shop (its stub, its identity, its secret), so the
    sample order is a new order here and the money this test moves is this test's alone."""
    entry: dict[str, Any] = json.loads(json.dumps(demo_stores()[platform]))
    entry["store_id"] = f"money-{platform}-{next(_stores)}"
    runtime.register_store(entry)
    return str(entry["store_id"])


def _deliver(runtime: LocalRuntime, case: Case, store_id: str) -> HttpAnswer:
    if case.card:  # a fresh order id the WooCommerce stub takes as any order, paid through a gateway that refunds
        body, _ = order_body((WOO_EVENTS / "order_updated_paid.json").read_bytes(), payment_method="stripe")
        return send_woocommerce(runtime.api_url, store_id, body, SECRET)
    delivery = paid_delivery(case.platform)
    return post(f"{runtime.api_url}/webhooks/{case.platform}/{store_id}", delivery.body, delivery.headers)


def _order(key: str) -> Order:
    found = container().orders.get(key)
    assert found is not None
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.platform}: {case.paid_with}")
def test_a_paid_order_cancelled_mid_fulfillment_gives_the_money_back_once_where_it_is(
    runtime: LocalRuntime, simulators: SimulatorConfig, stubs_as_they_were: None, case: Case
) -> None:
    simulators.inspection_after = 30.0  # the warehouse takes its time: the order is cancelled while it inspects
    store_id = _fresh_store(runtime, case.platform)
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
    cancelled = _order(key)
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
