"""In-memory implementations of the ports in ``fulfillment.ports``, and a small order factory.

The fakes keep the contracts of the real adapters (see ``adapters/dynamodb.py`` and
``adapters/stepfunctions.py``) so a use case that works against them works against AWS;
``tests/unit/test_fakes.py`` pins those contracts down. That includes what AWS refuses: a key, a number
or an item DynamoDB would answer with a ValidationException, or an execution name Step Functions would
not take, raises ``AwsWouldRefuse`` here (at the edge that is a 500, as it would be in Lambda).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fulfillment.adapters.catalog import default_catalog
from fulfillment.adapters.line_chunks import chunk_sk, lay_out, packed_contents, parcel_sk, with_parcel_statuses
from fulfillment.errors import OrderInvalid, ShipmentRejected, TransientError, UnpackableItem, VersionConflict
from fulfillment.model import Address, Customer, LineItem, Money, Order, OrderStatus, TimelineEvent, Totals
from fulfillment.model.inbound import FetchRequest, StartRequest
from fulfillment.model.inventory import DEFAULT_WAREHOUSE, OutOfStockPolicy, StockLevel
from fulfillment.model.labels import Label, Rate
from fulfillment.model.lifecycle import FULFILLMENT_PATH
from fulfillment.model.order import WaitKind
from fulfillment.model.packaging import Item, Package
from fulfillment.model.payment import PaymentMethod, payment_method
from fulfillment.model.returns import Return, ReturnEvent, ReturnStatus
from fulfillment.model.shipping import CarrierCredentials, Shipment, ShipmentRequest, ShippingProfile
from fulfillment.model.store import Store
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import Execution, StatusEntry, StoredDelivery
from fulfillment.steps.labels import buy_labels
from tests.fakes_inventory import InMemoryInventory
from tests.fakes_payment import FakePaymentGateway
from tests.fakes_platform_payments import FakePlatformPayments

TEST_SECRET = "test-secret"
STORE_ID = "kaffeekontor"
SECRET_REF = f"/fulfillment/test/stores/{STORE_ID}/webhook-secret"
EASYPOST = CarrierCredentials(api_key="EZTKtestkey", webhook_secret="sécret")
# The store's secret as the workflow steps read it: the webhook secret and the store's EasyPost account.
STORE_SECRET = json.dumps({"webhook_secret": TEST_SECRET, "easypost": EASYPOST.model_dump()})
WAREHOUSE = Address(
    name="Kaffeekontor Versand",
    company="Kaffeekontor GmbH",
    lines=("Lagerstraße 12",),
    city="Hamburg",
    postal_code="20095",
    country="DE",
    phone="+49 40 1234567",
)
SHIPPING = ShippingProfile(ship_from=WAREHOUSE, email="versand@kaffeekontor.example", customs_signer="Jana Weber")


# --- what AWS refuses ------------------------------------------------------------------------------
class AwsWouldRefuse(Exception):
    """A write or read the real service would refuse with a ValidationException: a 500 at the HTTP edge."""


DYNAMODB_PARTITION_KEY_BYTES = 2048
DYNAMODB_SORT_KEY_BYTES = 1024
DYNAMODB_ITEM_BYTES = 400 * 1024
DYNAMODB_TRANSACTION_ACTIONS = 100
_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ISO_NOW = "2025-06-04T07:12:40.123456+00:00"  # as long as the ``updated_at`` the real repository writes


def _dynamodb_size(value: Any) -> int:
    """An attribute value's size as DynamoDB counts it; AwsWouldRefuse for a value it cannot hold."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, int):
        digits = str(abs(value))  # boto3's serializer traps rounding: 10**40 fails too, trailing zeros or not
        if len(digits) > 38:
            raise AwsWouldRefuse(f"a number of {len(digits)} digits: DynamoDB keeps 38 significant digits")
        return len(digits.rstrip("0") or "0") // 2 + 2
    if isinstance(value, float):
        raise AwsWouldRefuse(f"a float {value!r}: boto3 serialises no floats")
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _dynamodb_size(element) for element in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(str(name).encode()) + _dynamodb_size(element) for name, element in value.items())
    raise AwsWouldRefuse(f"a {type(value).__name__} is no DynamoDB attribute value")


