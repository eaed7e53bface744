"""Ports: what the use cases need from the outside world, and the dependency sets each use case takes.
Adapters (``adapters/``) and the test fakes implement them; ``bootstrap.Container`` provides them all."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

# Annotations only (every one is a string here): a function's cold start imports the models its code uses, not
# every model some port mentions.
if TYPE_CHECKING:
    from fulfillment.model import Money, Order, OrderStatus, TimelineEvent
    from fulfillment.model.inbound import FetchRequest, HandshakeReply, InboundEvent, StartRequest
    from fulfillment.model.inventory import OutOfStockPolicy, Reservation, ReservationOutcome, StockLevel
    from fulfillment.model.packaging import Item, Package
    from fulfillment.model.payment import PaymentResult
    from fulfillment.model.returns import Return, ReturnEvent, ReturnStatus
    from fulfillment.model.shipping import Shipment, ShipmentRequest
    from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
    from fulfillment.model.writeback import StoreUpdate, WriteBackRequest, WriteBackResult


class OrderRepository(Protocol):
    def get(self, key: str) -> Order | None: ...

    def create(self, order: Order) -> None:
        """Store a new order with its pending timeline events; raises VersionConflict if it exists."""

    def save(self, order: Order) -> None:
        """Store changes made to a loaded order; raises VersionConflict if it changed meanwhile."""

    def timeline(self, key: str) -> list[TimelineEvent]: ...

    def list_by_status(
        self, status: OrderStatus | None = None, limit: int = 50, *, store_id: str | None = None
    ) -> list[Order]: ...

    def find_by_tracking(self, carrier: str, shipment_id: str) -> str | None:
        """The order a carrier shipment belongs to (indexed when the shipment was recorded on the order)."""

    def record_parcel_status(self, key: str, shipment_id: str, status: str, *, unless: frozenset[str]) -> bool:
        """Keep a parcel's last tracker status in an item of its own beside the order (never the order item, so
        the tracker events of an order's many parcels neither contend with each other nor with the step saving
        the order), unless the stored status is one of ``unless``. True if written. ``get`` reads it back onto
        the package (``Package.tracking_status``)."""

    def oldest_in_status(self, status: OrderStatus, limit: int) -> list[StatusEntry]:
        """The ``limit`` orders longest in ``status`` (since their last save), oldest first."""
        ...


@dataclass(frozen=True)
class StatusEntry:
    order: Order
    since: datetime  # the order's last save


class ReturnRepository(Protocol):
    """Returns, stored beside their order. A return's write also saves its order, in one transaction, when the
    change moves the order's return counters: both are conditional on their versions."""

    def get(self, key: str) -> Return | None: ...

    def for_order(self, order_key: str) -> list[Return]: ...

    def timeline(self, key: str) -> list[ReturnEvent]: ...

    def list_by_status(self, status: ReturnStatus, limit: int = 50) -> list[Return]: ...

    def create(self, ret: Return, order: Order) -> None:
        """Store a new return and the order that counts it; VersionConflict if either changed or exists."""

    def save(self, ret: Return, order: Order | None = None) -> None: ...


class StoreRegistry(Protocol):
    def get(self, store_id: str) -> Store | None: ...

    def put(self, store: Store) -> None: ...


class SecretStore(Protocol):
    def get(self, ref: str) -> str: ...


class Workflow(Protocol):
    def start(self, order: Order) -> bool:
        """Start the order's fulfillment; False if an execution with its name already exists."""

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Complete a waiting task; False if the token was already used or has expired."""

    def start_return(self, ret: Return) -> bool:
        """Start the return's own execution; False if it already exists."""

    def heartbeat(self, task_token: str) -> bool: ...

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        """Fail a waiting task with a named error the state machine catches; False if the token is spent."""


@dataclass(frozen=True)
class Execution:
    """One Step Functions execution: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE."""

    name: str
    status: str
    error: str | None = None  # why it failed, e.g. "FulfillmentFailed" (the state machine's Fail state)


class Executions(Protocol):
    """What an operator's re-run needs from the workflow engine beyond ``Workflow``."""

    def execution(self, name: str) -> Execution | None: ...

    def start_named(self, order: Order, name: str) -> bool:
        """Start an execution for the order under ``name``; False if one with that name exists."""

    def redrive(self, name: str) -> bool:
        """Restart a failed execution from the state that failed; False where the engine cannot (then start anew)."""


