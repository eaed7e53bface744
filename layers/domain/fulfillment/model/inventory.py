"""Stock per warehouse and SKU, one reservation per order, and what a store wants when stock runs out.

Every stock level keeps ``available = on_hand - reserved``:

* reserving takes from ``available`` into ``reserved``;
* releasing (compensation) gives ``reserved`` back to ``available``;
* consuming (the parcel left) takes the units out of ``on_hand`` and ``reserved``: ``available`` stays;
* restocking adds to ``on_hand`` and ``available``.

An order has at most one reservation, ever: ``held`` until it is ``released`` or ``consumed``, both
final. Reserving again for the same order returns that reservation and takes nothing, so a retried
or re-run step never takes stock twice, and a late retry after a release cannot take it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fulfillment.model.order import Order, Sku
from fulfillment.model.store import Store

# No "#": warehouse and SKU share the stock item's key, so the separator must not occur in the first.
WarehouseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
DEFAULT_WAREHOUSE = "main"

POLICY_OPTION = "out_of_stock"  # Store.options key: wait | partial | cancel


class OutOfStockPolicy(StrEnum):
    """What a store wants when an order asks for more than is available.

    * ``WAIT``: reserve nothing and wait for a restock: reserving raises ``OutOfStock``, and the state
      machine asks again hourly for a day, then gives up as ``CANCEL`` would.
    * ``PARTIAL``: reserve what is available and fulfil that; the rest is reported as ``short``.
      Only when nothing at all is available does reserving raise ``OutOfStock``.
    * ``CANCEL``: reserve nothing and stop: reserving raises ``OutOfStock``.
    """

    WAIT = "wait"
    PARTIAL = "partial"
    CANCEL = "cancel"


DEFAULT_POLICY = OutOfStockPolicy.WAIT


def out_of_stock_policy(store: Store) -> OutOfStockPolicy:
    """The store's ``out_of_stock`` option (any case, surrounding blanks ignored); ``wait`` if unset.

    Any other value raises ``ValueError``: a typo must not silently change what happens to orders.
    """
    raw = store.options.get(POLICY_OPTION, "").strip().lower()
    if not raw:
        return DEFAULT_POLICY
    try:
        return OutOfStockPolicy(raw)
    except ValueError:
        allowed = ", ".join(policy.value for policy in OutOfStockPolicy)
        raise ValueError(f"store {store.store_id}: option {POLICY_OPTION}={raw!r} is not one of {allowed}") from None


class StockLevel(BaseModel):
    """One SKU in one warehouse. ``available`` is what a new reservation may take."""

    model_config = ConfigDict(frozen=True)

    warehouse: WarehouseId
    sku: Sku
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class ReservedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: Sku
    quantity: int = Field(gt=0)
    line_id: str


ReservationStatus = Literal["held", "released", "consumed"]


class Reservation(BaseModel):
    """The units held for one order in one warehouse.

    ``lines`` are the order lines (by ``line_id``) with what was reserved for each: all of it, or
    under ``PARTIAL`` what was available; ``short`` is what the order wanted beyond that, per SKU.
    """

    model_config = ConfigDict(frozen=True)

    order_key: str
    warehouse: WarehouseId
    lines: tuple[ReservedLine, ...] = Field(min_length=1)
    status: ReservationStatus = "held"
    short: dict[str, int] = Field(default_factory=dict)

    def quantities(self) -> dict[str, int]:
        """Reserved units per SKU (an SKU on several lines counted once, summed)."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return totals


class ReservationOutcome(BaseModel):
    """What reserving did.

    ``policy_applied`` is ``PARTIAL`` when the order was reserved in part (``short`` says what is
    missing) and ``None`` when it was reserved in full. ``WAIT`` and ``CANCEL`` never produce an
    outcome: they raise ``OutOfStock``. The adapters always return a reservation; ``None`` is left
    for callers that describe "nothing reserved" without an exception.
    """

    model_config = ConfigDict(frozen=True)

    reservation: Reservation | None
    short: dict[str, int] = Field(default_factory=dict)
    policy_applied: OutOfStockPolicy | None = None

    @property
    def complete(self) -> bool:
        return self.reservation is not None and not self.short

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationOutcome:
        """The outcome a reservation stands for: the same the first time and on every replay."""
        return cls(
            reservation=reservation,
            short=dict(reservation.short),
            policy_applied=OutOfStockPolicy.PARTIAL if reservation.short else None,
        )


# --- arithmetic the adapters share -----------------------------------------------------------------
def requested_quantities(order: Order) -> dict[str, int]:
    """Units per SKU the order asks for, in the order SKUs first appear (an SKU on two lines is summed)."""
    totals: dict[str, int] = {}
    for line in order.lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def shortfall(wanted: Mapping[str, int], available: Mapping[str, int]) -> dict[str, int]:
    """Per SKU, what ``wanted`` asks beyond ``available`` (an SKU missing from ``available`` has none)."""
    short: dict[str, int] = {}
    for sku, quantity in wanted.items():
        missing = quantity - max(available.get(sku, 0), 0)
        if missing > 0:
            short[sku] = missing
    return short


def reducible_to(wanted: Mapping[str, int], available: Mapping[str, int]) -> dict[str, int]:
    """What ``PARTIAL`` takes: per SKU the smaller of wanted and available, SKUs with nothing left out."""
    taken = {sku: min(quantity, max(available.get(sku, 0), 0)) for sku, quantity in wanted.items()}
    return {sku: quantity for sku, quantity in taken.items() if quantity > 0}


def allocate(order: Order, quantities: Mapping[str, int]) -> tuple[ReservedLine, ...]:
    """Spread the units taken per SKU over the order's lines, first line first; lines left with none are omitted."""
    left = dict(quantities)
    lines: list[ReservedLine] = []
    for line in order.lines:
        take = min(line.quantity, left.get(line.sku, 0))
        if take > 0:
            lines.append(ReservedLine(sku=line.sku, quantity=take, line_id=line.line_id))
            left[line.sku] -= take
    return tuple(lines)