def dynamodb_key(partition: str, sort: str | None = None) -> None:
    """A key DynamoDB would take (partition key ≤ 2048 bytes, sort key ≤ 1024 bytes, neither empty)."""
    for value, limit in ((partition, DYNAMODB_PARTITION_KEY_BYTES), (sort, DYNAMODB_SORT_KEY_BYTES)):
        if value is not None and not 0 < len(value.encode("utf-8")) <= limit:
            raise AwsWouldRefuse(f"a key attribute of {len(value.encode())} bytes; DynamoDB takes 1 to {limit}")


def dynamodb_item(document: dict[str, Any], partition: str, sort: str, *indexed: str) -> None:
    """An item DynamoDB would write: its keys (and GSI sort keys ``indexed``), its numbers, at most 400 KB."""
    dynamodb_key(partition, sort)
    for value in indexed:
        dynamodb_key("x", value)
    size = _dynamodb_size(document) + len(partition.encode()) + len(sort.encode()) + 4
    if size > DYNAMODB_ITEM_BYTES:
        raise AwsWouldRefuse(f"an item of {size} bytes; DynamoDB items are at most {DYNAMODB_ITEM_BYTES}")


# --- repositories ----------------------------------------------------------------------------------
class InMemoryOrderRepository:
    """Orders with optimistic locking, like ``DynamoOrderRepository``.

    Stored state goes through a JSON round trip (as it does through DynamoDB), so callers never
    share objects with the store, and nothing that could not be written is accepted.
    """

    def __init__(self) -> None:
        self._orders: dict[str, dict[str, Any]] = {}
        self._events: dict[str, dict[int, dict[str, Any]]] = {}
        self._tracking: dict[tuple[str, str], str] = {}
        self._parcels: dict[str, dict[str, str]] = {}  # order key -> shipment id -> tracker status
        self._saved_at: dict[str, int] = {}
        self.saved_when: dict[str, datetime] = {}  # the last save's time (a test may age an order)
        self._clock = 0
        self.writes = 0

    # reads
    def get(self, key: str) -> Order | None:
        dynamodb_key(f"ORDER#{key}", "ORDER")
        document = self._orders.get(key)
        if document is None:
            return None
        return with_parcel_statuses(Order.model_validate(document), self._parcels.get(key, {}))

    def record_parcel_status(self, key: str, shipment_id: str, status: str, *, unless: frozenset[str]) -> bool:
        dynamodb_key(f"ORDER#{key}", parcel_sk(shipment_id))
        parcels = self._parcels.setdefault(key, {})
        if parcels.get(shipment_id) in unless:
            return False
        parcels[shipment_id] = status
        return True

    def timeline(self, key: str) -> list[TimelineEvent]:
        events = self._events.get(key, {})
        return [TimelineEvent.model_validate(events[seq]) for seq in sorted(events)]

    def list_by_status(
        self, status: OrderStatus | None = None, limit: int = 50, *, store_id: str | None = None
    ) -> list[Order]:
        keys = [
            key
            for key, document in self._orders.items()
            if status in (None, document["status"]) and store_id in (None, document["store_id"])
        ]
        keys.sort(key=lambda key: self._saved_at[key], reverse=True)  # most recently saved first
        return [Order.model_validate(self._orders[key]) for key in keys[:limit]]

    def oldest_in_status(self, status: OrderStatus, limit: int) -> list[StatusEntry]:
        keys = [key for key, document in self._orders.items() if document["status"] == status]
        keys.sort(key=lambda key: (self.saved_when[key], self._saved_at[key]))
        return [StatusEntry(Order.model_validate(self._orders[key]), self.saved_when[key]) for key in keys[:limit]]

    def find_by_tracking(self, carrier: str, shipment_id: str) -> str | None:
        dynamodb_key(f"TRACKING#{carrier}#{shipment_id}", "TRACKING")
        return self._tracking.get((carrier, shipment_id))

    # writes
    def create(self, order: Order) -> None:
        if order.key in self._orders:
            raise VersionConflict(f"order {order.key} changed meanwhile")
        self._write(order)

    def save(self, order: Order) -> None:
        stored = self._orders.get(order.key)
        if stored is None or stored["version"] != order.version:
            raise VersionConflict(f"order {order.key} changed meanwhile")
        self._write(order)

    def _write(self, order: Order) -> None:
        events = self._events.setdefault(order.key, {})
        if any(event.seq in events for event in order.pending_events):
            raise VersionConflict(f"order {order.key} changed meanwhile")  # the event item already exists
        document = order.model_dump(mode="json")
        document["version"] = order.version + 1
        document["events_recorded"] = order.events_recorded + len(order.pending_events)
        partition = f"ORDER#{order.key}"
        # The items the real repository writes: a large order's lines in chunk items beside the order item.
        layout = lay_out(document["lines"])
        item = {k: v for k, v in document.items() if k != "lines"} if layout.chunks else document
        item = {**item, "packages": packed_contents(document["packages"])}
        dynamodb_item(item, partition, "ORDER", f"{_ISO_NOW}#{order.key}")
        for index, packed in enumerate(layout.chunks):
            dynamodb_item({"digest": layout.digest, "lines_zlib": packed}, partition, chunk_sk(index))
        if 1 + len(layout.chunks) + len(order.pending_events) + 1 > DYNAMODB_TRANSACTION_ACTIONS:
            raise AwsWouldRefuse(f"a transaction of more than {DYNAMODB_TRANSACTION_ACTIONS} actions")
        for event in order.pending_events:
            dynamodb_item(event.model_dump(mode="json"), partition, f"EVENT#{event.seq:08d}")
        for carrier, shipment_id in order.pending_lookups:
            dynamodb_key(f"TRACKING#{carrier}#{shipment_id}", "TRACKING")
        self._orders[order.key] = document
        for event in order.pending_events:
            events[event.seq] = event.model_dump(mode="json")
        for lookup in order.pending_lookups:
            self._tracking[lookup] = order.key
        self._clock += 1
        self._saved_at[order.key] = self._clock
        self.saved_when[order.key] = datetime.now(UTC)
        self.writes += 1
        order.version = document["version"]
        order.events_recorded = document["events_recorded"]
        order.pending_events.clear()
        order.pending_lookups.clear()

    # test helpers
    def keys(self) -> list[str]:
        return sorted(self._orders)

    def __len__(self) -> int:
        return len(self._orders)


