"""What a verified store delivery means to us, whatever platform sent it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.model.order import Order


class HandshakeReply(BaseModel):
    """The answer to an unsigned registration ping or challenge (Woo ping, Adobe I/O ?challenge=)."""

    model_config = ConfigDict(frozen=True)

    status: int = 200
    body: dict[str, Any] = Field(default_factory=lambda: {"status": "pong"})


class InboundEvent(BaseModel):
    """One verified delivery, read.

    - ``order`` set: the signed payload carries the whole order, trusted as a snapshot.
    - ``needs_fetch``: the payload is thin (BigCommerce) or unsigned beyond an id (Ecwid); the order
      must be fetched from the platform's API, after the delivery is acknowledged.
    - ``ignore_reason`` set: acknowledged, nothing to do (a topic we do not act on).
    """

    model_config = ConfigDict(frozen=True)

    platform: str
    topic: str
    external_order_id: str | None = None
    event_id: str | None = None  # the platform's delivery or event id, for dedupe; None where it has none
    store_identity: str | None = None  # shop domain, store hash, Ecwid store id, site URL as the delivery names it
    order: Order | None = None
    needs_fetch: bool = False
    ignore_reason: str | None = None


class FetchRequest(BaseModel):
    """A thin delivery, acknowledged: fetch this order from the platform's API (SQS message body)."""

    model_config = ConfigDict(frozen=True)

    platform: str
    store_id: str
    external_order_id: str
    topic: str
    event_id: str | None = None


class StartRequest(BaseModel):
    """A paid order whose execution could not be started at once: the start queue's message (keys only)."""

    model_config = ConfigDict(frozen=True)

    order_key: str
