"""Ports: what the services need from the outside world. Adapters and test fakes implement them."""

from __future__ import annotations

from typing import Any, Protocol

from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.store import InspectionResult, Label, Store, WebhookRequest


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


class InboundPlatform(Protocol):
    """How one store platform's webhooks are recognised, verified and read."""

    name: str

    def is_handshake(self, request: WebhookRequest) -> bool:
        """An unsigned ping or challenge the platform sends when a webhook is registered."""

    def verify(self, request: WebhookRequest, secret: str) -> None:
        """Raise InvalidSignature unless the delivery is signed with ``secret``."""

    def parse(self, request: WebhookRequest, store: Store) -> Order:
        """Read the delivery into a canonical order; raise MalformedPayload if it cannot."""


class Carrier(Protocol):
    def create_label(self, order: Order) -> Label:
        """Buy a label. Keyed on the order, so asking twice returns the same label."""


class Warehouse(Protocol):
    def inspect(self, order: Order) -> InspectionResult: ...
