"""The canonical order that every store platform maps into."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

from fulfillment.errors import OrderInvalid
from fulfillment.model.lifecycle import OrderStatus, ensure_transition
from fulfillment.model.limits import MAX_MINOR_UNITS, BoundedId, Quantity
from fulfillment.model.money import CurrencyCode, Money
from fulfillment.model.packaging import Package

_STORE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
StoreId = Annotated[str, StringConstraints(pattern=_STORE_ID_PATTERN)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=128)]

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


REPLACES_REF = "replaces"  # ``platform_refs`` of a replacement order: the order whose return it replaces
RETURN_REF = "return"  # … and the return that asked for it


def is_valid_store_id(store_id: str) -> bool:
    return re.fullmatch(_STORE_ID_PATTERN, store_id) is not None


def order_key(store_id: str, external_id: str) -> str:
    """Our id for an order: unique across stores, readable in logs and the console."""
    return f"{store_id}:{external_id}"


def store_of(key: str) -> str:
    """The store an order key names (a store id holds no ``:``, ``_STORE_ID_PATTERN``)."""
    return key.split(":", 1)[0]


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = ""
    company: str = ""
    lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    phone: str = ""

    def missing_for_shipping(self) -> list[str]:
        required = {"name": self.name, "street": "".join(self.lines), "city": self.city, "country": self.country}
        return [field for field, value in required.items() if not value.strip()]


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str | None = None
    name: str = ""
    external_id: str | None = None


class LineItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: BoundedId
    sku: Sku
    name: str
    quantity: Quantity
    unit_price: Money
    # Where this line ships: a key of ``Order.destinations`` (the platform's id for the address, e.g. BigCommerce's
    # order_address_id); None is the order's ``shipping_address``.
    destination: str | None = None

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


class Totals(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: Money
    shipping: Money
    tax: Money
    discount: Money
    grand_total: Money


class ReportedLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: BoundedId  # the order line, as the platform numbers it (``LineItem.line_id``)
    quantity: Quantity


class StoreReturnReport(BaseModel):
    """A return or refund the store reports on an order. With lines, goods come back (a return is opened
    once the order is delivered); without, only money moved (a note on the order)."""

    model_config = ConfigDict(frozen=True)

    external_id: BoundedId = Field(min_length=1)  # the store's refund/return/credit memo id: one return per id
    lines: tuple[ReportedLine, ...] = ()
    reason: str = ""
    # What the store already paid back, in the order's currency.
    refunded_minor: int = Field(default=0, ge=0, le=MAX_MINOR_UNITS)


class TimelineEvent(BaseModel):
    """One entry of an order's history, written atomically with the change it records."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    status: OrderStatus
    previous_status: OrderStatus | None = None
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)


class Failure(BaseModel):
    """Why fulfillment (or a return) stopped: the error's name, as the state machine caught it, and its cause."""

    model_config = ConfigDict(frozen=True)

    error: str
    cause: str


class WaitKind(StrEnum):
    """What an order's execution waits for (a return's waits are ``returns.waits.ReturnWait``)."""

    APPROVAL = "approval"
    INSPECTION = "inspection"
    DELIVERY = "delivery"
    OPERATOR = "operator"


class WaitTime(BaseModel):
    """How long an answered wait took, kept until the step that resumes after it emits ``CallbackWaitSeconds``."""

    model_config = ConfigDict(frozen=True)

    kind: str
    seconds: Decimal  # DynamoDB takes no floats


class Wait(BaseModel):
    """The execution waiting on an order (or a return): its task token and what it waits for, and the last answer
    given. Answers are conditional saves, so a duplicate answer finds no token and does nothing."""

    token: str | None = None  # the waiting execution's task token; None when nothing waits
    kind: str | None = None  # an order's ``WaitKind``; a return's ``goods`` or ``inspection``
    since: datetime | None = None  # when the current wait was parked
    answered_token: str | None = None  # the last wait answered, kept so a partner's redelivery can resend the answer
    answered_kind: str | None = None
    last: WaitTime | None = None  # moved from ``since`` by the answer, cleared once its metric is emitted
    # A failing answer that came before the wait was parked (a carrier reporting a parcel lost before the execution
    # waits for its delivery): parking fails the wait with it at once, instead of waiting for news that came.
    early_failure: Failure | None = None

    def park(self, token: str, kind: str, at: datetime | None = None) -> None:
        self.token, self.kind, self.since = token, kind, at

    def answer(self, at: datetime) -> str:
        """Clear the wait, keeping its token (returned) as the one answered and how long it took."""
        token = self.token or ""
        if self.since is not None:
            seconds = max((at - self.since).total_seconds(), 0.0)
            self.last = WaitTime(kind=str(self.kind), seconds=Decimal(f"{seconds:.3f}"))
        self.answered_token, self.answered_kind = self.token, self.kind
        self.token, self.kind, self.since = None, None, None
        return token

    def clear(self) -> None:
        self.token, self.kind, self.since = None, None, None


