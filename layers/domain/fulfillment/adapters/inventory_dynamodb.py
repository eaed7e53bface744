"""DynamoDB inventory: stock levels and reservations in the orders' single table.

| item        | PK                          | SK              | attributes                                         |
|-------------|-----------------------------|-----------------|----------------------------------------------------|
| stock       | ``STOCK#<warehouse>#<sku>`` | ``STOCK``       | warehouse, sku, on_hand, reserved, available (N)   |
| reservation | ``RESERVATION#<order key>`` | ``RESERVATION`` | order_key, warehouse, lines [{sku, quantity,       |
|             |                             |                 | line_id}], status held/released/consumed, short    |
|             |                             |                 | {sku: quantity} (what a partial reservation lacks) |

A condition cannot subtract one attribute from another, so each stock item also stores
``available`` (always ``on_hand - reserved``) and reserving is conditioned on ``available >= :qty``.
Stock is changed only with ``ADD``, which never reads a value first, so concurrent writers never
lose each other's updates.

* reserve: ONE ``TransactWriteItems``: a Put of the reservation (``attribute_not_exists(PK)``) and,
  per SKU, ``ADD available -q, reserved +q`` if ``available >= q``. Cancelled because the
  reservation exists → that reservation is returned (the retry case); because stock is short → the
  levels are read and the policy decides: raise ``OutOfStock``, or (``PARTIAL``) try again with
  what is available.
* release: ``held`` → ``released`` (condition ``status = held``) with ``ADD available +q, reserved -q``.
* consume: ``held`` → ``consumed`` (condition ``status = held``) with ``ADD on_hand -q, reserved -q``.

An order of more SKUs than one transaction takes (``MAX_SKUS_PER_TRANSACTION``) is reserved in parts:
``RESERVATION#<order key>`` / ``PART#<nnnn>`` items, each written in the transaction that takes its SKUs' stock
(so each part is taken exactly once), then the reservation item (``parts``: how many), which is what makes the
reservation exist. Stock short for a part releases the parts taken (``WAIT``/``CANCEL``), or plans again from the
levels read (``PARTIAL``); a step retried after a crash keeps the parts already held. Release and consume first
move the reservation item (``status = held``, so only one of them wins), then close each part still held in the
direction the reservation item names: a retry after a crash closes the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fulfillment.adapters.dynamodb import _from_item, _to_item, _translate
from fulfillment.errors import OrderInvalid, OutOfStock, ReservationNotFound, TransientError
from fulfillment.model import Order
from fulfillment.model.inventory import (
    DEFAULT_WAREHOUSE,
    OutOfStockPolicy,
    Reservation,
    ReservationOutcome,
    StockLevel,
    allocate,
    reducible_to,
    requested_quantities,
    shortfall,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MAX_SKUS_PER_TRANSACTION = 99  # TransactWriteItems takes 100 actions; one is the reservation (or a part of it)
_BATCH_GET_KEYS = 100  # BatchGetItem reads at most 100 keys a request
_RESERVE_ATTEMPTS = 5  # stock that keeps changing between a failed transaction and the next one
_READ_ATTEMPTS = 5
_WAREHOUSE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONDITION_FAILED = "ConditionalCheckFailed"
_RELEASE = {"available": +1, "reserved": -1}
_CONSUME = {"on_hand": -1, "reserved": -1}


def _stock_key(warehouse: str, sku: str) -> dict[str, Any]:
    return _to_item({"PK": f"STOCK#{warehouse}#{sku}", "SK": "STOCK"})


def _reservation_key(order_key: str) -> dict[str, Any]:
    return _to_item({"PK": f"RESERVATION#{order_key}", "SK": "RESERVATION"})


def _part_key(order_key: str, number: int) -> dict[str, Any]:
    return _to_item({"PK": f"RESERVATION#{order_key}", "SK": f"PART#{number:04d}"})


def _groups(skus: list[str], size: int = MAX_SKUS_PER_TRANSACTION) -> list[list[str]]:
    return [skus[start : start + size] for start in range(0, len(skus), size)]


def _names(*attributes: str) -> dict[str, str]:
    """Placeholders for every attribute an expression names (``status`` is a reserved word, and so are others)."""
    return {f"#{attribute}": attribute for attribute in attributes}


def _part_quantities(parts: list[dict[str, Any]]) -> dict[str, int]:
    """Units per SKU the parts hold."""
    totals: dict[str, int] = {}
    for part in parts:
        for line in part["lines"]:
            totals[str(line["sku"])] = totals.get(str(line["sku"]), 0) + int(line["quantity"])
    return totals


def _cancellation_reasons(error: ClientError) -> list[str]:
    """Per transaction action, in order, why a cancelled transaction was cancelled ("None" where it was not)."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return []
    return [str(reason.get("Code") or "None") for reason in error.response.get("CancellationReasons", [])]