class InboundPlatform(Protocol):
    """How one store platform's webhooks are recognised, verified and read."""

    name: str

    def handshake(self, request: WebhookRequest) -> HandshakeReply | None:
        """The reply to an unsigned registration ping or challenge; None for a real delivery."""

    def verify(self, request: WebhookRequest, credentials: StoreCredentials, now: float) -> None:
        """Raise InvalidSignature unless the delivery is authentic (and fresh, where it carries a timestamp)."""

    def read(self, request: WebhookRequest, store: Store) -> InboundEvent:
        """Read a verified delivery; raise MalformedPayload if it cannot be read."""


class OrderSource(Protocol):
    """A platform's REST API, for deliveries that carry only an id (or cannot be trusted beyond one)."""

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        """Raise TransientError (with ``retry_after`` where the platform said) or PlatformRejected."""


class StoreWriteBack(Protocol):
    """Tells one platform what happened. Idempotent: applying the same update twice creates nothing new."""

    def apply(self, store: Store, credentials: StoreCredentials, update: StoreUpdate) -> WriteBackResult: ...


class DeliveryLog(Protocol):
    """Platform delivery/event ids seen recently, so a redelivery is recognised before any work."""

    def first_seen(self, platform: str, store_id: str, event_id: str) -> bool: ...

    def forget(self, platform: str, store_id: str, event_id: str) -> None:
        """Undo ``first_seen`` when the delivery could not be processed, so its retry is not a duplicate."""


@dataclass(frozen=True)
class StoredDelivery:
    """A verified webhook delivery as it arrived (exact body, the headers that verify it), kept for replay."""

    platform: str
    store_id: str
    delivery_id: str  # the platform's delivery/event id, or ``sha256-<hex>`` of the body where it sends none
    received_at: datetime
    request: WebhookRequest
    topic: str = ""
    external_order_id: str | None = None  # the order it is about, where the platform's delivery names one


class DeliveryArchive(Protocol):
    """Verified deliveries, kept 30 days so an operator can replay one through intake."""

    def keep(self, delivery: StoredDelivery) -> bool:
        """Store it; False (nothing stored) when it is too large to keep. The delivery is processed either way."""

    def get(self, store_id: str, delivery_id: str) -> StoredDelivery | None:
        """The newest stored arrival of that delivery."""

    def list(self, store_id: str, external_order_id: str | None = None, limit: int = 50) -> Sequence[StoredDelivery]:
        """The store's stored deliveries (only those about that order, if given), newest first."""


class FetchQueue(Protocol):
    def enqueue(self, request: FetchRequest) -> None: ...


class StartQueue(Protocol):
    """Where a start that could not be made at once waits; its consumer retries with backoff."""

    def request(self, request: StartRequest) -> None: ...


class StoreNotifier(Protocol):
    """The write-back outbox: queued per order, in order, applied by the write-back worker."""

    def notify(self, request: WriteBackRequest) -> None: ...


class Carrier(Protocol):
    """A label aggregator (EasyPost) under the store's own account (``api_key``). A shipment is free until its
    label is bought; buying is the step that costs money, so the caller stores the shipment id first and asks
    for the shipment again on a retry (``shipment``) instead of creating and buying a second one.

    A refusal for good (an address error, no rate, a refused key) raises ``ShipmentRejected``; a timeout, a 429
    or a 5xx raises ``TransientError``."""

    name: str

    def create_shipment(self, api_key: str, request: ShipmentRequest) -> Shipment:
        """Create a shipment for one parcel; it comes back with the rates offered for it."""

    def shipment(self, api_key: str, shipment_id: str) -> Shipment:
        """The shipment as the carrier has it now (its label, if one was bought; its refund status)."""

    def buy(self, api_key: str, shipment_id: str, rate_id: str) -> Shipment:
        """Buy the label at that rate."""

    def refund(self, api_key: str, shipment_id: str) -> Shipment:
        """Ask for an unused label's postage back; the shipment's ``refund_status`` says how it went."""


class Warehouse(Protocol):
    def request_inspection(self, order: Order, attempt: int) -> None:
        """Ask for the order's units to be inspected; the warehouse answers on its callback route."""

    def expect_return(self, ret: Return) -> None:
        """Announce an RMA: the warehouse reports the goods' arrival and their inspection on its callback route."""


# --- stock -------------------------------------------------------------------------------------
# Every method is safe under Step Functions retries and re-runs: reserving twice for the same order takes stock
# once, releasing or consuming twice changes stock once. A reservation is keyed on ``Order.attempt_ref()`` (the
# order key, or ``<key>:a<n>`` for a reopened order's later attempt): the ``order_key`` the methods take.


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


