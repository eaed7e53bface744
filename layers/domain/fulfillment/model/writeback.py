"""What the workflow tells a store, platform-neutral. Each platform's client turns it into API calls."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from fulfillment.model.money import Money
from fulfillment.model.order import Order


class UpdateKind(StrEnum):
    PROCESSING = "processing"  # we accepted the order for fulfillment
    SHIPPED = "shipped"  # a shipment with carrier and tracking number
    COMPLETED = "completed"  # delivered and paid
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # money given back by the store (a cancellation, or a return of a store-paid order)
    RETURNED = "returned"  # a return was resolved (refunded by our gateway or the store, or replaced): a note


class StoreUpdate(BaseModel):
    """One write-back. ``key`` is stable per (order, kind, payload): a retry carries the same key."""

    model_config = ConfigDict(frozen=True)

    kind: UpdateKind
    order: Order
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    amount: Money | None = None
    reason: str = ""
    reference: str = ""  # what the update is about when an order has several (a return's key)

    @property
    def key(self) -> str:
        """Marks what a write-back created, so a retry finds it: per shipment, per refund amount, per kind."""
        if self.kind is UpdateKind.SHIPPED:
            return f"{self.order.key}:{self.kind}:{self.tracking_number or ''}"
        if self.reference:  # two returns of the same value are two refunds
            return f"{self.order.key}:{self.kind}:{self.reference}"
        if self.kind is UpdateKind.REFUNDED:
            return f"{self.order.key}:{self.kind}:{self.amount.minor if self.amount else ''}"
        return f"{self.order.key}:{self.kind}"


def partial_shipment_note(order: Order) -> str | None:
    """What a shipment left behind, for platforms whose API ships a whole order (a note beside the tracking):
    None when every unit shipped. Quantities from ``Order.shipped_quantities``."""
    shipped = order.shipped_quantities()
    left = [(line, line.quantity - shipped.get(line.line_id, 0)) for line in order.lines]
    missing = [f"{units} x {line.name or line.sku} ({line.sku})" for line, units in left if units > 0]
    if not missing:
        return None
    sent = [f"{shipped[line.line_id]} x {line.name or line.sku}" for line in order.lines if shipped.get(line.line_id)]
    return f"Partial shipment: shipped {', '.join(sent) or 'nothing'}; not shipped: {', '.join(missing)}."


class WriteBackResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    done: bool  # the store now reflects the update
    already: bool = False  # it did before this call (a retry); nothing new was created
    reference: str | None = None  # the platform's id for what was created (shipment, refund, note)


class WriteBackRequest(BaseModel):
    """An outbox message: tell the order's store about ``kind`` (the worker re-reads the order)."""

    model_config = ConfigDict(frozen=True)

    order_key: str
    kind: UpdateKind
    reason: str = ""
    amount_minor: int | None = None  # refunds: how much, in the order's currency
    reference: str = ""  # a return's key: several returns of one order are several updates

    @property
    def dedupe_id(self) -> str:
        amount = self.amount_minor if self.amount_minor is not None else ""
        return f"{self.order_key}:{self.kind}:{amount}" + (f":{self.reference}" if self.reference else "")