class RefundDue(BaseModel):
    """Money owed back that the platform could not pay through its API: a person pays it out (in the platform's
    admin, the payment provider's dashboard, a bank transfer) and confirms it (``fulfillment orders
    confirm-refund``). Never counted as refunded before that."""

    key: str  # the refund's idempotency key (``refund:<return>``, ``void:<order>``): one entry per refund
    amount: Money
    reason: str
    since: datetime
    paid_out_at: datetime | None = None
    paid_out_by: str | None = None
    reference: str | None = None  # the payout's reference, as the operator gives it


class PaymentRecord(BaseModel):
    """Who holds the order's money and what we did with it.

    The platform adapter fills in the first part from the store's own payload (``method``, ``gateway``, and for an
    authorization still to capture on the platform its amount, transaction ids and expiry); the steps fill in the
    second (what was captured, collected, refunded, and a refund the platform could not make)."""

    method: str | None = None  # ``model.payment.PaymentMethod``: who holds the money
    gateway: str = ""  # how the platform says it was paid: Woo "stripe", Shopify "shopify_payments", Magento "checkmo"
    authorized: Money | None = None  # authorized on the platform and not captured yet
    # The platform's ids of the authorization(s) to capture: Shopify parent transaction gids, BigCommerce and
    # Magento transaction ids. Empty where the platform captures by the order alone.
    authorization_ids: list[str] = Field(default_factory=list)
    authorization_expires_at: datetime | None = None  # where the platform tells it (Shopify authorizationExpiresAt)
    captured: Money | None = None  # captured by us (through the platform or our payment gateway)
    capture_pending: bool = False  # asked for and accepted, not yet settled (BigCommerce captures asynchronously)
    collected: Money | None = None  # cash the carrier collected on delivery
    # Cash on delivery where part was paid at checkout (a Shopify gift card): what the carrier still collects.
    # None: the whole total (less what the store refunded).
    due_on_delivery: Money | None = None
    reference: str | None = None  # the platform's or gateway's reference for the capture or collection
    # A capture the platform's API cannot make (``PaymentCapabilities``): what an operator must do, and by when.
    capture_task: str | None = None
    refunded: Money | None = None  # paid back through the platform or our gateway (not what is only due)
    voided: bool = False  # the authorization was released; nothing was taken
    refunds_due: list[RefundDue] = Field(default_factory=list)

    def refund_due(self, key: str) -> RefundDue | None:
        return next((due for due in self.refunds_due if due.key == key), None)

    @property
    def outstanding_refunds(self) -> list[RefundDue]:
        return [due for due in self.refunds_due if due.paid_out_at is None]

    def as_told(self) -> PaymentRecord:
        """Only what the platform told (a reopened order's fresh attempt keeps who holds the money)."""
        return PaymentRecord(
            method=self.method,
            gateway=self.gateway,
            authorized=self.authorized,
            authorization_ids=list(self.authorization_ids),
            authorization_expires_at=self.authorization_expires_at,
            due_on_delivery=self.due_on_delivery,
        )

    def refreshed_from(self, platform: PaymentRecord) -> None:
        """A newer snapshot's view of the payment: what the platform tells replaces ours, what we did stays."""
        if platform.method is None:
            return
        self.method, self.gateway = platform.method, platform.gateway
        self.authorized, self.authorization_ids = platform.authorized, list(platform.authorization_ids)
        self.authorization_expires_at = platform.authorization_expires_at
        self.due_on_delivery = platform.due_on_delivery
        if platform.method != "platform_authorized":
            self.capture_pending = False  # the platform says the money is taken (or gone): nothing is pending


class ReturnLedger(BaseModel):
    """An order's returns, counted per line id. Claims and returned units change in the same transaction as the
    return that moves them (``model/returns.py``), so no interleaving of returns gives back more than was delivered."""

    opened: int = 0  # returns opened so far: the next one is number ``opened + 1``
    claims: dict[str, int] = Field(default_factory=dict)  # units claimed by authorized returns
    returned: dict[str, int] = Field(default_factory=dict)  # units taken back for good
    replacements: list[str] = Field(default_factory=list)  # replacement orders' keys
    store_returns: dict[str, int] = Field(default_factory=dict)  # the store's return/refund id → our return number
    store_refunds_noted: list[str] = Field(default_factory=list)  # store refund ids recorded as a note only