# --- money we collect ourselves ---------------------------------------------------------------------
# Only ``AUTHORIZED`` and ``CASH_ON_DELIVERY`` orders go through the gateway (``model/payment.py``); the store
# holds a ``PREPAID`` order's money and refunds it itself.


class PaymentGateway(Protocol):
    """Every call carries an idempotency key: the same key always gets the first answer (a decline
    included) and never moves money twice. Declines raise ``PaymentDeclined``; a temporary failure
    raises ``TransientError`` and is safe to retry with the same key."""

    def capture(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Capture up to the authorized amount, once: ``captured``, or ``already`` if it was captured before."""

    def void(self, order: Order, idempotency_key: str) -> PaymentResult:
        """Release the payment whatever its state (Adyen's "cancel or refund"): an uncaptured authorization
        is ``voided``; money already captured or collected is refunded in full (``refunded``, the amount
        given back); nothing left to release is ``already``."""

    def refund(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Give back part of what was captured or collected; never more than is left (``PlatformRejected``)."""

    def collect_cash(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Record the carrier's cash collection on delivery: ``collected``, or ``already``."""


class PlatformPayments(Protocol):
    """Moves the money a store platform holds for an order (``PaymentMethod.PLATFORM_AUTHORIZED``, ``PREPAID``),
    through the platform's own API, as far as its ``PaymentCapabilities`` say it can. Exactly once: each call
    first reads what the platform already did for the key (a capture transaction, a refund marked with it)
    and answers ``already`` instead of moving money again. A refusal raises ``PlatformRejected`` (or
    ``PaymentDeclined`` for a capture the gateway declined) and moves nothing; ``TransientError`` is safe to retry."""

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        """``captured``; ``pending`` where the platform captures asynchronously; ``already`` if it was."""

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        """Pay ``amount`` back to the original payment method: ``refunded``, or ``already`` (a refund carrying the
        key exists). ``RefundNotPossible`` where the gateway or method cannot refund online (nothing moved);
        ``PlatformRejected`` for a refund over what was captured."""

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        """Release an authorization nothing was captured from: ``voided``, or ``already``."""


class OpenReturnDeps(Protocol):
    """What opening a return needs (``returns.request.request_return``): intake opens the ones stores report."""

    @property
    def orders(self) -> OrderRepository: ...
    @property
    def returns(self) -> ReturnRepository: ...
    @property
    def workflow(self) -> Workflow: ...


class RecordDeps(OpenReturnDeps, Protocol):
    """What recording a store's order needs, whether it came in a delivery or from a fetch."""

    @property
    def stores(self) -> StoreRegistry: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def starts(self) -> StartQueue: ...


class IntakeDeps(RecordDeps, Protocol):
    """What the intake needs; ``bootstrap.Container`` provides it, tests provide fakes."""

    @property
    def platforms(self) -> Mapping[str, InboundPlatform]: ...
    @property
    def deliveries(self) -> DeliveryLog: ...
    @property
    def archive(self) -> DeliveryArchive: ...
    @property
    def fetches(self) -> FetchQueue: ...


class FetchDeps(RecordDeps, Protocol):
    @property
    def order_sources(self) -> Mapping[str, OrderSource]: ...


class WriteBackDeps(Protocol):
    @property
    def write_backs(self) -> Mapping[str, StoreWriteBack]: ...
    @property
    def stores(self) -> StoreRegistry: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def orders(self) -> OrderRepository: ...


class StepDeps(Protocol):
    """What the workflow's steps need; ``bootstrap.Container`` provides it, tests provide fakes."""

    @property
    def orders(self) -> OrderRepository: ...
    @property
    def stores(self) -> StoreRegistry: ...
    @property
    def workflow(self) -> Workflow: ...
    @property
    def notifier(self) -> StoreNotifier: ...
    @property
    def carrier(self) -> Carrier: ...
    @property
    def warehouse(self) -> Warehouse: ...
    @property
    def inventory(self) -> Inventory: ...
    @property
    def payments(self) -> PaymentGateway: ...
    @property
    def platform_payments(self) -> Mapping[str, PlatformPayments]: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def packer(self) -> Callable[[Order], list[Package]]: ...
    @property
    def catalog(self) -> Mapping[str, Item]: ...


class TrackingDeps(StepDeps, Protocol):
    """What a carrier's tracking webhook needs: the steps' ports and the delivery log that dedupes its events."""

    @property
    def deliveries(self) -> DeliveryLog: ...


class ReturnDeps(StepDeps, Protocol):
    """What the return workflow needs: the fulfillment steps' ports and the returns."""

    @property
    def returns(self) -> ReturnRepository: ...
