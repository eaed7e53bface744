"""An in-memory ``Inventory`` (``fulfillment.inventory_ports``) with the contract of ``DynamoInventory``.

``tests/integration/test_inventory_dynamodb.py`` runs the same contract tests against both. One lock
makes every method atomic, as each DynamoDB transaction is, so it can be raced from threads too.
"""

from __future__ import annotations

import threading

from fulfillment.errors import OrderInvalid, OutOfStock, ReservationNotFound
from fulfillment.model import Order
from fulfillment.model.inventory import (
    DEFAULT_WAREHOUSE,
    OutOfStockPolicy,
    Reservation,
    ReservationOutcome,
    StockLevel,
    allocate,
    reducible_to,
    requested_quantities,
    shortfall,
)


class InMemoryInventory:
    def __init__(self, warehouse: str = DEFAULT_WAREHOUSE) -> None:
        StockLevel(warehouse=warehouse, sku="-")  # the same warehouse id rule as the adapter
        self.warehouse = warehouse
        self._stock: dict[tuple[str, str], tuple[int, int]] = {}  # (warehouse, sku) → (on_hand, reserved)
        self._reservations: dict[str, str] = {}  # order key → Reservation JSON, so callers never share objects
        self._lock = threading.Lock()
        self.reserve_calls = 0
        self.restocked: dict[str, int] = {}  # restock_once references → units

    # reads
    def level(self, warehouse: str, sku: str) -> StockLevel | None:
        with self._lock:
            stored = self._stock.get((warehouse, sku))
        if stored is None:
            return None
        return StockLevel(warehouse=warehouse, sku=sku, on_hand=stored[0], reserved=stored[1])

    def reservation(self, order_key: str) -> Reservation | None:
        with self._lock:
            stored = self._reservations.get(order_key)
        return Reservation.model_validate_json(stored) if stored is not None else None

    # writes
    def reserve(self, order: Order, policy: OutOfStockPolicy) -> ReservationOutcome:
        wanted = requested_quantities(order)
        if not wanted:
            raise OrderInvalid(f"order {order.key} has no lines to reserve")
        with self._lock:
            self.reserve_calls += 1
            existing = self._reservations.get(order.attempt_ref())
            if existing is not None:
                return ReservationOutcome.of(Reservation.model_validate_json(existing))
            available = {sku: self._available(sku) for sku in wanted}
            short = shortfall(wanted, available)
            taking = dict(wanted)
            if short:
                taking = reducible_to(wanted, available)
                if policy is not OutOfStockPolicy.PARTIAL or not taking:
                    raise OutOfStock(short, policy.value)
            reservation = Reservation(
                order_key=order.attempt_ref(), warehouse=self.warehouse, lines=allocate(order, taking), short=short
            )
            for sku, quantity in taking.items():
                on_hand, reserved = self._stock[(self.warehouse, sku)]
                self._stock[(self.warehouse, sku)] = (on_hand, reserved + quantity)
            self._reservations[order.attempt_ref()] = reservation.model_dump_json()
            return ReservationOutcome.of(reservation)

    def release(self, order_key: str) -> bool:
        with self._lock:
            held = self._held(order_key)
            if held is None:
                return False
            for sku, quantity in held.quantities().items():
                on_hand, reserved = self._stock.get((held.warehouse, sku), (0, 0))
                self._stock[(held.warehouse, sku)] = (on_hand, reserved - quantity)
            self._close(held, "released")
            return True

    def consume(self, order_key: str) -> None:
        with self._lock:
            stored = self._reservations.get(order_key)
            current = Reservation.model_validate_json(stored) if stored is not None else None
            if current is not None and current.status == "consumed":
                return
            if current is None or current.status != "held":
                raise ReservationNotFound(f"no reservation is held for order {order_key}")
            for sku, quantity in current.quantities().items():
                on_hand, reserved = self._stock.get((current.warehouse, sku), (0, 0))
                self._stock[(current.warehouse, sku)] = (on_hand - quantity, reserved - quantity)
            self._close(current, "consumed")

    def restock(self, warehouse: str, sku: str, quantity: int) -> StockLevel:
        if quantity <= 0:
            raise ValueError(f"restock of {sku}: quantity must be positive, got {quantity}")
        StockLevel(warehouse=warehouse, sku=sku)
        with self._lock:
            on_hand, reserved = self._stock.get((warehouse, sku), (0, 0))
            self._stock[(warehouse, sku)] = (on_hand + quantity, reserved)
        return StockLevel(warehouse=warehouse, sku=sku, on_hand=on_hand + quantity, reserved=reserved)

    def restock_once(self, reference: str, sku: str, quantity: int) -> bool:
        with self._lock:
            if reference in self.restocked:
                return False
            self.restocked[reference] = quantity
        self.restock(self.warehouse, sku, quantity)
        return True

    # helpers (called with the lock held)
    def _available(self, sku: str) -> int:
        on_hand, reserved = self._stock.get((self.warehouse, sku), (0, 0))
        return on_hand - reserved

    def _held(self, order_key: str) -> Reservation | None:
        stored = self._reservations.get(order_key)
        reservation = Reservation.model_validate_json(stored) if stored is not None else None
        return reservation if reservation is not None and reservation.status == "held" else None

    def _close(self, held: Reservation, status: str) -> None:
        closed = held.model_copy(update={"status": status})
        self._reservations[held.order_key] = closed.model_dump_json()