class InMemoryReturnRepository:
    """Returns with optimistic locking; a save that carries the order saves both or neither, like the
    DynamoDB transaction."""

    def __init__(self, orders: InMemoryOrderRepository) -> None:
        self._orders = orders
        self._returns: dict[str, dict[str, Any]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}

    def get(self, key: str) -> Return | None:
        dynamodb_key(f"ORDER#{key}", "RETURN#0001")
        document = self._returns.get(key)
        return Return.model_validate(document) if document is not None else None

    def for_order(self, order_key: str) -> list[Return]:
        found = [Return.model_validate(doc) for doc in self._returns.values() if doc["order_key"] == order_key]
        return sorted(found, key=lambda ret: ret.number)

    def timeline(self, key: str) -> list[ReturnEvent]:
        return [ReturnEvent.model_validate(event) for event in self._events.get(key, [])]

    def list_by_status(self, status: ReturnStatus, limit: int = 50) -> list[Return]:
        return [Return.model_validate(doc) for doc in self._returns.values() if doc["status"] == status][:limit]

    def create(self, ret: Return, order: Order) -> None:
        if ret.key in self._returns:
            raise VersionConflict(f"return {ret.key} exists")
        self._write(ret, order)

    def save(self, ret: Return, order: Order | None = None) -> None:
        stored = self._returns.get(ret.key)
        if stored is None or stored["version"] != ret.version:
            raise VersionConflict(f"return {ret.key} changed meanwhile")
        self._write(ret, order)

    def _write(self, ret: Return, order: Order | None) -> None:
        if order is not None:
            self._orders.save(order)  # first: a conflict there leaves the return unwritten too
        document = ret.model_dump(mode="json")
        document["version"] = ret.version + 1
        document["events_recorded"] = ret.events_recorded + len(ret.pending_events)
        dynamodb_item(document, f"ORDER#{ret.order_key}", f"RETURN#{ret.number:04d}", f"{_ISO_NOW}#{ret.key}")
        self._returns[ret.key] = document
        self._events.setdefault(ret.key, []).extend(event.model_dump(mode="json") for event in ret.pending_events)
        ret.version, ret.events_recorded = document["version"], document["events_recorded"]
        ret.pending_events.clear()

    def __len__(self) -> int:
        return len(self._returns)


