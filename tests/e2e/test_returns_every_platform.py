"""Returns end to end on every platform (issue #11): a paid order, delivered twice by its store, is fulfilled once;
a return of one unit is paid back where the money is, exactly once — an online refund in the platform stub's ledger
of that unit's price, or, where the API cannot move the money, a refund due of it (an alert, ``orders show``, no
money moved, the return REFUND_DUE and never "refunded") until a person confirms the payout. Returning the rest
completes the return of the order; asking for the same unit again is refused and moves nothing."""

from __future__ import annotations

import json

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import Money, OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import amount_to_collect
from fulfillment.model.returns import ReturnStatus
from local.client import post, send_woocommerce
from local.deliveries import paid_delivery
from local.runtime import LocalRuntime
from tests.conftest import WOO_EVENTS
from tests.e2e.conftest import fresh_store, stored_order
from tests.e2e.test_money_every_platform import CASES, Case, _ledger
from tests.e2e.test_returns import start_return, the_return
from tests.e2e.test_workflow_scenarios import SECRET, cli, order_body

pytestmark = pytest.mark.e2e


def _deliver_twice(runtime: LocalRuntime, case: Case, store_id: str) -> str:
    """The paid order, delivered twice (a store's retry): the second delivery is the same order, not another."""
    if case.card:  # a fresh WooCommerce order id, paid through the Stripe extension (it refunds)
        body, _ = order_body((WOO_EVENTS / "order_updated_paid.json").read_bytes(), payment_method="stripe")
        answers = [send_woocommerce(runtime.api_url, store_id, body, SECRET) for _ in range(2)]
    else:
        delivery = paid_delivery(case.platform)
        url = f"{runtime.api_url}/webhooks/{case.platform}/{store_id}"
        answers = [post(url, delivery.body, delivery.headers) for _ in range(2)]
    assert all(answer.status in (200, 202) for answer in answers), [answer.body for answer in answers]
    keys = {str(answer.body["order_key"]) for answer in answers}
    assert len(keys) == 1, keys
    return keys.pop()


def _completed(runtime: LocalRuntime, key: str) -> None:
    store_id, external_id = key.split(":", 1)
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=120)
    assert execution["status"] == "SUCCEEDED", execution
    assert stored_order(key).status is OrderStatus.COMPLETED


def _refund_due_alerts(key: str) -> list[str]:
    return [e.reason for e in container().orders.timeline(key) if e.detail.get("alert") == "refund_due"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.platform}: {case.paid_with}")
def test_a_return_on_every_platform_is_paid_back_once_where_the_money_is_or_is_due(
    runtime: LocalRuntime, stubs_as_they_were: None, case: Case
) -> None:
    store_id = fresh_store(runtime, case.platform)
    key = _deliver_twice(runtime, case, store_id)
    _completed(runtime, key)
    external_id = key.split(":", 1)[1]
    delivered = stored_order(key)
    first = delivered.lines[0]
    before = _ledger(runtime, case.platform, external_id)

    return_key, execution = start_return(runtime, key, f"{first.line_id}:1")

    assert execution["status"] == "SUCCEEDED", the_return(return_key).failure
    unit = first.unit_price
    moved = _ledger(runtime, case.platform, external_id)[len(before) :]
    ret = the_return(return_key)
    if case.paid_back:
        assert moved == [("refund", unit.to_decimal(), True)]  # once, to the original method
        assert ret.status is ReturnStatus.CLOSED and ret.refund == unit
        assert stored_order(key).payment.outstanding_refunds == []
    else:
        assert moved == ([("refund", unit.to_decimal(), False)] if case.recorded else [])  # no money moved
        assert ret.status is ReturnStatus.REFUND_DUE and ret.refund is None  # never "refunded" before it is
        [due] = stored_order(key).payment.outstanding_refunds
        assert due.amount == unit and due.paid_out_at is None
        [alert] = _refund_due_alerts(key)
        assert str(unit) in alert
        shown = json.loads(cli(runtime, "orders", "show", key).stdout)
        assert [due["amount"] for due in shown["refunds_due"]] == [str(unit)]
        done = cli(runtime, "orders", "confirm-refund", key, "--reference", "PAYOUT-1", "--by", "cs-anna")
        assert done.returncode == 0, done.stderr + done.stdout
        assert the_return(return_key).status is ReturnStatus.CLOSED
        assert stored_order(key).payment.outstanding_refunds == []

    # The rest of the order comes back too: what is paid back (or due) never passes what the customer paid.
    rest_lines = [f"{line.line_id}:{line.quantity - (line is first)}" for line in delivered.lines]
    rest_lines = [line for line in rest_lines if not line.endswith(":0")]
    paid = amount_to_collect(delivered)
    owed_back = min(sum(line.subtotal.minor for line in delivered.lines), paid.minor) - unit.minor
    last_key, last_execution = start_return(runtime, key, *rest_lines)

    assert last_execution["status"] == "SUCCEEDED", the_return(last_key).failure
    assert stored_order(key).status is OrderStatus.RETURNED
    moved = _ledger(runtime, case.platform, external_id)[len(before) :]
    back = [amount for _, amount, online in moved[1:] if online]
    dues = [refund.amount.minor for refund in stored_order(key).payment.outstanding_refunds]
    if case.paid_back:
        assert sum(back) == Money(minor=owed_back, currency=delivered.currency).to_decimal()
    else:
        assert sum(dues) == owed_back

    # Asking for the same unit again finds nothing left to return: rejected, nothing moves.
    again_key, _ = start_return(runtime, key, f"{first.line_id}:1")
    assert the_return(again_key).status is ReturnStatus.REJECTED
    assert _ledger(runtime, case.platform, external_id)[len(before) :] == moved
