"""Returns and refunds the stores report on a delivered order."""

from __future__ import annotations

from fulfillment.aggregates import update_order
from fulfillment.errors import ReturnInvalid
from fulfillment.model import Money, Order
from fulfillment.model.order import StoreReturnReport
from fulfillment.model.returns import ReturnSource, ReturnStatus, delivered_quantities, return_key
from fulfillment.model.writeback import UpdateKind
from fulfillment.ports import OpenReturnDeps, OrderRepository
from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return


def take_store_returns(reports: tuple[StoreReturnReport, ...], order: Order, deps: OpenReturnDeps) -> Order:
    """A delivered order's refunds and returns made in the store: goods named → a return (source STORE, the
    money already moved there), so they are expected back, inspected and restocked; no goods named → a note.
    Each store id is taken once, however often the store repeats it. Returns the order as it now stands."""
    for report in reports:
        if _is_our_own_refund(report, order):
            continue
        if report.lines and _return_still_to_open(report, order, deps):
            _open_store_return(report, order, deps)
        elif not report.lines and report.external_id not in order.returns.store_refunds_noted:
            _note_store_refund(report, order, deps.orders)
        order = deps.orders.get(order.key) or order
    return order


def _is_our_own_refund(report: StoreReturnReport, order: Order) -> bool:
    """A refund our write-back made carries its update key (``<order key>:refunded:…``) in its reason."""
    return f"{order.key}:{UpdateKind.REFUNDED}:" in report.reason


def _return_still_to_open(report: StoreReturnReport, order: Order, deps: OpenReturnDeps) -> bool:
    number = order.returns.store_returns.get(report.external_id)
    if number is None:
        return True
    opened = deps.returns.get(return_key(order.key, number))
    return opened is None or opened.status is ReturnStatus.REQUESTED  # its execution may not have started


def _open_store_return(report: StoreReturnReport, order: Order, deps: OpenReturnDeps) -> None:
    # Imported here: only a delivered order's refund needs the return workflow, so intake's cold start does not.

    delivered = delivered_quantities(order)
    # A store reports what it refunded; what a partial fulfillment never sent cannot come back.
    lines = [
        ReturnLineRequest(line_id=line.line_id, quantity=min(line.quantity, delivered.get(line.line_id, line.quantity)))
        for line in report.lines
        if delivered.get(line.line_id, line.quantity) > 0
    ]
    if not lines:
        _note_store_refund(report, order, deps.orders)
        return
    request = ReturnRequest(
        order_key=order.key,
        lines=lines,
        reason=(report.reason or f"refunded on {order.platform}")[:200],
        source=ReturnSource.STORE,
        requested_by=order.platform,
        external_id=report.external_id,
        refunded_by_store_minor=report.refunded_minor or None,
    )
    try:
        request_return(request, deps)
    except ReturnInvalid as error:  # a line we never had: tell ops once, never refuse the store's delivery
        _note_once(deps.orders, order.key, report.external_id, f"{order.platform} refund {report.external_id}: {error}")


def _note_store_refund(report: StoreReturnReport, order: Order, orders: OrderRepository) -> None:
    amount = Money(minor=report.refunded_minor, currency=order.currency)
    _note_once(orders, order.key, report.external_id, f"refunded {amount} on {order.platform}; no goods expected back")


def _note_once(orders: OrderRepository, key: str, external_id: str, text: str) -> None:
    def note(order: Order) -> None:
        if external_id not in order.returns.store_refunds_noted:
            order.returns.store_refunds_noted.append(external_id)
            order.note(text, store_refund=external_id)

    update_order(orders, key, note)
