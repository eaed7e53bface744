"""The order lifecycle: one table of allowed status transitions."""

from __future__ import annotations

from enum import StrEnum

from fulfillment.errors import InvalidTransition


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"  # recorded, not paid: starts no fulfillment
    RECEIVED = "RECEIVED"  # paid: fulfillment starts
    VALIDATED = "VALIDATED"
    RESERVED = "RESERVED"
    INSPECTED = "INSPECTED"
    PACKAGED = "PACKAGED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    PAYMENT_COMPLETED = "PAYMENT_COMPLETED"
    COMPLETED = "COMPLETED"
    PARTIALLY_RETURNED = "PARTIALLY_RETURNED"  # some delivered units came back through a return
    RETURNED = "RETURNED"  # every delivered unit came back
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


S = OrderStatus

# The happy path in order; each status may also fail, and may be cancelled until it ships. After completion
# only returns move the order (their own lifecycle is in ``model/returns.py``).
FULFILLMENT_PATH: tuple[OrderStatus, ...] = (
    S.RECEIVED,
    S.VALIDATED,
    S.RESERVED,
    S.INSPECTED,
    S.PACKAGED,
    S.SHIPPED,
    S.DELIVERED,
    S.PAYMENT_COMPLETED,
    S.COMPLETED,
)
AFTER_COMPLETION: tuple[OrderStatus, ...] = (S.PARTIALLY_RETURNED, S.RETURNED)

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.RECEIVED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.VALIDATED, S.FAILED, S.CANCELLED}),
    S.VALIDATED: frozenset({S.RESERVED, S.FAILED, S.CANCELLED}),
    S.RESERVED: frozenset({S.INSPECTED, S.FAILED, S.CANCELLED}),
    S.INSPECTED: frozenset({S.PACKAGED, S.FAILED, S.CANCELLED}),
    S.PACKAGED: frozenset({S.SHIPPED, S.FAILED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.FAILED, S.CANCELLED}),  # cancelled in transit: the carrier intercepts
    S.DELIVERED: frozenset({S.PAYMENT_COMPLETED, S.FAILED}),
    S.PAYMENT_COMPLETED: frozenset({S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset({S.PARTIALLY_RETURNED, S.RETURNED}),
    S.PARTIALLY_RETURNED: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    # Only ``steps.rerun`` takes this exit: an operator re-runs a compensated order as a new attempt.
    S.FAILED: frozenset({S.RECEIVED}),
    S.CANCELLED: frozenset(),
}

# Fulfillment is over: no execution runs for the order any more (returns run on their own state machine).
TERMINAL: frozenset[OrderStatus] = frozenset({S.COMPLETED, S.PARTIALLY_RETURNED, S.RETURNED, S.FAILED, S.CANCELLED})
FULFILLED: frozenset[OrderStatus] = frozenset({S.COMPLETED, S.PARTIALLY_RETURNED, S.RETURNED})


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def ensure_transition(current: OrderStatus, target: OrderStatus) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(current, target)


def has_reached(current: OrderStatus, milestone: OrderStatus) -> bool:
    """True when ``current`` is ``milestone`` or lies after it on the fulfillment path."""
    path = FULFILLMENT_PATH + AFTER_COMPLETION
    if current not in path or milestone not in path:
        return current == milestone
    return path.index(current) >= path.index(milestone)


# In fulfillment and not yet shipped: a store's cancellation still stops the workflow (which compensates).
# Derived from the table, so a new step before shipping is cancellable without another list to edit.
CANCELLABLE: frozenset[OrderStatus] = frozenset(
    status for status in FULFILLMENT_PATH if can_transition(status, S.CANCELLED) and not has_reached(status, S.SHIPPED)
)
