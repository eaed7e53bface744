from fulfillment.model.lifecycle import TERMINAL, TRANSITIONS, OrderStatus, can_transition, has_reached
from fulfillment.model.money import Money, currency_exponent
from fulfillment.model.order import (
    Address,
    Customer,
    LineItem,
    Order,
    TimelineEvent,
    Totals,
    fulfillment_execution_name,
    order_key,
)

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "Address",
    "Customer",
    "LineItem",
    "Money",
    "Order",
    "OrderStatus",
    "TimelineEvent",
    "Totals",
    "can_transition",
    "currency_exponent",
    "fulfillment_execution_name",
    "has_reached",
    "order_key",
]
