"""The inventory port (to be merged into ``ports.py``): stock levels and one reservation per order.

Every method is safe under Step Functions retries and re-runs: reserving twice for the same order
takes stock once, releasing or consuming twice changes stock once. A reservation is keyed on
``Order.attempt_ref()`` (the order key, or ``<key>:a<n>`` for a reopened order's later attempt): that is
the ``order_key`` ``release``, ``consume`` and ``reservation`` take.
"""

from __future__ import annotations

from typing import Protocol

from fulfillment.model import Order
from fulfillment.model.inventory import OutOfStockPolicy, Reservation, ReservationOutcome, StockLevel


class Inventory(Protocol):
    def reserve(self, order: Order, policy: OutOfStockPolicy) -> ReservationOutcome:
        """Hold the order's units in one atomic step: all lines or none (under ``PARTIAL``, all that is available).

        Idempotent per order: if the order has a reservation, it is returned unchanged and nothing
        is taken, whatever the policy or the stock now (a released or consumed one too, with its
        status; the caller decides what a closed reservation means). An unknown SKU counts as none
        available. Raises ``OutOfStock`` (with ``short``) and reserves nothing under ``WAIT`` and
        ``CANCEL`` when any SKU is short, and under ``PARTIAL`` when nothing at all is available;
        ``OrderInvalid`` for an order with no lines or more SKUs than one transaction can hold;
        ``TransientError`` when the store is throttled or contended (retry).
        """

    def release(self, order_key: str) -> bool:
        """Compensation: give a held reservation's units back (``held`` → ``released``).

        True if this call released it; False if nothing was held (no reservation, or one already
        released or consumed), in which case no stock changes.
        """

    def consume(self, order_key: str) -> None:
        """The order shipped: its held units leave the warehouse (``held`` → ``consumed``).

        ``on_hand`` and ``reserved`` drop by the reserved units; ``available`` does not change.
        Consuming a consumed reservation does nothing. Raises ``ReservationNotFound`` if the order
        has no reservation or it was released (its units may already be someone else's).
        """

    def restock(self, warehouse: str, sku: str, quantity: int) -> StockLevel:
        """Add ``quantity`` (> 0) units to ``on_hand`` and ``available``; creates the SKU. Not idempotent."""

    def restock_once(self, reference: str, sku: str, quantity: int) -> bool:
        """Put returned units back into the warehouse this inventory reserves from, once per ``reference`` (a
        returned line): False, and nothing added, if that was done before."""

    def level(self, warehouse: str, sku: str) -> StockLevel | None: ...

    def reservation(self, order_key: str) -> Reservation | None: ...
