"""DynamoDB single-table adapters: orders, their timelines, shipments and the store registry.

| item            | PK                        | SK              | GSI1PK           | GSI1SK                 |
|-----------------|---------------------------|-----------------|------------------|------------------------|
| order           | ``ORDER#<order key>``     | ``ORDER``       | ``STATUS#<s>``   | ``<updated at>#<key>`` |
| a large order's | ``ORDER#<order key>``     | ``LINES#<n>``   |                  |                        |
| lines, chunked  |                           |                 |                  |                        |
| timeline event  | ``ORDER#<order key>``     | ``EVENT#<seq>`` |                  |                        |
| shipment lookup | ``TRACKING#<carrier>#<shipment id>``| ``TRACKING``    |                  |                        |
| store           | ``STORE#<store id>``      | ``STORE``       |                  |                        |
| kept delivery   | ``WEBHOOK#<store id>``    | ``<received at>#<delivery id>`` |  |                   |

A kept delivery's body too large for its item is in S3 (``adapters/s3.py``), the item naming its key.
"""

from __future__ import annotations

import base64
import builtins
import heapq
import itertools
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from fulfillment.adapters.line_chunks import (
    INLINE_LINES_BYTES,
    LINES_PREFIX,
    PARCEL_PREFIX,
    chunk_sk,
    lay_out,
    lines_of,
    packed_contents,
    parcel_sk,
    unpacked_contents,
    with_parcel_statuses,
)
from fulfillment.errors import TransientError, VersionConflict
from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.store import Store, WebhookRequest
from fulfillment.ports import StatusEntry, StoredDelivery

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from fulfillment.adapters.s3 import S3Bodies

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflict",
        "TransactionInProgressException",
    }
)
_ORDER_FIELDS_NOT_STORED = {"pending_events"}
_READ_ATTEMPTS = 5  # a large order's chunks read while a concurrent save replaced them: read again


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _order_pk(key: str) -> str:
    return f"ORDER#{key}"


def _tracking_pk(carrier: str, shipment_id: str) -> str:
    return f"TRACKING#{carrier}#{shipment_id}"


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    reasons = error.response.get("CancellationReasons", [])
    return code == "TransactionCanceledException" and any(
        reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
    )