class FlakyOrderRepository(InMemoryOrderRepository):
    """An ``InMemoryOrderRepository`` whose next saves can be made to fail or race.

    ``fail_next_save(error)`` makes the next save raise ``error`` without writing (a Lambda that died, or
    lost a race, after its side effects and before its save); ``before_next_save(act)`` runs ``act`` with
    the order about to be saved, just before it is written (a concurrent writer getting in first).
    """

    def __init__(self) -> None:
        super().__init__()
        self._failures: list[Exception] = []
        self._interleaved: list[Callable[[Order], None]] = []

    def fail_next_save(self, error: Exception | None = None) -> None:
        self._failures.append(error or VersionConflict("changed meanwhile"))

    def before_next_save(self, act: Callable[[Order], None]) -> None:
        self._interleaved.append(act)

    def fail_save(self, nth: int, error: Exception | None = None) -> None:
        """The ``nth`` save from now (1: the next one) fails; the ones before it go through."""
        failure = error or VersionConflict("changed meanwhile")
        countdown = [nth]

        def maybe_fail(_: Order) -> None:
            countdown[0] -= 1
            if countdown[0] == 0:
                raise failure
            self._interleaved.insert(0, maybe_fail)

        self._interleaved.append(maybe_fail)

    def save(self, order: Order) -> None:
        if self._interleaved:
            self._interleaved.pop(0)(order)
        if self._failures:
            raise self._failures.pop(0)
        super().save(order)


class InMemoryStoreRegistry:
    def __init__(self, *stores: Store) -> None:
        self._stores = {store.store_id: store for store in stores}

    def get(self, store_id: str) -> Store | None:
        return self._stores.get(store_id)

    def put(self, store: Store) -> None:
        self._stores[store.store_id] = store


class FakeSecretStore:
    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self._secrets = dict(secrets or {})

    def get(self, ref: str) -> str:
        try:
            return self._secrets[ref]
        except KeyError:
            raise LookupError(f"no secret {ref}") from None


# --- workflow and partners -------------------------------------------------------------------------
class RecordingWorkflow:
    """Step Functions in memory: execution names are unique, a task token answers once (resume or fail).

    Started executions are RUNNING until a test ends them (``statuses[name] = "FAILED"``); ``can_redrive``
    False plays the local engine, which has no redrive.
    """

    def __init__(self) -> None:
        self.started: list[str] = []
        self.start_calls = 0
        self.resumed: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[tuple[str, str, str]] = []  # (token, error, cause)
        self.heartbeats: list[str] = []
        self.statuses: dict[str, str] = {}
        self.errors: dict[str, str] = {}  # a FAILED execution's error, e.g. "FulfillmentFailed"
        self.redriven: list[str] = []
        self.can_redrive = True

    def start(self, order: Order) -> bool:
        return self.start_named(order, order.execution_name())

    def start_named(self, order: Order, name: str) -> bool:
        if not _EXECUTION_NAME.fullmatch(name):
            raise AwsWouldRefuse(f"execution name {name!r}: Step Functions takes 1-80 of [A-Za-z0-9_-]")
        self.start_calls += 1
        if name in self.started:
            return False
        self.started.append(name)
        self.statuses[name] = "RUNNING"
        return True

    def start_return(self, ret: Return) -> bool:
        self.start_calls += 1
        name = ret.execution_name()
        if name in self.started:
            return False
        self.started.append(name)
        self.statuses[name] = "RUNNING"
        return True

    def execution(self, name: str) -> Execution | None:
        if name not in self.started:
            return None
        return Execution(name=name, status=self.statuses[name], error=self.errors.get(name))

    def redrive(self, name: str) -> bool:
        if not self.can_redrive:
            return False
        self.redriven.append(name)
        self.statuses[name] = "RUNNING"
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        if task_token in self.answered_tokens:
            return False
        self.resumed.append((task_token, dict(output)))
        return True

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        if task_token in self.answered_tokens:
            return False
        self.failed.append((task_token, error, cause))
        return True

    def heartbeat(self, task_token: str) -> bool:
        if task_token in self.answered_tokens:
            return False
        self.heartbeats.append(task_token)
        return True

    @property
    def resumed_tokens(self) -> list[str]:
        return [token for token, _ in self.resumed]

    @property
    def failed_tokens(self) -> list[str]:
        return [token for token, _, _ in self.failed]

    @property
    def answered_tokens(self) -> list[str]:
        return self.resumed_tokens + self.failed_tokens


