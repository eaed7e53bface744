"""The one way to change an aggregate: load it, change it, save it conditionally, and on a version conflict
(someone saved it meanwhile) load it again and redo the change — a bounded number of times.

Orders and returns carry a ``version``; every save is conditional on the version read, so two writers never
overwrite each other: one wins, the other retries on fresh state. A change that leaves the aggregate as it
was (no field changed, no timeline event added) is not saved at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from fulfillment.backoff import full_jitter
from fulfillment.errors import OrderNotFound, VersionConflict

if TYPE_CHECKING:
    from fulfillment.model import Order
    from fulfillment.model.returns import Return
    from fulfillment.ports import OrderRepository, ReturnRepository

CONFLICT_ATTEMPTS = 8  # enough for a burst of duplicate deliveries and callbacks on one order


CONFLICT_PAUSE_SECONDS = 0.01  # the first pause's cap; it doubles per conflict, up to CONFLICT_PAUSE_CAP_SECONDS
CONFLICT_PAUSE_CAP_SECONDS = 0.5


def retry_on_conflict[T](attempt: Callable[[], T], what: str, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``attempt`` (which loads, changes and saves) until it saves without a ``VersionConflict``. Between
    attempts a pause with full jitter: writers racing on one aggregate (an order's parcels' tracker events, all
    at once) spread out instead of colliding again in lockstep until every one runs out of attempts."""
    for tries in range(CONFLICT_ATTEMPTS):
        try:
            return attempt()
        except VersionConflict:
            if tries + 1 < CONFLICT_ATTEMPTS:
                sleep(full_jitter(CONFLICT_PAUSE_SECONDS, tries, cap=CONFLICT_PAUSE_CAP_SECONDS))
    raise VersionConflict(f"{what} kept changing")


def load_order(orders: OrderRepository, key: str) -> Order:
    order = orders.get(key)
    if order is None:
        raise OrderNotFound(f"no order {key}")
    return order


def load_return(returns: ReturnRepository, key: str) -> Return:
    ret = returns.get(key)
    if ret is None:
        raise OrderNotFound(f"no return {key}")
    return ret


class _Versioned(Protocol):
    pending_events: list  # type: ignore[type-arg]

    def model_dump(self) -> dict[str, object]: ...


def _changed(before: dict[str, object], aggregate: _Versioned) -> bool:
    return bool(aggregate.pending_events) or aggregate.model_dump() != before


def update_order[T](orders: OrderRepository, key: str, change: Callable[[Order], T]) -> T:
    """Load the order, change it, save it if the change did anything; retried on a concurrent save."""

    def attempt() -> T:
        order = load_order(orders, key)
        before = order.model_dump()
        result = change(order)
        if _changed(before, order):
            orders.save(order)
        return result

    return retry_on_conflict(attempt, f"order {key}")


class _ReturnStore(Protocol):
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def returns(self) -> ReturnRepository: ...


def update_return[T](deps: _ReturnStore, key: str, change: Callable[[Return, Order], T]) -> T:
    """Load the return and its order, change both, save them in one transaction (the order only when the change
    recorded something on it: its counters move with an event); retried on a concurrent save of either."""

    def attempt() -> T:
        ret = load_return(deps.returns, key)
        order = load_order(deps.orders, ret.order_key)
        before = ret.model_dump()
        result = change(ret, order)
        if order.pending_events or _changed(before, ret):
            deps.returns.save(ret, order if order.pending_events else None)
        return result

    return retry_on_conflict(attempt, f"return {key}")