def newest_first(
    client: DynamoDBClient,
    table: str,
    partition: str,
    *,
    page_size: int,
    store_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The items of one GSI1 partition, newest first, read page by page only as far as the caller iterates.

    With ``store_id`` the query itself keeps only that store's items (a ``FilterExpression``): a page then
    holds the matches among ``page_size`` items read, so the pages go on until the caller has enough or
    the partition ends. A page can also end early at DynamoDB's 1 MB, which the same loop covers.
    """
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :partition",
        "ExpressionAttributeValues": _to_item({":partition": partition}),
        "ScanIndexForward": False,
        "Limit": page_size,
    }
    if store_id is not None:
        kwargs["FilterExpression"] = "store_id = :store"
        kwargs["ExpressionAttributeValues"] |= _to_item({":store": store_id})
    while True:
        page = client.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _approximate_size(values: dict[str, Any]) -> int:
    return sum(len(str(key)) + len(str(value)) for key, value in values.items())


def _gsi1_sort_key(item: dict[str, Any]) -> str:
    return str(item["GSI1SK"]["S"])


def put_new(table: str, item: dict[str, Any]) -> TransactWriteItemTypeDef:
    """A transaction item that writes ``item`` only if it does not exist (a timeline event is written once)."""
    return {"Put": {"TableName": table, "Item": _to_item(item), "ConditionExpression": "attribute_not_exists(SK)"}}


def _translate(error: ClientError, what: str) -> Exception:
    if _is_condition_failure(error):
        return VersionConflict(f"{what} changed meanwhile")
    code = error.response["Error"]["Code"]
    reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
    if code in _TRANSIENT_CODES or reasons & _TRANSIENT_CODES:
        return TransientError(f"DynamoDB {code} on {what}")
    return error


class DynamoOrderRepository:
    """Orders with optimistic locking; every save writes the order and its new events in one transaction.

    A large order's lines live in chunk items beside it (``adapters/line_chunks.py``; ``inline_lines_bytes``:
    tests make it small). ``filtered_page_size``: how many index items one page of a store-filtered listing
    reads (tests make it small to force many pages); an unfiltered listing reads pages of the limit it was
    asked for.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        filtered_page_size: int = 200,
        inline_lines_bytes: int = INLINE_LINES_BYTES,
    ) -> None:
        self._table = table_name
        self._client = client
        self._filtered_page_size = filtered_page_size
        self._inline_lines = inline_lines_bytes

    # reads -----------------------------------------------------------------------------------
    def get(self, key: str) -> Order | None:
        for _ in range(_READ_ATTEMPTS):
            response = self._client.get_item(
                TableName=self._table, Key=_to_item({"PK": _order_pk(key), "SK": "ORDER"}), ConsistentRead=True
            )
            item = response.get("Item")
            if not item:
                return None
            order = self._order_from_values(_from_item(item))
            if order is not None:
                return self._with_parcels(order)
        raise TransientError(f"the lines of order {key} kept changing while it was read")

    def _order_from_values(self, values: dict[str, Any]) -> Order | None:
        """The order of a stored item, its chunked lines read beside it; None if they belong to another save."""
        chunks = int(values.pop("line_chunks", 0))
        digest = str(values.pop("lines_digest", ""))
        values["packages"] = unpacked_contents(values.get("packages") or [])
        if not chunks:
            return Order.model_validate(values)
        found = self._chunks(str(values["PK"]))
        if len(found) != chunks or any(chunk["digest"] != digest for chunk in found):
            return None
        values["lines"] = lines_of([bytes(chunk["lines_zlib"]) for chunk in found])
        order = Order.model_validate(values)
        order._stored_lines = (digest, chunks)
        return order

    def _with_parcels(self, order: Order) -> Order:
        """The packages' tracker statuses from their parcel items (read only once a shipment exists)."""
        if not any(package.shipment_id for package in order.packages):
            return order
        parcels = self._chunks(_order_pk(order.key), PARCEL_PREFIX)
        return with_parcel_statuses(order, {str(p["SK"])[len(PARCEL_PREFIX) :]: str(p["status"]) for p in parcels})

    def _chunks(self, partition: str, prefix: str = LINES_PREFIX) -> list[dict[str, Any]]:
        """The items of the order's partition under ``prefix`` (its line chunks; its parcels), every page."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": _to_item({":pk": partition, ":prefix": prefix}),
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**kwargs)
            found.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def timeline(self, key: str) -> list[TimelineEvent]:
        events: list[TimelineEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :event)",
            "ExpressionAttributeValues": _to_item({":pk": _order_pk(key), ":event": "EVENT#"}),
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            events.extend(TimelineEvent.model_validate(_from_item(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return events
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list_by_status(
        self, status: OrderStatus | None = None, limit: int = 50, *, store_id: str | None = None
    ) -> list[Order]:
        """The newest ``limit`` orders in ``status`` (in any status when None), only ``store_id``'s if given.

        Without a status every status partition is read newest first and the partitions are merged on
        their sort key (``<updated at>#<key>``); the merge pulls a partition's next page only when it has
        taken all of its previous one, so no partition is read much past what the answer holds.
        """
        if limit < 1:
            return []
        page_size = self._filtered_page_size if store_id is not None else limit
        statuses = [status] if status is not None else list(OrderStatus)
        partitions = [
            newest_first(self._client, self._table, f"STATUS#{each}", page_size=page_size, store_id=store_id)
            for each in statuses
        ]
        merged = heapq.merge(*partitions, key=_gsi1_sort_key, reverse=True)
        listed = (self._listed(item) for item in itertools.islice(merged, limit))
        return [order for order in listed if order is not None]

    def _listed(self, item: dict[str, Any]) -> Order | None:
        """An order from its index item; a large one's lines are read from its chunks (as ``get`` does)."""
        values = _from_item(item)
        if "line_chunks" in values:
            return self.get(str(values["order_key"]))
        values["packages"] = unpacked_contents(values.get("packages") or [])
        return Order.model_validate(values)

    def oldest_in_status(self, status: OrderStatus, limit: int) -> list[StatusEntry]:
        """One page of the status's GSI1 partition read oldest first (its sort key starts with the save time)."""
        page = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :partition",
            ExpressionAttributeValues=_to_item({":partition": f"STATUS#{status}"}),
            ScanIndexForward=True,
            Limit=limit,
        )
        entries = []
        for item in page.get("Items", []):
            order = self._listed(item)
            if order is not None:
                entries.append(StatusEntry(order, datetime.fromisoformat(str(item["updated_at"]["S"]))))
        return entries

    def find_by_tracking(self, carrier: str, shipment_id: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table, Key=_to_item({"PK": _tracking_pk(carrier, shipment_id), "SK": "TRACKING"})
        )
        item = response.get("Item")
        return str(_from_item(item)["order_key"]) if item else None

    # writes ----------------------------------------------------------------------------------
    def record_parcel_status(self, key: str, shipment_id: str, status: str, *, unless: frozenset[str]) -> bool:
        finals = {f":final{n}": value for n, value in enumerate(sorted(unless))}
        at = datetime.now(UTC).isoformat()
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": _to_item({"PK": _order_pk(key), "SK": parcel_sk(shipment_id), "status": status, "at": at}),
            "ConditionExpression": "attribute_not_exists(#status)",
            "ExpressionAttributeNames": {"#status": "status"},
        }
        if finals:
            request["ConditionExpression"] += f" OR NOT #status IN ({', '.join(finals)})"
            request["ExpressionAttributeValues"] = _to_item(finals)
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _is_condition_failure(error):
                return False  # a final status stands: a late scan changes nothing
            raise _translate(error, f"parcel {shipment_id} of order {key}") from error
        return True

    def create(self, order: Order) -> None:
        self._write(order, condition="attribute_not_exists(PK)", values={})

    def save(self, order: Order) -> None:
        self._write(order, condition="version = :expected", values={":expected": order.version})

    def _write(self, order: Order, condition: str, values: dict[str, Any]) -> None:
        try:
            self._client.transact_write_items(TransactItems=self.order_writes(order, condition, values))
        except ClientError as error:
            raise _translate(error, f"order {order.key}") from error
        self.committed(order)

    def order_writes(self, order: Order, condition: str, values: dict[str, Any]) -> list[TransactWriteItemTypeDef]:
        """The order item (and a large order's changed line chunks), its new timeline events and its shipment
        lookup, as transaction items (a return's save adds them to its own transaction)."""
        new_version = order.version + 1
        events_recorded = order.events_recorded + len(order.pending_events)
        now = datetime.now(UTC).isoformat()
        document = order.model_dump(mode="json", exclude=_ORDER_FIELDS_NOT_STORED)
        document["version"] = new_version
        document["events_recorded"] = events_recorded
        document["packages"] = packed_contents(document["packages"])
        stored = order._stored_lines
        layout = lay_out(document["lines"], self._inline_lines, stored)
        order._saving_lines = layout.state  # what ``committed`` records once the transaction went through
        partition = _order_pk(order.key)
        if layout.state is not None:
            del document["lines"]
            document["line_chunks"], document["lines_digest"] = layout.state[1], layout.digest
        order_item = {
            **document,
            "PK": partition,
            "SK": "ORDER",
            "order_key": order.key,
            "updated_at": now,
            "GSI1PK": f"STATUS#{order.status}",
            "GSI1SK": f"{now}#{order.key}",
        }
        put_order: TransactWriteItemTypeDef = {
            "Put": {"TableName": self._table, "Item": _to_item(order_item), "ConditionExpression": condition}
        }
        if values:
            put_order["Put"]["ExpressionAttributeValues"] = _to_item(values)
        writes: list[TransactWriteItemTypeDef] = [put_order]
        if layout.state != stored:  # lines changed (or moved in or out of the order item): under the same condition
            for index, packed in enumerate(layout.chunks):
                chunk = {"PK": partition, "SK": chunk_sk(index), "digest": layout.digest, "lines_zlib": packed}
                writes.append({"Put": {"TableName": self._table, "Item": _to_item(chunk)}})
            for index in range(len(layout.chunks), stored[1] if stored else 0):
                key = _to_item({"PK": partition, "SK": chunk_sk(index)})
                writes.append({"Delete": {"TableName": self._table, "Key": key}})
        for event in order.pending_events:
            event_item = {**event.model_dump(mode="json"), "PK": partition, "SK": f"EVENT#{event.seq:08d}"}
            writes.append(put_new(self._table, event_item))
        for carrier, reference in order.pending_lookups:  # a shipment created since the load: its tracking finds it
            tracking_item = {"PK": _tracking_pk(carrier, reference), "SK": "TRACKING", "order_key": order.key}
            writes.append({"Put": {"TableName": self._table, "Item": _to_item(tracking_item)}})
        return writes

    @staticmethod
    def committed(order: Order) -> None:
        """After the transaction: the loaded order now matches what is stored."""
        order.events_recorded += len(order.pending_events)
        order.version += 1
        order.pending_events.clear()
        order._stored_lines = order._saving_lines
        order.pending_lookups.clear()


