"""Ship order: capture first where the store captures at shipment, buy the labels, take the stock, tell the store."""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance
from fulfillment.steps.labels import buy_labels, package_rows
from fulfillment.steps.payment import capture, due_at


def ship_order(key: str, deps: StepDeps) -> Order:
    def ship(order: Order) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        if due_at(order, deps) is OrderStatus.SHIPPED:
            detail["captured"] = capture(order, deps)  # first: a declined card ships nothing and takes no stock
        buy_labels(order, deps)  # one label per package, each bought once (see steps/labels.py)
        first = next((package.label for package in order.packages if package.label), None)
        if first is not None:  # the order-level fields the store write-back reads: the first parcel's
            order.carrier, order.tracking_number = first.carrier, first.tracking_number
        cost = order.shipping_cost
        return detail | {
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "labels": package_rows(order),
            "shipping_cost": str(cost) if cost else None,
        }

    order = advance(deps, key, OrderStatus.SHIPPED, "handed to the carrier", ship)
    # After the save, on every run: units leave the shelf only once the order has shipped (a ship step that
    # fails before its save leaves the reservation for compensation to release), and consuming is idempotent.
    deps.inventory.consume(order.attempt_ref())
    deps.notifier.notify(WriteBackRequest(order_key=key, kind=UpdateKind.SHIPPED))  # also on a re-run: deduped
    return order
