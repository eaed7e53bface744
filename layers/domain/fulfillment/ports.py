"""Ports: what the services need from the outside world. Adapters and test fakes implement them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fulfillment.inventory_ports import Inventory
from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.inbound import FetchRequest, HandshakeReply, InboundEvent
from fulfillment.model.store import Label, Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, WriteBackRequest, WriteBackResult
from fulfillment.payment_ports import PaymentGateway


class OrderRepository(Protocol):
    def get(self, key: str) -> Order | None: ...

    def create(self, order: Order) -> None:
        """Store a new order with its pending timeline events; raises VersionConflict if it exists."""

    def save(self, order: Order) -> None:
        """Store changes made to a loaded order; raises VersionConflict if it changed meanwhile."""

    def timeline(self, key: str) -> list[TimelineEvent]: ...

    def list_by_status(self, status: OrderStatus, limit: int = 50) -> list[Order]: ...

    def find_by_tracking(self, carrier: str, tracking_number: str) -> str | None: ...


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

    def heartbeat(self, task_token: str) -> bool: ...

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        """Fail a waiting task with a named error the state machine catches; False if the token is spent."""


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


class FetchQueue(Protocol):
    def enqueue(self, request: FetchRequest) -> None: ...


class StoreNotifier(Protocol):
    """The write-back outbox: queued per order, in order, applied by the write-back worker."""

    def notify(self, request: WriteBackRequest) -> None: ...


class Carrier(Protocol):
    def create_label(self, order: Order) -> Label:
        """Buy a label. Keyed on the order, so asking twice returns the same label."""

    def cancel_label(self, order: Order) -> bool:
        """Void the order's label before handover; False if there was none (or it is already void)."""


class Warehouse(Protocol):
    def request_inspection(self, order: Order, attempt: int) -> None:
        """Ask for the order's units to be inspected; the warehouse answers on its callback route."""


class IntakeDeps(Protocol):
    """What the intake needs; ``bootstrap.Container`` provides it, tests provide fakes."""

    @property
    def platforms(self) -> Mapping[str, InboundPlatform]: ...
    @property
    def stores(self) -> StoreRegistry: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def workflow(self) -> Workflow: ...
    @property
    def deliveries(self) -> DeliveryLog: ...
    @property
    def fetches(self) -> FetchQueue: ...


class FetchDeps(Protocol):
    @property
    def order_sources(self) -> Mapping[str, OrderSource]: ...
    @property
    def stores(self) -> StoreRegistry: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def workflow(self) -> Workflow: ...


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
    def packer(self) -> Callable[[Order], list[dict[str, Any]]]: ...