class DynamoStoreRegistry:
    """Store id → platform and secret reference. Found stores are cached briefly; misses are not."""

    def __init__(self, table_name: str, client: DynamoDBClient, ttl_seconds: float = 60.0) -> None:
        self._table = table_name
        self._client = client
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Store]] = {}

    def get(self, store_id: str) -> Store | None:
        cached = self._cache.get(store_id)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        response = self._client.get_item(
            TableName=self._table, Key=_to_item({"PK": f"STORE#{store_id}", "SK": "STORE"})
        )
        item = response.get("Item")
        if not item:
            return None
        store = Store.model_validate(_from_item(item))
        self._cache[store_id] = (time.monotonic(), store)
        return store

    def put(self, store: Store) -> None:
        item = {**store.model_dump(mode="json"), "PK": f"STORE#{store.store_id}", "SK": "STORE"}
        self._client.put_item(TableName=self._table, Item=_to_item(item))
        self._cache.pop(store.store_id, None)


class DynamoDeliveryLog:
    """``DELIVERY#<platform>#<store>#<event id>`` items, expiring after the platforms' longest retry window."""

    def __init__(self, table_name: str, client: DynamoDBClient, keep_seconds: int = 7 * 24 * 3600) -> None:
        self._table = table_name
        self._client = client
        self._keep = keep_seconds

    @staticmethod
    def _key(platform: str, store_id: str, event_id: str) -> dict[str, Any]:
        return _to_item({"PK": f"DELIVERY#{platform}#{store_id}#{event_id}", "SK": "DELIVERY"})

    def first_seen(self, platform: str, store_id: str, event_id: str) -> bool:
        """Record the delivery id; False if it was recorded before (a redelivery).

        The item carries a token of this call. When the first write succeeds but its answer is lost, the SDK
        retries the same request, which fails its own condition: the stored item then shows our token, so the
        retry knows it wrote the marker itself and the delivery is still new — not a duplicate to drop.
        """
        now, attempt = int(time.time()), uuid.uuid4().hex
        item = {
            **self._key(platform, store_id, event_id),
            **_to_item({"expires_at": now + self._keep, "attempt": attempt}),
        }
        try:
            self._client.put_item(  # TTL deletes late: an expired marker counts as unseen
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(PK) OR expires_at < :now",
                ExpressionAttributeValues=_to_item({":now": now}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                stored = _from_item(error.response.get("Item") or {})  # type: ignore[arg-type]
                return stored.get("attempt") == attempt
            raise _translate(error, "delivery log") from error
        return True

    def forget(self, platform: str, store_id: str, event_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(platform, store_id, event_id))


class DynamoDeliveryArchive:
    """Verified deliveries, ``WEBHOOK#<store>`` / ``<received at ISO>#<delivery id>``, expiring after 30 days.

    A body over ``compress_over`` bytes (or not UTF-8) is kept zlib-compressed and base64-encoded; one whose item
    would still exceed ``max_item_bytes`` (DynamoDB's limit is 400 KB) goes to S3 (``bodies``), the item naming
    it, so every delivery up to the intake limit is kept. Without ``bodies`` such a delivery is not kept.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        keep_seconds: int = 30 * 24 * 3600,
        compress_over: int = 8 * 1024,
        max_item_bytes: int = 350 * 1024,
        bodies: S3Bodies | None = None,
    ) -> None:
        self._table = table_name
        self._client = client
        self._keep = keep_seconds
        self._compress_over = compress_over
        self._max_item = max_item_bytes
        self._bodies = bodies

    def keep(self, delivery: StoredDelivery) -> bool:
        body: dict[str, str] = {}
        try:
            if len(delivery.request.body) <= self._compress_over:
                body["body"] = delivery.request.body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if not body:
            body["body_zlib"] = base64.b64encode(zlib.compress(delivery.request.body, 6)).decode("ascii")
        sort_key = f"{delivery.received_at.isoformat()}#{delivery.delivery_id}"
        values: dict[str, Any] = {
            "PK": f"WEBHOOK#{delivery.store_id}",
            "SK": sort_key,
            "platform": delivery.platform,
            "store_id": delivery.store_id,
            "delivery_id": delivery.delivery_id,
            "received_at": delivery.received_at.isoformat(),
            "topic": delivery.topic,
            "external_order_id": delivery.external_order_id,
            "method": delivery.request.method,
            "headers": dict(delivery.request.headers),
            "query": dict(delivery.request.query) or None,
            "body_bytes": len(delivery.request.body),
            "expires_at": int(delivery.received_at.timestamp()) + self._keep,
        }
        if _approximate_size(values | body) > self._max_item:
            if self._bodies is None:
                return False
            # The body first: an item that is found always finds its body.
            body = {"body_s3_key": self._bodies.put(f"webhooks/{delivery.store_id}", sort_key, delivery.request.body)}
        try:
            self._client.put_item(TableName=self._table, Item=_to_item(values | body))
        except ClientError as error:
            raise _translate(error, "delivery archive") from error
        return True

    def get(self, store_id: str, delivery_id: str) -> StoredDelivery | None:
        found = self._query(store_id, {"delivery_id": delivery_id}, limit=1)
        return found[0] if found else None

    def list(self, store_id: str, external_order_id: str | None = None, limit: int = 50) -> Sequence[StoredDelivery]:
        return self._query(store_id, {"external_order_id": external_order_id} if external_order_id else {}, limit)

    def _query(self, store_id: str, equal: dict[str, str], limit: int) -> builtins.list[StoredDelivery]:
        """Newest first; a filter reads the store's partition until ``limit`` match (30 days of one store)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": _to_item({":pk": f"WEBHOOK#{store_id}"}),
            "ScanIndexForward": False,
        }
        if equal:
            ((name, value),) = equal.items()
            kwargs["FilterExpression"] = f"{name} = :value"
            kwargs["ExpressionAttributeValues"] |= _to_item({":value": value})
        found: builtins.list[StoredDelivery] = []
        for page in self._client.get_paginator("query").paginate(**kwargs):
            found.extend(self._from_item(_from_item(item)) for item in page["Items"])
            if len(found) >= limit:
                break
        return found[:limit]

    def _from_item(self, values: dict[str, Any]) -> StoredDelivery:
        if "body_s3_key" in values:
            body = (self._bodies.get(str(values["body_s3_key"])) if self._bodies else None) or b""
        elif "body_zlib" in values:
            body = zlib.decompress(base64.b64decode(values["body_zlib"]))
        else:
            body = str(values.get("body", "")).encode("utf-8")
        request = WebhookRequest(
            body=body,
            headers={str(k): str(v) for k, v in values.get("headers", {}).items()},
            method=str(values.get("method", "POST")),
            query={str(k): str(v) for k, v in values.get("query", {}).items()},
        )
        return StoredDelivery(
            platform=str(values["platform"]),
            store_id=str(values["store_id"]),
            delivery_id=str(values["delivery_id"]),
            received_at=datetime.fromisoformat(str(values["received_at"])),
            request=request,
            topic=str(values.get("topic", "")),
            external_order_id=values.get("external_order_id"),
        )
