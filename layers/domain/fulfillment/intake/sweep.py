"""The start sweep (scheduled): every order left ``RECEIVED`` past a grace period goes on the start queue again.

It covers what the start queue cannot: an order whose start and whose queue message both failed, or a message
that went to the dead-letter queue. It also measures the oldest order waiting, the metric the alarm watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fulfillment.intake.start import needs_start
from fulfillment.model import OrderStatus
from fulfillment.model.inbound import StartRequest
from fulfillment.ports import OrderRepository, StartQueue

MAX_PER_SWEEP = 1000  # the queue's consumer paces the starts; the next sweep takes the rest


@dataclass(frozen=True)
class SweepReport:
    waiting: int  # orders RECEIVED longer than the grace period (the ones read, at most MAX_PER_SWEEP)
    oldest_seconds: float  # how long the oldest RECEIVED order has waited (0 when none waits)
    queued: tuple[str, ...]  # the order keys put on the start queue


def sweep_unstarted(orders: OrderRepository, starts: StartQueue, *, now: datetime, grace_seconds: float) -> SweepReport:
    entries = orders.oldest_in_status(OrderStatus.RECEIVED, MAX_PER_SWEEP)
    overdue = [entry for entry in entries if (now - entry.since).total_seconds() >= grace_seconds]
    queued = []
    for entry in overdue:
        if needs_start(entry.order):
            starts.request(StartRequest(order_key=entry.order.key))
            queued.append(entry.order.key)
    oldest = max(0.0, (now - entries[0].since).total_seconds()) if entries else 0.0
    return SweepReport(waiting=len(overdue), oldest_seconds=oldest, queued=tuple(queued))