class FakeCarrier:
    """EasyPost in memory, per API key: shipments with a rate per service, one label per shipment (a second
    purchase is refused, as EasyPost refuses it), refunds recorded once (``refund_status`` submitted, or rejected
    once the tracker shows the carrier has the parcel: ``scan``)."""

    RATES = (("USPS", "GroundAdvantage", "5.25", 5), ("USPS", "Priority", "7.42", 2), ("USPS", "Express", "34.15", 1))

    def __init__(self, name: str = "easypost") -> None:
        self.name = name
        self.requests: dict[str, ShipmentRequest] = {}  # shipment id -> what was asked
        self._shipments: dict[str, Shipment] = {}
        self._keys: dict[str, str] = {}
        self._scanned: set[str] = set()
        self.purchases: list[str] = []  # shipment ids, one per label bought
        self.refunds: list[str] = []  # shipment ids, one per refund accepted
        self.calls: list[str] = []  # method names, in order

    def create_shipment(self, api_key: str, request: ShipmentRequest) -> Shipment:
        self.calls.append("create_shipment")
        shipment_id = f"shp_{len(self._shipments) + 1:04d}"
        rates = tuple(
            Rate(
                id=f"rate_{shipment_id}_{service}",
                carrier=carrier,
                service=service,
                cost=Money.parse(cost, "USD"),
                delivery_days=days,
            )
            for carrier, service, cost, days in self.RATES
        )
        self._shipments[shipment_id], self._keys[shipment_id] = Shipment(id=shipment_id, rates=rates), api_key
        self.requests[shipment_id] = request
        return self._shipments[shipment_id]

    def shipment(self, api_key: str, shipment_id: str) -> Shipment:
        self.calls.append("shipment")
        return self._mine(api_key, shipment_id)

    def buy(self, api_key: str, shipment_id: str, rate_id: str) -> Shipment:
        self.calls.append("buy")
        shipment = self._mine(api_key, shipment_id)
        if shipment.label is not None:
            raise ShipmentRejected(f"EasyPost refused the label for {shipment_id} (422 SHIPMENT.POSTAGE.EXISTS)")
        rate = next(rate for rate in shipment.rates if rate.id == rate_id)
        number = f"EZ{len(self.purchases) + 1:08d}"
        label = Label(
            carrier=rate.carrier,
            service=rate.service,
            tracking_number=number,
            tracking_url=f"https://track.easypost.com/trk_{number}",
            label_url=f"https://easypost-files.example/{shipment_id}.pdf",
            cost=rate.cost,
            rate_id=rate.id,
        )
        self.purchases.append(shipment_id)
        self._shipments[shipment_id] = shipment = shipment.model_copy(update={"label": label})
        return shipment

    def refund(self, api_key: str, shipment_id: str) -> Shipment:
        self.calls.append("refund")
        shipment = self._mine(api_key, shipment_id)
        if shipment.label is None:
            raise ShipmentRejected(f"{shipment_id} has no label to refund")
        if shipment.refund_status is None:
            status = "rejected" if shipment_id in self._scanned else "submitted"
            self._shipments[shipment_id] = shipment = shipment.model_copy(update={"refund_status": status})
            self.refunds.append(shipment_id)
        return shipment

    def scan(self, shipment_id: str) -> None:
        """The carrier scanned the parcel (it left the warehouse): its label can no longer be refunded."""
        self._scanned.add(shipment_id)

    def _mine(self, api_key: str, shipment_id: str) -> Shipment:
        if self._keys.get(shipment_id) != api_key:
            raise ShipmentRejected(f"EasyPost has no shipment {shipment_id} for this key (404)")
        return self._shipments[shipment_id]

    # test helpers
    def shipments_for(self, order_key: str) -> list[str]:
        """The order's shipment ids over all its attempts, in creation order."""
        return [
            sid
            for sid, request in self.requests.items()
            if request.reference.startswith((f"{order_key}:p", f"{order_key}:a"))
        ]

    def labels_for(self, order_key: str) -> list[Label]:
        return [label for sid in self.shipments_for(order_key) if (label := self._shipments[sid].label)]

    def bought(self, order_key: str) -> Label | None:
        """The first label of the order's latest attempt (``Order.attempt_ref``), if one was bought."""
        refs = [self.requests[sid].reference.rsplit(":p", 1)[0] for sid in self.shipments_for(order_key)]
        latest = [
            sid
            for sid, ref in zip(self.shipments_for(order_key), refs, strict=True)
            if ref == (refs[-1] if refs else "")
        ]
        labels = [self._shipments[sid].label for sid in latest if self._shipments[sid].label]
        return labels[0] if labels else None

    def active(self, order_key: str) -> list[Label]:
        """The order's labels, over all its attempts, that were not refunded."""
        return [
            label
            for sid in self.shipments_for(order_key)
            if (label := self._shipments[sid].label) and self._shipments[sid].refund_status in (None, "rejected")
        ]

    def refunded(self, order_key: str) -> list[str]:
        return [sid for sid in self.refunds if sid in self.shipments_for(order_key)]