def _stock_from_item(item: Mapping[str, Any]) -> StockLevel:
    values = _from_item(dict(item))
    return StockLevel(
        warehouse=values["warehouse"],
        sku=values["sku"],
        on_hand=int(values.get("on_hand", 0)),
        reserved=int(values.get("reserved", 0)),
    )


class DynamoInventory:
    """Reserves from one warehouse (``warehouse``); levels and restocks address any warehouse."""

    def __init__(self, table_name: str, client: DynamoDBClient, warehouse: str = DEFAULT_WAREHOUSE) -> None:
        if not _WAREHOUSE.fullmatch(warehouse):
            raise ValueError(f"warehouse id {warehouse!r} must be 1-64 of [A-Za-z0-9_-]")
        self._table = table_name
        self._client = client
        self._warehouse = warehouse

    # reads -----------------------------------------------------------------------------------
    def level(self, warehouse: str, sku: str) -> StockLevel | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=_stock_key(warehouse, sku), ConsistentRead=True)
        except ClientError as error:
            raise _translate(error, f"stock {warehouse}/{sku}") from error
        item = response.get("Item")
        return _stock_from_item(item) if item else None

    def reservation(self, order_key: str) -> Reservation | None:
        found = self._read(order_key)
        return found[0] if found else None

    def _read(self, order_key: str) -> tuple[Reservation, int] | None:
        """The reservation and how many parts it was reserved in (0: one transaction)."""
        try:
            response = self._client.get_item(
                TableName=self._table, Key=_reservation_key(order_key), ConsistentRead=True
            )
        except ClientError as error:
            raise _translate(error, f"reservation of order {order_key}") from error
        item = response.get("Item")
        if not item:
            return None
        values = _from_item(item)
        parts = int(values.get("parts", 0))
        if parts:  # reserved in parts: the lines are on the parts
            values["lines"] = [line for part in self._parts(order_key) for line in part["lines"]]
        return Reservation.model_validate(values), parts  # PK, SK and parts are ignored

    def _parts(self, order_key: str) -> list[dict[str, Any]]:
        """A reservation's parts (held, released or consumed), in order."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :part)",
            "ExpressionAttributeValues": _to_item({":pk": f"RESERVATION#{order_key}", ":part": "PART#"}),
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            try:
                page = self._client.query(**kwargs)
            except ClientError as error:
                raise _translate(error, f"reservation of order {order_key}") from error
            found.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _available(self, skus: list[str]) -> dict[str, int]:
        """``available`` per SKU in our warehouse, read consistently; an SKU without a stock item has 0."""
        found: dict[str, int] = dict.fromkeys(skus, 0)
        for group in _groups(skus, _BATCH_GET_KEYS):
            found |= self._available_of(group)
        return found

    def _available_of(self, skus: list[str]) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(skus, 0)
        request: Any = {
            self._table: {
                "Keys": [_stock_key(self._warehouse, sku) for sku in skus],
                "ConsistentRead": True,
                "ProjectionExpression": "#sku, #available",
                "ExpressionAttributeNames": _names("sku", "available"),
            }
        }
        for _ in range(_READ_ATTEMPTS):
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except ClientError as error:
                raise _translate(error, "stock levels") from error
            for item in response.get("Responses", {}).get(self._table, []):
                values = _from_item(item)
                found[str(values["sku"])] = int(values.get("available", 0))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise TransientError("DynamoDB left stock levels unread (throttled)")

    # reserve ---------------------------------------------------------------------------------
    def reserve(self, order: Order, policy: OutOfStockPolicy) -> ReservationOutcome:
        wanted = requested_quantities(order)
        if not wanted:
            raise OrderInvalid(f"order {order.key} has no lines to reserve")
        if len(wanted) > MAX_SKUS_PER_TRANSACTION:
            return self._reserve_in_parts(order, policy, wanted)
        taking = dict(wanted)
        for _ in range(_RESERVE_ATTEMPTS):
            reservation = Reservation(
                order_key=order.attempt_ref(),  # a reopened order reserves afresh, not its released reservation
                warehouse=self._warehouse,
                lines=allocate(order, taking),
                short=shortfall(wanted, taking),
            )
            try:
                self._client.transact_write_items(TransactItems=self._reserve_writes(reservation))
            except ClientError as error:
                reasons = _cancellation_reasons(error)
                if reasons and reasons[0] == _CONDITION_FAILED:  # the order has a reservation already
                    existing = self.reservation(order.attempt_ref())
                    if existing is not None:
                        return ReservationOutcome.of(existing)
                    continue
                if _CONDITION_FAILED not in reasons:
                    raise _translate(error, f"reservation of order {order.key}") from error
            else:
                return ReservationOutcome.of(reservation)
            available = self._available(list(wanted))
            short = shortfall(wanted, available)
            if short and (policy is not OutOfStockPolicy.PARTIAL or not reducible_to(wanted, available)):
                raise OutOfStock(short, policy.value)
            taking = reducible_to(wanted, available)  # all of it again if stock came back meanwhile
        raise TransientError(f"stock for order {order.key} kept changing while reserving; try again")

    def _reserve_in_parts(self, order: Order, policy: OutOfStockPolicy, wanted: dict[str, int]) -> ReservationOutcome:
        ref = order.attempt_ref()
        for _ in range(_RESERVE_ATTEMPTS):
            existing = self.reservation(ref)
            if existing is not None:
                return ReservationOutcome.of(existing)
            parts = self._parts(ref)
            held_total = _part_quantities([part for part in parts if part["status"] == "held"])
            missing = [sku for sku in wanted if sku not in held_total]  # a crashed attempt's parts are kept
            available = {**self._available(missing), **held_total} if missing else dict(held_total)
            short = shortfall(wanted, available)
            if short and (policy is not OutOfStockPolicy.PARTIAL or not reducible_to(wanted, available)):
                self._release_parts(ref, parts)
                raise OutOfStock(short, policy.value)
            taking = reducible_to(wanted, available)
            number = len(parts)
            complete = True
            for group in _groups([sku for sku in missing if sku in taking]):
                if not self._reserve_part(order, ref, number, {sku: taking[sku] for sku in group}):
                    complete = False  # stock changed since it was read, or another attempt took this part
                    break
                number += 1
            if not complete:
                continue
            reserved = {**held_total, **{sku: taking[sku] for sku in missing if sku in taking}}
            reservation = Reservation(
                order_key=ref,
                warehouse=self._warehouse,
                lines=allocate(order, reserved),
                short=shortfall(wanted, reserved),
            )
            header = {
                **_reservation_key(ref),
                **_to_item(reservation.model_dump(mode="json", exclude={"lines"}) | {"parts": number}),
            }
            try:
                self._client.put_item(
                    TableName=self._table, Item=header, ConditionExpression="attribute_not_exists(PK)"
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise _translate(error, f"reservation of order {order.key}") from error
                continue  # another attempt finished it: read it
            return ReservationOutcome.of(reservation)
        raise TransientError(f"stock for order {order.key} kept changing while reserving; try again")

    def _reserve_part(self, order: Order, ref: str, number: int, quantities: dict[str, int]) -> bool:
        """One part: its item and its SKUs' stock in one transaction. False if the stock or the part number was
        taken meanwhile (read again and plan again)."""
        lines = [line.model_dump(mode="json") for line in allocate(order, quantities)]
        part = {**_part_key(ref, number), **_to_item({"status": "held", "warehouse": self._warehouse, "lines": lines})}
        writes: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": part, "ConditionExpression": "attribute_not_exists(PK)"}}
        ]
        writes.extend(self._take_writes(self._warehouse, quantities))
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if _CONDITION_FAILED not in _cancellation_reasons(error):
                raise _translate(error, f"reservation of order {order.key}") from error
            return False
        return True

    def _release_parts(self, ref: str, parts: list[dict[str, Any]]) -> None:
        """Give back the stock of parts an attempt that did not finish took (the reservation item never written)."""
        for part in parts:
            if part["status"] == "held":
                self._close_part(ref, part, "released", _RELEASE)

    def _close_part(self, ref: str, part: dict[str, Any], status: str, signs: dict[str, int]) -> bool:
        """One part from ``held`` to ``status``, its units moved by ``signs``, atomically; False if closed before."""
        key = _to_item({"PK": f"RESERVATION#{ref}", "SK": str(part["SK"])})
        return self._close_writes(key, self._warehouse_of(part), _part_quantities([part]), status, signs, ref)

    def _warehouse_of(self, part: dict[str, Any]) -> str:
        return str(part.get("warehouse") or self._warehouse)

    def _reserve_writes(self, reservation: Reservation) -> list[TransactWriteItemTypeDef]:
        item = {
            **_reservation_key(reservation.order_key),
            **_to_item(reservation.model_dump(mode="json")),
        }
        writes: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
        ]
        return writes + self._take_writes(reservation.warehouse, reservation.quantities())

    def _take_writes(self, warehouse: str, quantities: Mapping[str, int]) -> list[TransactWriteItemTypeDef]:
        """Per SKU: ``available`` down and ``reserved`` up by the quantity, if that much is available."""
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _stock_key(warehouse, sku),
                    "UpdateExpression": "ADD #available :take, #reserved :quantity",
                    "ConditionExpression": "#available >= :quantity",
                    "ExpressionAttributeNames": _names("available", "reserved"),
                    "ExpressionAttributeValues": _to_item({":take": -quantity, ":quantity": quantity}),
                }
            }
            for sku, quantity in quantities.items()
        ]

    # release and consume ---------------------------------------------------------------------
    def release(self, order_key: str) -> bool:
        found = self._read(order_key)
        if found is None or found[0].status != "held":
            if found is not None and found[1] and found[0].status == "released":
                self._finish_parts(order_key, "released", _RELEASE)  # a release that crashed midway
            return False
        return self._close(*found, "released", _RELEASE)

    def restock_once(self, reference: str, sku: str, quantity: int) -> bool:
        warehouse = self._warehouse
        if quantity <= 0:
            raise ValueError(f"restock of {sku}: quantity must be positive, got {quantity}")
        StockLevel(warehouse=warehouse, sku=sku)
        marker = {
            "PK": f"RESTOCK#{reference}",
            "SK": "RESTOCK",
            "warehouse": warehouse,
            "sku": sku,
            "quantity": quantity,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _to_item(marker),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _stock_key(warehouse, sku),
                            "UpdateExpression": (
                                "SET #warehouse = :warehouse, #sku = :sku, #reserved = if_not_exists(#reserved, :zero) "
                                "ADD #on_hand :quantity, #available :quantity"
                            ),
                            "ExpressionAttributeNames": _names("warehouse", "sku", "reserved", "on_hand", "available"),
                            "ExpressionAttributeValues": _to_item(
                                {":warehouse": warehouse, ":sku": sku, ":zero": 0, ":quantity": quantity}
                            ),
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons and reasons[0] == _CONDITION_FAILED:
                return False  # restocked before: a retry or a re-run
            raise _translate(error, f"restock {reference}") from error
        return True

    def consume(self, order_key: str) -> None:
        found = self._read(order_key)
        if found is not None and found[0].status == "consumed":
            if found[1]:
                self._finish_parts(order_key, "consumed", _CONSUME)  # a consume that crashed midway
            return
        if found is None or found[0].status != "held":
            raise ReservationNotFound(f"no reservation is held for order {order_key}")
        if self._close(*found, "consumed", _CONSUME):
            return
        after = self.reservation(order_key)  # someone closed it between our read and our write
        if after is None or after.status != "consumed":
            raise ReservationNotFound(f"the reservation of order {order_key} was released")

    def _close(self, held: Reservation, parts: int, status: str, signs: dict[str, int]) -> bool:
        """Move a held reservation to ``status`` and apply ``signs`` × its units to the stock, atomically; one
        reserved in parts moves its reservation item first (the one that wins decides), then each part."""
        key = _reservation_key(held.order_key)
        if not parts:
            return self._close_writes(key, held.warehouse, held.quantities(), status, signs, held.order_key)
        if not self._close_writes(key, held.warehouse, {}, status, signs, held.order_key):
            return False
        self._finish_parts(held.order_key, status, signs)
        return True

    def _finish_parts(self, order_key: str, status: str, signs: dict[str, int]) -> None:
        for part in self._parts(order_key):
            if part["status"] == "held":
                self._close_part(order_key, part, status, signs)

    def _close_writes(
        self,
        key: dict[str, Any],
        warehouse: str,
        quantities: Mapping[str, int],
        status: str,
        signs: dict[str, int],
        order_key: str,
    ) -> bool:
        """The item at ``key`` from ``held`` to ``status`` with ``signs`` × ``quantities`` on the stock, atomically;
        False if it was not held (closed before)."""
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "UpdateExpression": "SET #status = :closed",
                    "ConditionExpression": "#status = :held",
                    "ExpressionAttributeNames": _names("status"),
                    "ExpressionAttributeValues": _to_item({":closed": status, ":held": "held"}),
                }
            }
        ]
        attributes = sorted(signs)
        update = "ADD " + ", ".join(f"#{attribute} :{attribute}" for attribute in attributes)
        for sku, quantity in quantities.items():
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _stock_key(warehouse, sku),
                        "UpdateExpression": update,
                        "ExpressionAttributeNames": _names(*attributes),
                        "ExpressionAttributeValues": _to_item(
                            {f":{attribute}": signs[attribute] * quantity for attribute in attributes}
                        ),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons and reasons[0] == _CONDITION_FAILED:
                return False
            raise _translate(error, f"reservation of order {order_key}") from error
        return True

    # restock ---------------------------------------------------------------------------------
    def restock(self, warehouse: str, sku: str, quantity: int) -> StockLevel:
        if quantity <= 0:
            raise ValueError(f"restock of {sku}: quantity must be positive, got {quantity}")
        StockLevel(warehouse=warehouse, sku=sku)  # a bad warehouse id or SKU raises before anything is written
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_stock_key(warehouse, sku),
                UpdateExpression=(
                    "SET #warehouse = :warehouse, #sku = :sku, #reserved = if_not_exists(#reserved, :zero) "
                    "ADD #on_hand :quantity, #available :quantity"
                ),
                ExpressionAttributeNames=_names("warehouse", "sku", "reserved", "on_hand", "available"),
                ExpressionAttributeValues=_to_item(
                    {":warehouse": warehouse, ":sku": sku, ":zero": 0, ":quantity": quantity}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            raise _translate(error, f"stock {warehouse}/{sku}") from error
        return _stock_from_item(response["Attributes"])
