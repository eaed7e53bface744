"""Returns in the single table, beside their order (same partition, so one query lists an order's returns).

| item         | PK                    | SK                            | GSI1PK                | GSI1SK               |
|--------------|-----------------------|-------------------------------|-----------------------|----------------------|
| return       | ``ORDER#<order key>`` | ``RETURN#<nnnn>``             | ``RETURN_STATUS#<s>`` | ``<updated>#<key>``  |
| return event | ``ORDER#<order key>`` | ``RETURN#<nnnn>#EVENT#<seq>`` |                       |                      |

A return's save carries its order's save in the same transaction when the change moved the order's
return counters, each conditional on its own version.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fulfillment.adapters.dynamodb import (
    DynamoOrderRepository,
    _from_item,
    _order_pk,
    _to_item,
    _translate,
    newest_first,
    put_new,
)
from fulfillment.model import Order
from fulfillment.model.returns import Return, ReturnEvent, ReturnStatus, split_return_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def _return_sk(number: int) -> str:
    return f"RETURN#{number:04d}"


class DynamoReturnRepository:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client
        self._orders = DynamoOrderRepository(table_name, client)

    # reads -----------------------------------------------------------------------------------
    def get(self, key: str) -> Return | None:
        try:
            order_key, number = split_return_key(key)
        except ValueError:
            return None
        item = self._client.get_item(
            TableName=self._table,
            Key=_to_item({"PK": _order_pk(order_key), "SK": _return_sk(number)}),
            ConsistentRead=True,
        ).get("Item")
        return _return_from_item(item) if item else None

    def for_order(self, order_key: str) -> list[Return]:
        items = self._query(_order_pk(order_key), "RETURN#")
        return [_return_from_item(item) for item in items if "#EVENT#" not in str(_from_item(item)["SK"])]

    def timeline(self, key: str) -> list[ReturnEvent]:
        order_key, number = split_return_key(key)
        items = self._query(_order_pk(order_key), f"{_return_sk(number)}#EVENT#")
        return [ReturnEvent.model_validate(_from_item(item)) for item in items]

    def list_by_status(self, status: ReturnStatus, limit: int = 50) -> list[Return]:
        """The newest ``limit`` returns in ``status`` (more than one page if DynamoDB's 1 MB cuts one short)."""
        if limit < 1:
            return []
        items = newest_first(self._client, self._table, f"RETURN_STATUS#{status}", page_size=limit)
        return [_return_from_item(item) for item in itertools.islice(items, limit)]

    def _query(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": _to_item({":pk": pk, ":prefix": sk_prefix}),
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # writes ----------------------------------------------------------------------------------
    def create(self, ret: Return, order: Order) -> None:
        self._write(ret, "attribute_not_exists(PK)", {}, order)

    def save(self, ret: Return, order: Order | None = None) -> None:
        self._write(ret, "version = :expected", {":expected": ret.version}, order)

    def _write(self, ret: Return, condition: str, values: dict[str, Any], order: Order | None) -> None:
        writes = self._return_writes(ret, condition, values)
        if order is not None:
            writes += self._orders.order_writes(order, "version = :expected", {":expected": order.version})
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            raise _translate(error, f"return {ret.key}") from error
        ret.events_recorded += len(ret.pending_events)
        ret.version += 1
        ret.pending_events.clear()
        if order is not None:
            self._orders.committed(order)

    def _return_writes(self, ret: Return, condition: str, values: dict[str, Any]) -> list[TransactWriteItemTypeDef]:
        now = datetime.now(UTC).isoformat()
        document = ret.model_dump(mode="json", exclude={"pending_events"})
        document |= {"version": ret.version + 1, "events_recorded": ret.events_recorded + len(ret.pending_events)}
        item = {
            **document,
            "PK": _order_pk(ret.order_key),
            "SK": _return_sk(ret.number),
            "return_key": ret.key,
            "updated_at": now,
            "GSI1PK": f"RETURN_STATUS#{ret.status}",
            "GSI1SK": f"{now}#{ret.key}",
        }
        put: TransactWriteItemTypeDef = {
            "Put": {"TableName": self._table, "Item": _to_item(item), "ConditionExpression": condition}
        }
        if values:
            put["Put"]["ExpressionAttributeValues"] = _to_item(values)
        writes: list[TransactWriteItemTypeDef] = [put]
        for event in ret.pending_events:
            event_item = {
                **event.model_dump(mode="json"),
                "PK": _order_pk(ret.order_key),
                "SK": f"{_return_sk(ret.number)}#EVENT#{event.seq:06d}",
            }
            writes.append(put_new(self._table, event_item))
        return writes


def _return_from_item(item: dict[str, Any]) -> Return:
    return Return.model_validate(_from_item(item))