class FakeWarehouse:
    """Records inspection requests; the test plays the warehouse and answers with ``record_inspection``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []  # (order key, attempt)
        self.rmas: list[str] = []  # RMAs announced

    def request_inspection(self, order: Order, attempt: int) -> None:
        self.requests.append((order.key, attempt))

    def expect_return(self, ret: Return) -> None:
        self.rmas.append(ret.rma or "")


class RecordingPacker:
    """A packer (``StepDeps.packer``): one package per order line, or ``UnpackableItem`` for ``unpackable`` SKUs."""

    def __init__(self, *, weight_g: int = 400) -> None:
        self.weight_g = weight_g
        self.unpackable: set[str] = set()
        self.calls: list[str] = []

    def __call__(self, order: Order) -> list[Package]:
        self.calls.append(order.key)
        for line in order.lines:
            if line.sku in self.unpackable:
                raise UnpackableItem(f"{line.sku} fits no box", sku=line.sku)
        return [
            Package(box_code="S", items=((line.sku, line.quantity),), weight_g=self.weight_g, dims_mm=(250, 200, 150))
            for line in order.lines
        ]


# --- builders -------------------------------------------------------------------------------------
def woo_sign(secret: str, body: bytes) -> str:
    """An independent WooCommerce signer (base64 HMAC-SHA256 of the raw body) for synthetic bodies."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def woo_store(store_id: str = STORE_ID, platform: str = "woocommerce", **options: str) -> Store:
    return Store(
        store_id=store_id,
        platform=platform,
        secret_ref=SECRET_REF,
        name="Kaffeekontor",
        options=options,
        shipping=SHIPPING,
    )


def money(amount: str, currency: str = "EUR") -> Money:
    return Money.parse(amount, currency)


def make_address(**overrides: Any) -> Address:
    fields: dict[str, Any] = {
        "name": "Zoë Ångström-Müller",
        "lines": ("Straße des 17. Juni 135",),
        "city": "Berlin",
        "region": "BE",
        "postal_code": "10623",
        "country": "DE",
    }
    return Address(**(fields | overrides))


def make_line(**overrides: Any) -> LineItem:
    fields: dict[str, Any] = {
        "line_id": "301",
        "sku": "MUG-CC-BLU",
        "name": "Café Crème Mug",
        "quantity": 2,
        "unit_price": money("14.50"),
    }
    return LineItem(**(fields | overrides))


