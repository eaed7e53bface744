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

MAX_SKUS_PER_ORDER = 99  # TransactWriteItems takes 100 actions; one is the reservation
_RESERVE_ATTEMPTS = 5  # stock that keeps changing between a failed transaction and the next one
_READ_ATTEMPTS = 5
_WAREHOUSE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONDITION_FAILED = "ConditionalCheckFailed"


def _stock_key(warehouse: str, sku: str) -> dict[str, Any]:
    return _to_item({"PK": f"STOCK#{warehouse}#{sku}", "SK": "STOCK"})


def _reservation_key(order_key: str) -> dict[str, Any]:
    return _to_item({"PK": f"RESERVATION#{order_key}", "SK": "RESERVATION"})


def _names(*attributes: str) -> dict[str, str]:
    """Placeholders for every attribute an expression names (``status`` is a reserved word, and so are others)."""
    return {f"#{attribute}": attribute for attribute in attributes}


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
        try:
            response = self._client.get_item(
                TableName=self._table, Key=_reservation_key(order_key), ConsistentRead=True
            )
        except ClientError as error:
            raise _translate(error, f"reservation of order {order_key}") from error
        item = response.get("Item")
        if not item:
            return None
        return Reservation.model_validate(_from_item(item))  # PK and SK are ignored

    def _available(self, skus: list[str]) -> dict[str, int]:
        """``available`` per SKU in our warehouse, read consistently; an SKU without a stock item has 0."""
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
        if len(wanted) > MAX_SKUS_PER_ORDER:
            raise OrderInvalid(
                f"order {order.key} has {len(wanted)} SKUs; one reservation holds at most {MAX_SKUS_PER_ORDER}"
            )
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

    def _reserve_writes(self, reservation: Reservation) -> list[TransactWriteItemTypeDef]:
        item = {
            **_reservation_key(reservation.order_key),
            **_to_item(reservation.model_dump(mode="json")),
        }
        writes: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
        ]
        for sku, quantity in reservation.quantities().items():
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _stock_key(reservation.warehouse, sku),
                        "UpdateExpression": "ADD #available :take, #reserved :quantity",
                        "ConditionExpression": "#available >= :quantity",
                        "ExpressionAttributeNames": _names("available", "reserved"),
                        "ExpressionAttributeValues": _to_item({":take": -quantity, ":quantity": quantity}),
                    }
                }
            )
        return writes

    # release and consume ---------------------------------------------------------------------
    def release(self, order_key: str) -> bool:
        held = self.reservation(order_key)
        if held is None or held.status != "held":
            return False
        return self._close(held, "released", {"available": +1, "reserved": -1})

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
        current = self.reservation(order_key)
        if current is not None and current.status == "consumed":
            return
        if current is None or current.status != "held":
            raise ReservationNotFound(f"no reservation is held for order {order_key}")
        if self._close(current, "consumed", {"on_hand": -1, "reserved": -1}):
            return
        after = self.reservation(order_key)  # someone closed it between our read and our write
        if after is None or after.status != "consumed":
            raise ReservationNotFound(f"the reservation of order {order_key} was released")

    def _close(self, held: Reservation, status: str, signs: dict[str, int]) -> bool:
        """Move a held reservation to ``status`` and apply ``signs`` × its units to the stock, atomically."""
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _reservation_key(held.order_key),
                    "UpdateExpression": "SET #status = :closed",
                    "ConditionExpression": "#status = :held",
                    "ExpressionAttributeNames": _names("status"),
                    "ExpressionAttributeValues": _to_item({":closed": status, ":held": "held"}),
                }
            }
        ]
        attributes = sorted(signs)
        update = "ADD " + ", ".join(f"#{attribute} :{attribute}" for attribute in attributes)
        for sku, quantity in held.quantities().items():
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _stock_key(held.warehouse, sku),
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
            raise _translate(error, f"reservation of order {held.order_key}") from error
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
