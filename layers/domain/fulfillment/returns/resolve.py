"""Resolve return: refund the passed lines, or a replacement order for them; refused when nothing passed."""

from __future__ import annotations

from datetime import UTC, datetime

from fulfillment.aggregates import load_order, load_return, update_return
from fulfillment.errors import VersionConflict
from fulfillment.model import Money, Order, OrderStatus
from fulfillment.model.order import REPLACES_REF, RETURN_REF, Totals
from fulfillment.model.payment import PAYMENT_METHOD_REF, PaymentMethod, payment_method, refund_key
from fulfillment.model.returns import (
    Resolution,
    Return,
    ReturnStatus,
    add_units,
    delivered_quantities,
    replacement_external_id,
)
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import ReturnDeps
from fulfillment.refunds import GivenBack, give_back
from fulfillment.refunds import record as record_given_back

S = ReturnStatus


def resolve_return(key: str, deps: ReturnDeps) -> Return:
    """Refund the passed lines, or start a replacement order for them; refuse when nothing passed."""
    ret = load_return(deps.returns, key)
    if ret.status is not S.INSPECTED:
        return ret
    order = load_order(deps.orders, ret.order_key)
    if not ret.passed_lines():
        update_return(deps, key, _refuse)
    elif ret.resolution is Resolution.REPLACEMENT:
        replacement = _create_replacement(ret, order, deps)
        update_return(deps, key, lambda r, o: _record_replacement(r, o, replacement))
        deps.workflow.start(replacement)  # named after the replacement: a retry starts nothing new
    else:
        _refund(ret, order, deps)
    return load_return(deps.returns, key)


def _refuse(ret: Return, order: Order) -> None:
    if ret.status is not S.INSPECTED:
        return
    why = "no line passed inspection: " + "; ".join(f"{line.sku}: {line.notes or 'failed'}" for line in ret.lines)
    ret.transition_to(S.REFUSED, why)
    _settle_failed_lines(ret, order)
    order.note(f"return R{ret.number} refused: {why}", return_key=ret.key)


def _settle_failed_lines(ret: Return, order: Order) -> None:
    """Units sent back to the customer are theirs again (and may be returned again); written-off ones stay counted."""
    back = {line.line_id: line.quantity for line in ret.lines if line.disposition == "return_to_customer"}
    if back:
        add_units(order.returns.claims, back, sign=-1)


def _take_back(ret: Return, order: Order) -> None:
    """The passed units are returned for good: the order's status says how much of it came back."""
    add_units(order.returns.returned, {line.line_id: line.quantity for line in ret.passed_lines()})
    _settle_failed_lines(ret, order)
    delivered = delivered_quantities(order)
    everything = all(order.returns.returned.get(line_id, 0) >= units for line_id, units in delivered.items())
    target = OrderStatus.RETURNED if everything else OrderStatus.PARTIALLY_RETURNED
    if order.status is not target:
        order.transition_to(target, f"return R{ret.number}: {_units(ret)} unit(s) taken back", return_key=ret.key)
    else:
        order.note(f"return R{ret.number}: {_units(ret)} more unit(s) taken back", return_key=ret.key)


def _units(ret: Return) -> int:
    return sum(line.quantity for line in ret.passed_lines())


def _refund(ret: Return, order: Order, deps: ReturnDeps) -> None:
    amount = ret.passed_value(order.currency)
    key = refund_key(ret.key)
    given: GivenBack | None = None
    if ret.refunded_by_store is not None:
        reference, how = "store", f"refunded by the store ({ret.refunded_by_store})"
    else:
        # The one path money goes back by: the gateway, the platform to the original method, or a refund due.
        given = give_back(order, amount, key, f"return R{ret.number}: {ret.reason}", deps)
        reference = given.reference or given.status
        how = (
            f"refund of {given.amount} due: {given.why}; not yet paid"
            if given.status == "due"
            else f"refunded {given.amount} through {_through(order)}"
        )
    notice = WriteBackRequest(order_key=order.key, kind=UpdateKind.RETURNED, reason=how, reference=ret.key)

    def record(current: Return, current_order: Order) -> None:
        if current.status is not S.INSPECTED:
            return
        if given is not None:
            record_given_back(current_order, given, key, f"return R{ret.number}")
        if given is not None and given.status == "due":
            # Owed, not paid: the return stays open on the refund (REFUND_DUE) until a person confirms the payout.
            current.refund_reference = f"due:{key}"
            current.transition_to(S.REFUND_DUE, how, amount=str(amount), reference=key)
            _take_back(current, current_order)
            return
        paid = given.amount if given is not None else amount  # capped at what the customer paid
        current.refund, current.refund_reference = paid, reference
        current.transition_to(S.REFUNDED, how, amount=str(paid), reference=reference)
        _take_back(current, current_order)

    update_return(deps, ret.key, record)
    deps.notifier.notify(notice)  # deduped per return: a re-run tells the store nothing twice


def _through(order: Order) -> str:
    method = payment_method(order)
    return (
        "the payment gateway"
        if method in (PaymentMethod.AUTHORIZED, PaymentMethod.CASH_ON_DELIVERY)
        else order.platform
    )


def _create_replacement(ret: Return, order: Order, deps: ReturnDeps) -> Order:
    """A new order for the passed lines, at no charge, linked to the original both ways."""
    external_id = replacement_external_id(order, ret.number)
    existing = deps.orders.get(f"{order.store_id}:{external_id}")
    if existing is not None:
        return existing  # created by an earlier attempt of this step
    zero = Money.zero(order.currency)
    lines = tuple(
        line.model_copy(update={"quantity": returned.quantity})
        for returned in ret.passed_lines()
        for line in order.lines
        if line.line_id == returned.line_id
    )
    items = sum((line.subtotal for line in lines), zero)
    now = datetime.now(UTC)
    refs = {k: v for k, v in order.platform_refs.items() if k != PAYMENT_METHOD_REF}
    # A new order carrying over only who and where: fulfillment state, payment and returns start afresh.
    replacement = Order(
        store_id=order.store_id,
        platform=order.platform,
        external_id=external_id,
        number=f"{order.number}-R{ret.number}",
        currency=order.currency,
        customer=order.customer,
        billing_address=order.billing_address,
        shipping_address=order.shipping_address,
        lines=lines,
        totals=Totals(items=items, shipping=zero, tax=zero, discount=items, grand_total=zero),
        placed_at=now,
        source_modified_at=now,
        paid=True,
        platform_refs=refs | {REPLACES_REF: order.key, RETURN_REF: ret.key},
    )
    replacement.record_receipt(f"replacement for return R{ret.number} of order {order.key}")
    try:
        deps.orders.create(replacement)
    except VersionConflict:
        return load_order(deps.orders, replacement.key)
    return replacement


def _record_replacement(ret: Return, order: Order, replacement: Order) -> None:
    if ret.status is not S.INSPECTED:
        return
    ret.replacement_order_key = replacement.key
    ret.transition_to(S.REPLACED, f"replacement order {replacement.key} started", replacement=replacement.key)
    if replacement.key not in order.returns.replacements:
        order.returns.replacements.append(replacement.key)
    _take_back(ret, order)
    order.note(f"replacement order {replacement.key} for return R{ret.number}", replacement=replacement.key)