def make_order(**overrides: Any) -> Order:
    """A valid, paid, fulfillable EUR order that has never been stored; any field can be overridden."""
    address = make_address()
    fields: dict[str, Any] = {
        "store_id": STORE_ID,
        "platform": "woocommerce",
        "external_id": "4711",
        "number": "4711",
        "currency": "EUR",
        "customer": Customer(email="zoe@example.com", name=address.name, external_id="87"),
        "billing_address": address,
        "shipping_address": address,
        "lines": (make_line(),),
        "totals": Totals(
            items=money("29.00"),
            shipping=money("5.90"),
            tax=money("0.00"),
            discount=money("0.00"),
            grand_total=money("34.90"),
        ),
        "placed_at": datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC),
        "source_modified_at": datetime(2025, 6, 3, 12, 21, 8, tzinfo=UTC),
        "paid": True,
    }
    return Order(**(fields | overrides))


def store_new_order(orders: InMemoryOrderRepository, **overrides: Any) -> Order:
    """Record a new order as intake does (one receipt event), and return what was stored."""
    order = make_order(**overrides)
    order.record_receipt("placed for a test", at=order.placed_at)
    orders.create(order)
    return order


class InMemoryDeliveryLog:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str, str]] = set()

    def first_seen(self, platform: str, store_id: str, event_id: str) -> bool:
        dynamodb_key(f"DELIVERY#{platform}#{store_id}#{event_id}", "DELIVERY")
        key = (platform, store_id, event_id)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def forget(self, platform: str, store_id: str, event_id: str) -> None:
        self.seen.discard((platform, store_id, event_id))


class InMemoryDeliveryArchive:
    """Kept deliveries, newest first on reading, like ``DynamoDeliveryArchive`` (no size limit here)."""

    def __init__(self) -> None:
        self.kept: list[StoredDelivery] = []

    def keep(self, delivery: StoredDelivery) -> bool:
        dynamodb_key(f"WEBHOOK#{delivery.store_id}", f"{delivery.received_at.isoformat()}#{delivery.delivery_id}")
        self.kept.append(delivery)
        return True

    def get(self, store_id: str, delivery_id: str) -> StoredDelivery | None:
        return next(iter(self.list(store_id, limit=len(self.kept), delivery_id=delivery_id)), None)

    def list(
        self, store_id: str, external_order_id: str | None = None, limit: int = 50, delivery_id: str | None = None
    ) -> list[StoredDelivery]:
        newest_first = sorted(self.kept, key=lambda kept: kept.received_at, reverse=True)
        return [
            kept
            for kept in newest_first
            if kept.store_id == store_id
            and external_order_id in (None, kept.external_order_id)
            and delivery_id in (None, kept.delivery_id)
        ][:limit]


class RecordingFetchQueue:
    def __init__(self) -> None:
        self.requests: list[FetchRequest] = []

    def enqueue(self, request: FetchRequest) -> None:
        self.requests.append(request)


class RecordingStartQueue:
    """The start queue: requests in order; ``broken`` plays a queue that cannot be reached."""

    def __init__(self) -> None:
        self.requests: list[StartRequest] = []
        self.broken = False

    def request(self, request: StartRequest) -> None:
        if self.broken:
            raise TransientError("SQS ServiceUnavailable")
        self.requests.append(request)

    def keys(self) -> list[str]:
        return [request.order_key for request in self.requests]


class RecordingNotifier:
    def __init__(self) -> None:
        self.requests: list[WriteBackRequest] = []

    def notify(self, request: WriteBackRequest) -> None:
        self.requests.append(request)

    def kinds_for(self, order_key: str) -> list[UpdateKind]:
        return [request.kind for request in self.requests if request.order_key == order_key]


# --- the workflow's world ---------------------------------------------------------------------------
_WAIT_AT: dict[OrderStatus, WaitKind] = {
    OrderStatus.VALIDATED: WaitKind.APPROVAL,
    OrderStatus.RESERVED: WaitKind.INSPECTION,
    OrderStatus.SHIPPED: WaitKind.DELIVERY,
}


