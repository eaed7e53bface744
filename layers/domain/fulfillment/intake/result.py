"""What intake answers a delivery with: the outcome, the order it is about, and whether fulfillment started."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fulfillment.model import OrderStatus
from fulfillment.model.inbound import HandshakeReply


@dataclass(frozen=True)
class IntakeResult:
    outcome: Literal["ping", "accepted", "queued", "ignored"]
    order_key: str | None = None
    status: OrderStatus | None = None
    execution_name: str | None = None
    fulfillment_started: bool = False
    duplicate: bool = False
    reply: HandshakeReply | None = None
    reason: str | None = None
    start_deferred: str | None = None  # why the execution starts from the start queue, not at once
