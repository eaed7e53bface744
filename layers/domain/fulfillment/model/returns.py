"""Returns: a return authorization (RMA) against a delivered order, with its own lifecycle.

A return is its own aggregate, stored beside its order and run by its own state machine, so a
busy order's history never grows its fulfillment execution. The order keeps two counters per
line that make over-returning impossible whatever the interleaving: ``return_claims`` (units
that authorized returns have claimed) and ``returned`` (units taken back and resolved). Both
change in the same transaction as the return that moves them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.errors import InvalidTransition
from fulfillment.model.money import Money
from fulfillment.model.order import Failure, Order, Wait, fulfillment_execution_name
from fulfillment.model.store import Store


class ReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"
    AUTHORIZED = "AUTHORIZED"  # an RMA is issued: the goods may come back
    REJECTED = "REJECTED"  # refused by the store's policy (window, SKU, reason, quantities)
    RECEIVED = "RECEIVED"  # the warehouse has the goods
    INSPECTED = "INSPECTED"  # every line passed or failed, and its disposition is done
    REFUNDED = "REFUNDED"
    # Owed back, not paid: the platform cannot refund through its API; the order's ``payment.refunds_due`` holds it
    # until a person pays it out and confirms it (``fulfillment orders confirm-refund``), then REFUNDED.
    REFUND_DUE = "REFUND_DUE"
    REPLACED = "REPLACED"  # a replacement order is in fulfillment
    REFUSED = "REFUSED"  # nothing passed inspection: no refund, no replacement
    EXPIRED = "EXPIRED"  # the goods never arrived
    CLOSED = "CLOSED"
    FAILED = "FAILED"  # a step broke for good; ops look at it


R = ReturnStatus

RETURN_TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    R.REQUESTED: frozenset({R.AUTHORIZED, R.REJECTED, R.FAILED}),
    R.AUTHORIZED: frozenset({R.RECEIVED, R.EXPIRED, R.FAILED}),
    R.RECEIVED: frozenset({R.INSPECTED, R.FAILED}),
    R.INSPECTED: frozenset({R.REFUNDED, R.REFUND_DUE, R.REPLACED, R.REFUSED, R.FAILED}),
    R.REFUND_DUE: frozenset({R.REFUNDED, R.FAILED}),
    R.REFUNDED: frozenset({R.CLOSED}),
    R.REPLACED: frozenset({R.CLOSED}),
    R.REFUSED: frozenset({R.CLOSED}),
    R.REJECTED: frozenset(),
    R.EXPIRED: frozenset(),
    R.CLOSED: frozenset(),
    R.FAILED: frozenset(),
}
RETURN_TERMINAL = frozenset(s for s, targets in RETURN_TRANSITIONS.items() if not targets)


class Resolution(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"


class ReturnSource(StrEnum):
    OPERATOR = "operator"  # ops or customer service, through the CLI
    STORE = "store"  # the store platform reported a return or a line refund


class FailedInspectionPolicy(StrEnum):
    RETURN_TO_CUSTOMER = "return_to_customer"  # send the goods back; nothing refunded
    REFUSE_REFUND = "refuse_refund"  # keep and write off the goods; nothing refunded


Disposition = Literal["restock", "write_off", "return_to_customer"]


class ReturnLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: str
    quantity: int = Field(gt=0)
    unit_price: Money
    result: Literal["passed", "failed"] | None = None
    resellable: bool = True
    disposition: Disposition | None = None
    notes: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "passed"


class ReturnEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    status: ReturnStatus
    previous_status: ReturnStatus | None = None
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ReturnPolicy(BaseModel):
    """A store's return rules, from ``Store.options`` (strings, as the registry keeps them)."""

    model_config = ConfigDict(frozen=True)

    window_days: int = 30
    receipt_days: int = Field(default=14, ge=1, le=365)  # how long the RMA waits for the goods
    non_returnable_skus: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset(
        {"defective", "damaged", "wrong_item", "not_as_described", "no_longer_needed", "other"}
    )
    failed_inspection: FailedInspectionPolicy = FailedInspectionPolicy.RETURN_TO_CUSTOMER

    @classmethod
    def for_store(cls, store: Store | None) -> ReturnPolicy:
        options = store.options if store else {}
        values: dict[str, Any] = {}
        if "return_window_days" in options:
            values["window_days"] = int(options["return_window_days"])
        if "return_receipt_days" in options:
            values["receipt_days"] = int(options["return_receipt_days"])
        if "non_returnable_skus" in options:
            values["non_returnable_skus"] = frozenset(_csv(options["non_returnable_skus"]))
        if "return_reasons" in options:
            values["reasons"] = frozenset(_csv(options["return_reasons"]))
        if "failed_inspection" in options:
            values["failed_inspection"] = FailedInspectionPolicy(options["failed_inspection"].strip().lower())
        return cls(**values)

    @property
    def receipt_seconds(self) -> int:
        """How long the return's execution waits for the goods before the RMA lapses (its ``TimeoutSecondsPath``)."""
        return self.receipt_days * 86_400

    def window_ends(self, delivered_at: datetime) -> datetime:
        return delivered_at + timedelta(days=self.window_days)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


_RMA_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


class ReturnFailure(Failure):
    resume_at: ReturnStatus  # the status the return failed in: where a re-run picks up


