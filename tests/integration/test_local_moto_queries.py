"""The local runtime's DynamoDB queries on moto (``local/runtime.py`` ``_queries_read_their_partition``): a table
Query reads its own partition instead of every item of the table, and answers exactly what moto's own Query
answers, in the same order, page by page; an index Query still sees every item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.models.table import Table

from local.runtime import _serialise_moto_dynamodb
from tests.integration.conftest import AwsStack

TABLE = "FulfillmentTable"


@pytest.fixture
def ddb(aws: AwsStack) -> Any:
    _serialise_moto_dynamodb()  # once per process, as the local runtime does
    for order in range(6):
        for event in range(5):
            item = {"PK": {"S": f"ORDER#{order}"}, "SK": {"S": f"EVENT#{event:03d}"}, "n": {"N": str(event)}}
            if event == 0:
                status = "RECEIVED" if order % 2 else "SHIPPED"
                item |= {"GSI1PK": {"S": f"STATUS#{status}"}, "GSI1SK": {"S": f"2026-12-0{order + 1}"}}
            aws.dynamodb.put_item(TableName=TABLE, Item=item)
    return aws.dynamodb


def pages(ddb: Any, **query: Any) -> Iterator[list[dict[str, Any]]]:
    while True:
        page = ddb.query(TableName=TABLE, **query)
        yield page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def partition(order: int, **more: Any) -> dict[str, Any]:
    values = {":pk": {"S": f"ORDER#{order}"}} | more.pop("values", {})
    condition = "PK = :pk" + more.pop("and_", "")
    return {"KeyConditionExpression": condition, "ExpressionAttributeValues": values, **more}


QUERIES = {
    "one partition": partition(3),
    "backwards, two at a time": partition(3, ScanIndexForward=False, Limit=2),
    "a sort key range": partition(
        4, and_=" AND SK BETWEEN :a AND :b", values={":a": {"S": "EVENT#001"}, ":b": {"S": "EVENT#003"}}
    ),
    "a prefix and a filter": partition(
        2,
        and_=" AND begins_with(SK, :e)",
        values={":e": {"S": "EVENT#"}, ":two": {"N": "2"}},
        FilterExpression="n >= :two",
    ),
    "a partition that does not exist": partition(99),
    "an index partition, newest first": {
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :p",
        "ExpressionAttributeValues": {":p": {"S": "STATUS#RECEIVED"}},
        "ScanIndexForward": False,
        "Limit": 2,
    },
}


@pytest.mark.parametrize("query", QUERIES.values(), ids=list(QUERIES))
def test_a_query_answers_what_motos_own_query_answers(
    ddb: Any, monkeypatch: pytest.MonkeyPatch, query: dict[str, Any]
) -> None:
    ours = list(pages(ddb, **query))
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)  # moto's own, for comparison

    assert ours == list(pages(ddb, **query))


def test_a_table_query_reads_only_its_partition(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    every_item = Table.all_items
    read: list[int] = []
    monkeypatch.setattr(Table, "all_items", lambda self: read.append(1) or every_item(self))

    [items] = list(pages(ddb, **partition(1)))

    assert [item["SK"]["S"] for item in items] == [f"EVENT#{n:03d}" for n in range(5)]
    assert read == []  # the table's every item was never gathered (nor sorted)