@dataclass
class FulfillmentWorld:
    """Fakes for every port the workflow steps use: satisfies ``fulfillment.ports.StepDeps``.

    ``order_at`` stores an order and moves it to a status with what getting there leaves behind in
    the world (stock seeded for its SKUs, its reservation, its label, its authorization).
    """

    orders: FlakyOrderRepository = field(default_factory=FlakyOrderRepository)
    stores: InMemoryStoreRegistry = field(default_factory=lambda: InMemoryStoreRegistry(woo_store()))
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    carrier: FakeCarrier = field(default_factory=FakeCarrier)
    warehouse: FakeWarehouse = field(default_factory=FakeWarehouse)
    inventory: InMemoryInventory = field(default_factory=InMemoryInventory)
    payments: FakePaymentGateway = field(default_factory=FakePaymentGateway)
    platform_payments: dict[str, FakePlatformPayments] = field(
        default_factory=lambda: {"woocommerce": FakePlatformPayments()}
    )
    packer: RecordingPacker = field(default_factory=RecordingPacker)
    secrets: FakeSecretStore = field(default_factory=lambda: FakeSecretStore({SECRET_REF: STORE_SECRET}))
    catalog: dict[str, Item] = field(default_factory=lambda: dict(default_catalog()[0]))
    returns: InMemoryReturnRepository = field(init=False)

    def __post_init__(self) -> None:
        self.returns = InMemoryReturnRepository(self.orders)

    def store_options(self, **options: str) -> None:
        """Replace the store's options (``out_of_stock``, ``capture_on``, ``review_above_minor``, …)."""
        self.stores.put(woo_store(**options))

    def order_at(
        self,
        status: OrderStatus,
        *,
        stock: int = 10,
        token: str | None = None,
        waiting_for: WaitKind | None = None,
        **overrides: Any,
    ) -> str:
        """Store an order at ``status`` (FAILED and CANCELLED from VALIDATED), ``stock`` units of each SKU on
        hand; with ``token``, parked waiting for ``waiting_for`` (by default what ``status`` waits for)."""
        if status is OrderStatus.PENDING_PAYMENT:
            overrides.setdefault("paid", False)
        order = make_order(**overrides)
        for sku in sorted({line.sku for line in order.lines}):
            if stock > 0:
                self.inventory.restock(DEFAULT_WAREHOUSE, sku, stock)
        if _method(order) is PaymentMethod.AUTHORIZED:
            self.payments.authorize(order.key, order.totals.grand_total.minor, order.currency)
        order.record_receipt("placed for a test", at=order.placed_at)
        self.orders.create(order)
        if status is OrderStatus.PENDING_PAYMENT:
            return order.key
        terminal = status in (OrderStatus.FAILED, OrderStatus.CANCELLED)
        milestone = OrderStatus.VALIDATED if terminal else status
        for target in FULFILLMENT_PATH[1 : FULFILLMENT_PATH.index(milestone) + 1]:
            if target is OrderStatus.RESERVED:
                self.inventory.reserve(order, OutOfStockPolicy.WAIT)
            if target is OrderStatus.PACKAGED:
                order.packages = order.packages or RecordingPacker()(order)
            if target is OrderStatus.SHIPPED:
                buy_labels(order, self)
                first = order.packages[0].label
                assert first is not None
                order.carrier, order.tracking_number = first.carrier, first.tracking_number
                self.inventory.consume(order.key)
            order.transition_to(target, f"given {target}")
        if terminal:
            order.transition_to(status, f"given {status}")
        if token is not None:
            order.wait.park(token, str(waiting_for or _WAIT_AT.get(status, WaitKind.OPERATOR)))
        self.orders.save(order)
        return order.key

    def stored(self, key: str) -> Order:
        order = self.orders.get(key)
        assert order is not None, f"no order {key}"
        return order

    def timeline(self, key: str) -> list[TimelineEvent]:
        return self.orders.timeline(key)

    def last_event(self, key: str) -> TimelineEvent:
        return self.orders.timeline(key)[-1]

    def level(self, sku: str = "MUG-CC-BLU") -> StockLevel:
        level = self.inventory.level(DEFAULT_WAREHOUSE, sku)
        assert level is not None, f"no stock of {sku}"
        return level


def _method(order: Order) -> PaymentMethod | None:
    try:
        return payment_method(order)
    except OrderInvalid:
        return None