class Order(BaseModel):
    """An order aggregate. ``version`` is the optimistic-locking counter of its stored item."""

    store_id: StoreId
    platform: str
    external_id: str
    number: str
    currency: CurrencyCode
    customer: Customer
    billing_address: Address
    shipping_address: Address
    # An order shipped to several addresses: each by the id its lines name (``LineItem.destination``).
    destinations: dict[str, Address] = Field(default_factory=dict)
    lines: tuple[LineItem, ...]
    totals: Totals
    placed_at: datetime
    source_modified_at: datetime  # the platform's own modified time: newest snapshot wins
    paid: bool
    cancelled: bool = False  # the store says the order is cancelled (or refunded before we shipped)
    refunded: Money | None = None  # what the store says it has refunded so far
    # Platform ids write-backs need beyond the order id: BigCommerce order_address_id, Magento
    # increment_id, Shopify admin GraphQL id, … (line ids are on the lines).
    platform_refs: dict[str, str] = Field(default_factory=dict)

    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    version: int = 0
    events_recorded: int = 0  # timeline length; seq numbers stay gapless while version counts saves
    tracking_number: str | None = None
    carrier: str | None = None
    wait: Wait = Field(default_factory=Wait)
    cancel_requested: str | None = None  # why, when a cancellation reached an order mid-step
    inspection_attempts: int = 0
    # Fulfillment attempts after the first: a failed order an operator reopens runs again as attempt 1, 2, …
    attempt: int = 0
    packages: list[Package] = Field(default_factory=list)
    short: dict[str, int] = Field(default_factory=dict)  # units a partial fulfillment leaves out, by SKU
    payment: PaymentRecord = Field(default_factory=PaymentRecord)
    failure: Failure | None = None
    delivered_at: datetime | None = None
    returns: ReturnLedger = Field(default_factory=ReturnLedger)
    # What the delivery reported (refunds, returns, credit memos): read by intake, never stored.
    reported_returns: tuple[StoreReturnReport, ...] = Field(default=(), exclude=True)
    pending_events: list[TimelineEvent] = Field(default_factory=list, exclude=True)
    # Storage bookkeeping, not part of the order: how the loaded lines are stored (``adapters/line_chunks.py``),
    # so that saving a large order whose lines did not change does not write them again.
    _stored_lines: tuple[str, int] | None = PrivateAttr(default=None)
    _saving_lines: tuple[str, int] | None = PrivateAttr(default=None)
    # Carrier shipments created since the order was loaded, (carrier, shipment id): saved with the order as
    # lookups, so the carrier's tracking events find it (``OrderRepository.find_by_tracking``).
    pending_lookups: list[tuple[str, str]] = Field(default_factory=list, exclude=True)

    @model_validator(mode="after")
    def _currencies_agree(self) -> Order:
        amounts = [line.unit_price for line in self.lines] + [
            self.totals.items,
            self.totals.shipping,
            self.totals.tax,
            self.totals.discount,
            self.totals.grand_total,
        ]
        if any(money.currency != self.currency for money in amounts):
            raise ValueError(f"every amount must be in the order currency {self.currency}")
        return self

    @property
    def key(self) -> str:
        return order_key(self.store_id, self.external_id)

    def execution_name(self) -> str:
        return fulfillment_execution_name(self.store_id, self.external_id)

    def attempt_ref(self) -> str:
        """The order key that side-effect idempotency keys derive from (label, reservation, capture).

        A reopened order's new attempt must not get the compensated attempt's cancelled label or
        released reservation back, so from the second attempt on the key carries ``:a<attempt>``;
        the first attempt keeps the plain order key, as every key stored before attempts existed.
        """
        return f"{self.key}:a{self.attempt}" if self.attempt else self.key

    def record_shipment(self, index: int, carrier: str, shipment_id: str) -> None:
        """The carrier's shipment for package ``index``: stored before its label is bought, and indexed."""
        self.packages[index] = self.packages[index].model_copy(update={"shipment_id": shipment_id})
        self.pending_lookups.append((carrier, shipment_id))

    @property
    def shipping_cost(self) -> Money | None:
        """What the labels bought so far cost (None before any, or if their currencies differ)."""
        costs = [package.label.cost for package in self.packages if package.label and package.label.cost]
        if not costs or len({cost.currency for cost in costs}) > 1:
            return None
        return sum(costs[1:], costs[0])

    def transition_to(
        self, target: OrderStatus, reason: str, *, at: datetime | None = None, **detail: Any
    ) -> TimelineEvent:
        """Move to ``target`` if the lifecycle allows it; the event is saved with the order."""
        ensure_transition(self.status, target)
        if target is OrderStatus.DELIVERED:
            self.delivered_at = at or datetime.now(UTC)
        event = TimelineEvent(
            seq=self.events_recorded + len(self.pending_events) + 1,
            at=at or datetime.now(UTC),
            status=target,
            previous_status=self.status,
            reason=reason,
            detail=detail,
        )
        self.status = target
        self.pending_events.append(event)
        return event

    def note(self, reason: str, *, at: datetime | None = None, **detail: Any) -> TimelineEvent:
        """A timeline event that changes no status (an approval, a swapped unit, an alert)."""
        event = TimelineEvent(
            seq=self.events_recorded + len(self.pending_events) + 1,
            at=at or datetime.now(UTC),
            status=self.status,
            previous_status=self.status,
            reason=reason,
            detail=detail,
        )
        self.pending_events.append(event)
        return event

    def record_receipt(self, reason: str, *, at: datetime | None = None) -> TimelineEvent:
        """The first timeline event of a new order: placed (awaiting payment) or placed and paid."""
        self.status = OrderStatus.RECEIVED if self.paid else OrderStatus.PENDING_PAYMENT
        event = TimelineEvent(
            seq=self.events_recorded + len(self.pending_events) + 1,
            at=at or datetime.now(UTC),
            status=self.status,
            previous_status=None,
            reason=reason,
        )
        self.pending_events.append(event)
        return event

    def problems_for_fulfillment(self) -> list[str]:
        problems = [f"shipping address has no {field}" for field in self.shipping_address.missing_for_shipping()]
        for name, address in self.destinations.items():
            problems += [f"destination {name} has no {field}" for field in address.missing_for_shipping()]
        if not self.lines:
            problems.append("order has no lines")
        items = sum((line.subtotal for line in self.lines), Money.zero(self.currency))
        if items.minor < 0 or self.totals.grand_total.minor < 0:
            problems.append("negative amounts")
        if not self.paid:
            problems.append("order is not paid")
        return problems

    def address_of(self, destination: str | None) -> Address:
        """The address a destination id names; the shipping address for None (or an id no longer known)."""
        return self.destinations.get(destination, self.shipping_address) if destination else self.shipping_address

    def ship_to(self, package: Package) -> Address:
        """The address a package goes to: its destination's (``Package.destination``)."""
        return self.address_of(package.destination)

    def by_destination(self) -> list[tuple[str | None, tuple[LineItem, ...]]]:
        """What ships to each destination, in order of first appearance: the lines with the units that leave the
        warehouse (``shipped_quantities``; a line left out entirely is absent, a destination with nothing is too)."""
        shipped = self.shipped_quantities()
        groups: dict[str | None, list[LineItem]] = {}
        for line in self.lines:
            if shipped.get(line.line_id, 0) > 0:
                part = line.model_copy(update={"quantity": shipped[line.line_id]})
                groups.setdefault(line.destination if line.destination in self.destinations else None, []).append(part)
        return [(destination, tuple(lines)) for destination, lines in groups.items()]

    def shipped_quantities(self) -> dict[str, int]:
        """Units of each line that left the warehouse: ordered less what a partial fulfillment left out
        (``short``, by SKU, taken from that SKU's first lines first); 0 for a line left out entirely. What
        write-backs tell the store was shipped, and all that can come back in a return."""
        short = dict(self.short)
        shipped: dict[str, int] = {}
        for line in self.lines:
            left_out = min(line.quantity, short.get(line.sku, 0))
            short[line.sku] = short.get(line.sku, 0) - left_out
            shipped[line.line_id] = shipped.get(line.line_id, 0) + line.quantity - left_out
        return shipped

    def ensure_fulfillable(self) -> None:
        problems = self.problems_for_fulfillment()
        if problems:
            raise OrderInvalid("; ".join(problems))


def fulfillment_execution_name(store_id: str, external_id: str) -> str:
    """Deterministic Step Functions execution name for an order's fulfillment.

    Names allow 1–80 characters of ``[A-Za-z0-9_-]``. Store ids never contain ``_``, so the first
    ``_`` separates the two parts unambiguously; an external id that needs cleaning or trimming gets
    a short hash of the order key so two orders never share a name.
    """
    clean = _NAME_UNSAFE.sub("_", external_id)
    name = f"{store_id}_{clean}"
    if clean != external_id or len(name) > 80:
        digest = hashlib.sha256(order_key(store_id, external_id).encode()).hexdigest()[:10]
        name = f"{name[:69]}-{digest}"
    return name
