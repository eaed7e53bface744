"""Orders of thousands of lines in DynamoDB (moto): lines in chunk items beside the order, under its version."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.errors import VersionConflict
from fulfillment.model import Order, OrderStatus
from tests.fakes import dynamodb_item, make_line, make_order
from tests.integration.conftest import AwsStack

deserialize = TypeDeserializer().deserialize


def plain(value: Any) -> Any:
    """A deserialised attribute as the fakes' size check takes it (ints, bytes)."""
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {name: plain(each) for name, each in value.items()}
    if isinstance(value, list):
        return [plain(each) for each in value]
    return value


def big_order(lines: int = 3_000, external_id: str = "big-1", name_bytes: int = 40) -> Order:
    """An order of ``lines`` lines; their names are random, so they compress little (``name_bytes`` each)."""
    randomness = random.Random(lines)
    order = make_order(
        external_id=external_id,
        lines=tuple(
            make_line(line_id=str(100_000 + n), sku=f"SKU-{n:05d}", name=randomness.randbytes(name_bytes).hex())
            for n in range(lines)
        ),
    )
    order.record_receipt("placed and paid")
    return order


@pytest.fixture
def repo(aws: AwsStack) -> DynamoOrderRepository:
    return DynamoOrderRepository(aws.table_name, aws.dynamodb)


@pytest.fixture
def writes(aws: AwsStack) -> Iterator[list[list[dict[str, Any]]]]:
    """The actions of every TransactWriteItems the repository sends."""
    sent: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["TransactItems"])

    aws.dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    yield sent
    aws.dynamodb.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)


def sort_keys(aws: AwsStack, key: str) -> list[str]:
    return sorted(str(item["SK"]["S"]) for item in aws.items() if item["PK"]["S"] == f"ORDER#{key}")


def chunk_puts(actions: list[dict[str, Any]]) -> int:
    return sum("Put" in action and action["Put"]["Item"]["SK"]["S"].startswith("LINES#") for action in actions)


class TestAThousandsOfLinesOrder:
    def test_is_stored_in_chunk_items_beside_the_order_and_read_back_exactly(
        self, aws: AwsStack, repo: DynamoOrderRepository
    ) -> None:
        order = big_order(name_bytes=200)  # about 1.4 MB of lines: more than one chunk even compressed
        repo.create(order)

        loaded = repo.get(order.key)

        assert loaded is not None
        assert loaded.lines == order.lines
        keys = sort_keys(aws, order.key)
        chunks = [key for key in keys if key.startswith("LINES#")]
        assert len(chunks) >= 2 and "ORDER" in keys
        for item in aws.items():  # every item under DynamoDB's 400 KB (moto does not refuse larger ones)
            values = {name: plain(deserialize(value)) for name, value in item.items()}
            dynamodb_item(values, values.pop("PK"), values.pop("SK"))

    def test_a_save_that_changes_no_line_writes_no_chunk(
        self, repo: DynamoOrderRepository, writes: list[list[dict[str, Any]]]
    ) -> None:
        order = big_order()
        repo.create(order)
        assert chunk_puts(writes[-1]) >= 1

        loaded = repo.get(order.key)
        assert loaded is not None
        loaded.transition_to(OrderStatus.VALIDATED, "validated")
        repo.save(loaded)
        loaded.note("and again, same object")
        repo.save(loaded)

        assert [chunk_puts(actions) for actions in writes[1:]] == [0, 0]
        again = repo.get(order.key)
        assert again is not None and again.lines == order.lines and again.status is OrderStatus.VALIDATED

    def test_new_lines_replace_the_chunks_and_fewer_lines_delete_the_rest(
        self, aws: AwsStack, repo: DynamoOrderRepository
    ) -> None:
        order = big_order()
        repo.create(order)
        loaded = repo.get(order.key)
        assert loaded is not None

        loaded.lines = loaded.lines[:1_200]  # a newer snapshot of an order not yet validated
        loaded.note("snapshot")
        repo.save(loaded)
        smaller = repo.get(order.key)
        assert smaller is not None and smaller.lines == order.lines[:1_200]

        smaller.lines = smaller.lines[:3]  # small again: back on the order item
        smaller.note("snapshot")
        repo.save(smaller)

        final = repo.get(order.key)
        assert final is not None and final.lines == order.lines[:3]
        assert not [key for key in sort_keys(aws, order.key) if key.startswith("LINES#")]

    def test_a_save_from_a_stale_copy_writes_neither_order_nor_chunks(self, repo: DynamoOrderRepository) -> None:
        order = big_order()
        repo.create(order)
        first, second = repo.get(order.key), repo.get(order.key)
        assert first is not None and second is not None
        first.note("first")
        repo.save(first)

        second.lines = second.lines[:10]
        second.note("second")
        with pytest.raises(VersionConflict):
            repo.save(second)

        stored = repo.get(order.key)
        assert stored is not None and stored.lines == order.lines

    def test_a_reader_that_meets_chunks_of_another_save_reads_again(
        self, aws: AwsStack, repo: DynamoOrderRepository
    ) -> None:
        order = big_order()
        repo.create(order)
        stale = {"PK": {"S": f"ORDER#{order.key}"}, "SK": {"S": "LINES#0000"}, "digest": {"S": "other"}}
        original = aws.dynamodb.get_item(TableName=aws.table_name, Key={k: stale[k] for k in ("PK", "SK")})["Item"]
        aws.dynamodb.put_item(TableName=aws.table_name, Item=original | {"digest": {"S": "other"}})
        calls = 0

        def heal(**_: Any) -> None:  # the concurrent save finishing: the chunk is the order's again
            nonlocal calls
            calls += 1
            if calls == 2:
                aws.dynamodb.put_item(TableName=aws.table_name, Item=original)

        aws.dynamodb.meta.events.register("before-call.dynamodb.GetItem", heal)
        try:
            loaded = repo.get(order.key)
        finally:
            aws.dynamodb.meta.events.unregister("before-call.dynamodb.GetItem", heal)

        assert calls == 2
        assert loaded is not None and loaded.lines == order.lines

    def test_is_listed_by_status_with_its_lines(self, repo: DynamoOrderRepository) -> None:
        order = big_order()
        repo.create(order)
        small = make_order(external_id="small-1")
        small.record_receipt("placed and paid")
        repo.create(small)

        listed = {found.key: found for found in repo.list_by_status(OrderStatus.RECEIVED)}

        assert listed[order.key].lines == order.lines
        assert listed[small.key].lines == small.lines