class Return(BaseModel):
    """One return authorization against one order. ``version`` is its optimistic-locking counter."""

    order_key: str
    number: int = Field(gt=0)  # 1, 2, … per order
    store_id: str
    platform: str
    external_order_id: str
    source: ReturnSource
    external_id: str | None = None  # the store's return or refund id, when the store reported it
    reason: str
    resolution: Resolution
    lines: tuple[ReturnLine, ...]
    requested_by: str = ""
    requested_at: datetime
    # The store already moved the money (a refund made in the store's admin): we never refund again.
    refunded_by_store: Money | None = None

    status: ReturnStatus = ReturnStatus.REQUESTED
    version: int = 0
    events_recorded: int = 0
    rma: str | None = None
    rejection: str | None = None
    refund: Money | None = None
    refund_reference: str | None = None
    replacement_order_key: str | None = None
    wait: Wait = Field(default_factory=Wait)
    failure: ReturnFailure | None = None
    attempt: int = 0  # re-runs after a failure: each gets its own execution
    late_goods: bool = False  # the goods reached the warehouse after the RMA lapsed
    pending_events: list[ReturnEvent] = Field(default_factory=list, exclude=True)

    @property
    def key(self) -> str:
        return return_key(self.order_key, self.number)

    def execution_name(self) -> str:
        name = return_execution_name(self.store_id, self.external_order_id, self.number)
        return name if not self.attempt else f"{name[: 80 - len(f'-rerun{self.attempt}')]}-rerun{self.attempt}"

    def reopen(self, reason: str) -> ReturnEvent:
        """A FAILED return goes back to where it failed, for a re-run (its steps skip work already done)."""
        if self.status is not ReturnStatus.FAILED:
            raise InvalidTransition(f"return {self.status}", "a re-run (only a FAILED return re-runs)")
        resume_at = self.failure.resume_at if self.failure else ReturnStatus.REQUESTED
        self.failure = None
        self.attempt += 1
        return self._record(resume_at, reason, {"attempt": self.attempt})

    def rma_number(self) -> str:
        return f"RMA-{_RMA_UNSAFE.sub('-', self.store_id)}-{_RMA_UNSAFE.sub('-', self.external_order_id)}-{self.number}"

    def transition_to(self, target: ReturnStatus, reason: str, **detail: Any) -> ReturnEvent:
        if target not in RETURN_TRANSITIONS[self.status]:
            raise InvalidTransition(f"return {self.status}", str(target))
        return self._record(target, reason, detail)

    def note(self, reason: str, **detail: Any) -> ReturnEvent:
        return self._record(self.status, reason, detail)

    def record_request(self, reason: str) -> ReturnEvent:
        event = ReturnEvent(seq=1, at=self.requested_at, status=self.status, reason=reason)
        self.pending_events.append(event)
        return event

    def _record(self, target: ReturnStatus, reason: str, detail: dict[str, Any]) -> ReturnEvent:
        event = ReturnEvent(
            seq=self.events_recorded + len(self.pending_events) + 1,
            at=datetime.now(UTC),
            status=target,
            previous_status=self.status,
            reason=reason,
            detail=detail,
        )
        self.status = target
        self.pending_events.append(event)
        return event

    def claimed(self) -> dict[str, int]:
        claims: dict[str, int] = {}
        for line in self.lines:
            claims[line.line_id] = claims.get(line.line_id, 0) + line.quantity
        return claims

    def passed_lines(self) -> list[ReturnLine]:
        return [line for line in self.lines if line.passed]

    def passed_value(self, currency: str) -> Money:
        return sum((line.unit_price.times(line.quantity) for line in self.passed_lines()), Money.zero(currency))


def return_key(order_key: str, number: int) -> str:
    return f"{order_key}:R{number}"


def split_return_key(key: str) -> tuple[str, int]:
    """``store:order:R2`` → (``store:order``, 2); ValueError when it names no return."""
    order_part, marker, number = key.rpartition(":R")
    if not marker or not order_part or not number.isdigit() or int(number) < 1:
        raise ValueError(f"{key!r} is not a return id (expected <order key>:R<n>)")
    return order_part, int(number)


def return_execution_name(store_id: str, external_order_id: str, number: int) -> str:
    """The order's execution name with ``-return<n>``: the console finds an order's returns by prefix."""
    suffix = f"-return{number}"
    return fulfillment_execution_name(store_id, external_order_id)[: 80 - len(suffix)] + suffix


# --- what an order can still take back -----------------------------------------------------------
def delivered_quantities(order: Order) -> dict[str, int]:
    """Units of each line that reached the customer: what was shipped (``Order.shipped_quantities``)."""
    return order.shipped_quantities()


def returnable_quantities(order: Order) -> dict[str, int]:
    """Delivered units not yet claimed by an authorized (or finished) return."""
    return {
        line_id: max(0, units - order.returns.claims.get(line_id, 0))
        for line_id, units in delivered_quantities(order).items()
    }


def replacement_external_id(order: Order, number: int) -> str:
    return f"{order.external_id}-R{number}"


def add_units(counts: dict[str, int], more: dict[str, int], sign: int = 1) -> None:
    """Add (or with ``sign=-1`` take away) units per line id, never below zero: the order's claim counters."""
    for line_id, units in more.items():
        counts[line_id] = max(0, counts.get(line_id, 0) + sign * units)
