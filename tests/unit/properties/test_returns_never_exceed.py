"""Any sequence of returns against one order, interleaved in any order, never takes back, restocks or
refunds more than was delivered."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fulfillment.errors import ReturnNotAllowed
from fulfillment.model import OrderStatus
from fulfillment.model.returns import ReturnStatus
from fulfillment.returns.authorize import authorize_return
from fulfillment.returns.close import close_return
from fulfillment.returns.dispose import dispose_return
from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return
from fulfillment.returns.resolve import resolve_return
from fulfillment.returns.waits import ReturnLineReport, ReturnReport, park_return_wait, record_return_report
from tests.fakes import FulfillmentWorld, make_line, money

LINES = {"301": ("MUG-CC-BLU", 2, "14.50"), "302": ("TEE-ORG-M-GRN", 1, "29.00")}
STEPS = ("authorize", "receive", "inspect", "dispose", "resolve", "close")

a_return = st.fixed_dictionaries(
    {
        "lines": st.lists(
            st.tuples(st.sampled_from(sorted(LINES)), st.integers(min_value=1, max_value=3)), min_size=1, max_size=2
        ),
        "result": st.sampled_from(["passed", "failed"]),
        "resellable": st.booleans(),
        "resolution": st.sampled_from(["refund", "replacement"]),
    }
)


def _world() -> tuple[FulfillmentWorld, str]:
    world = FulfillmentWorld()
    lines = tuple(
        make_line(line_id=line_id, sku=sku, quantity=qty, unit_price=money(price))
        for line_id, (sku, qty, price) in LINES.items()
    )
    key = world.order_at(OrderStatus.COMPLETED, lines=lines, stock=5)
    return world, key


def _advance(world: FulfillmentWorld, return_key: str, step: str, spec: dict[str, Any]) -> None:
    ret = world.returns.get(return_key)
    assert ret is not None
    if ret.status in (ReturnStatus.REJECTED, ReturnStatus.EXPIRED, ReturnStatus.CLOSED):
        return
    if step == "authorize":
        authorize_return(return_key, world)
    elif step == "receive" and ret.rma:
        park_return_wait(return_key, f"goods-{return_key}", "goods", world)
        record_return_report(ReturnReport(return_key=return_key, rma=ret.rma, event="received"), world)
    elif step == "inspect" and ret.status is ReturnStatus.RECEIVED and ret.rma:
        report = [
            ReturnLineReport(line_id=line.line_id, result=spec["result"], resellable=spec["resellable"])
            for line in ret.lines
        ]
        park_return_wait(return_key, f"inspection-{return_key}", "inspection", world)
        record_return_report(ReturnReport(return_key=return_key, rma=ret.rma, event="inspected", lines=report), world)
    elif step == "dispose":
        dispose_return(return_key, world)
    elif step == "resolve":
        resolve_return(return_key, world)
    elif step == "close" and ret.status in (ReturnStatus.REFUNDED, ReturnStatus.REPLACED, ReturnStatus.REFUSED):
        close_return(return_key, "closed", world)


@settings(max_examples=150, deadline=None)
@given(returns=st.lists(a_return, min_size=1, max_size=4), order_seed=st.randoms(use_true_random=False))
def test_returns_in_any_interleaving_stay_within_what_was_delivered(
    returns: list[dict[str, Any]], order_seed: Any
) -> None:
    world, key = _world()
    opened: list[tuple[str, dict[str, Any]]] = []
    for spec in returns:
        request = ReturnRequest(
            order_key=key,
            lines=[ReturnLineRequest(line_id=line_id, quantity=qty) for line_id, qty in spec["lines"]],
            reason="defective",
            resolution=spec["resolution"],
        )
        try:
            opened.append((request_return(request, world).key, spec))
        except ReturnNotAllowed:
            break  # every delivered unit is back: the order is RETURNED… and still takes none
    # Any interleaving that keeps each return's own steps in order.
    positions = {return_key: 0 for return_key, _ in opened}
    pending = list(opened)
    while pending:
        return_key, spec = order_seed.choice(pending)
        _advance(world, return_key, STEPS[positions[return_key]], spec)
        positions[return_key] += 1
        if positions[return_key] == len(STEPS):
            pending.remove((return_key, spec))

    order = world.stored(key)
    delivered = {line_id: qty for line_id, (_, qty, _) in LINES.items()}
    for line_id, units in delivered.items():
        assert order.returns.returned.get(line_id, 0) <= units
        assert order.returns.claims.get(line_id, 0) <= units
    restocked_by_sku: dict[str, int] = {}
    for reference, units in world.inventory.restocked.items():
        line_id = reference.rsplit(":", 1)[1]
        sku = LINES[line_id][0]
        restocked_by_sku[sku] = restocked_by_sku.get(sku, 0) + units
    for sku, qty, _ in LINES.values():
        assert restocked_by_sku.get(sku, 0) <= qty
    refunded = sum(r.amount_minor or 0 for r in world.notifier.requests if r.kind.value == "refunded")
    assert refunded <= 2 * 1450 + 2900
    replaced = dict.fromkeys(delivered, 0)
    for replacement in order.returns.replacements:
        for line in world.stored(replacement).lines:
            replaced[line.line_id] += line.quantity
    for line_id, units in delivered.items():  # refunded and replaced units together: never more than delivered
        assert replaced[line_id] <= order.returns.returned.get(line_id, 0) <= units
