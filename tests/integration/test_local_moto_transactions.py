"""The local runtime's DynamoDB transactions on moto (``local/runtime.py``): serialised, and rolled back item
by item instead of by restoring a copy of the whole table: a failed transaction leaves every item it named as
it was, whatever it wrote before failing; one that succeeds writes everything; and one repeated with its
ClientRequestToken (botocore's retry of a late answer) has the effect of one, as on DynamoDB."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends

from local.runtime import _serialise_moto_dynamodb
from local.template import ACCOUNT, REGION
from tests.integration.conftest import AwsStack

TABLE = "FulfillmentTable"


@pytest.fixture
def ddb(aws: AwsStack) -> Any:
    _serialise_moto_dynamodb()  # once per process, as the local runtime does
    for name, units in (("a", 1), ("b", 5), ("d", 7)):
        aws.dynamodb.put_item(TableName=TABLE, Item={**key(name), "n": {"N": str(units)}})
    return aws.dynamodb


def key(name: str) -> dict[str, Any]:
    return {"PK": {"S": f"T#{name}"}, "SK": {"S": "X"}}


def stored(ddb: Any, name: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = ddb.get_item(TableName=TABLE, Key=key(name)).get("Item")
    return item


def add_one(name: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(name),
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def put_new(name: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {**key(name), "n": {"N": "0"}},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def table_object() -> Any:
    return dynamodb_backends[ACCOUNT][REGION].tables[TABLE]


def test_a_failed_transaction_puts_back_what_it_changed_before_failing(ddb: Any) -> None:
    before = {name: stored(ddb, name) for name in ("a", "b", "d")}
    table = table_object()

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                add_one("a"),  # changes the item in place
                put_new("c"),  # a new item
                {"Delete": {"TableName": TABLE, "Key": key("b")}},
                put_new("d"),  # fails: d exists
            ]
        )

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert {name: stored(ddb, name) for name in ("a", "b", "d")} == before
    assert stored(ddb, "c") is None
    assert table_object() is table  # rolled back in place: no copy of the table was taken


def test_a_transaction_naming_one_item_twice_is_refused_and_writes_nothing(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[put_new("c"), add_one("c")])

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert stored(ddb, "c") is None


def test_a_transaction_that_holds_writes_everything(ddb: Any) -> None:
    ddb.transact_write_items(
        TransactItems=[add_one("a"), put_new("c"), {"Delete": {"TableName": TABLE, "Key": key("b")}}]
    )

    assert stored(ddb, "a") == {**key("a"), "n": {"N": "2"}}
    assert stored(ddb, "c") == {**key("c"), "n": {"N": "0"}}
    assert stored(ddb, "b") is None


def test_a_transaction_repeated_with_its_client_request_token_has_the_effect_of_one(ddb: Any) -> None:
    # botocore resends its own token when an answer is late; the retry must not fail its own condition
    writes = [put_new("c"), add_one("a")]
    ddb.transact_write_items(TransactItems=writes, ClientRequestToken="answer-was-late")
    ddb.transact_write_items(TransactItems=writes, ClientRequestToken="answer-was-late")

    assert stored(ddb, "c") == {**key("c"), "n": {"N": "0"}}
    assert stored(ddb, "a") == {**key("a"), "n": {"N": "2"}}  # added once
    with pytest.raises(ClientError) as raised:  # a new token is a new request: c exists now
        ddb.transact_write_items(TransactItems=writes, ClientRequestToken="another-request")
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_same_client_request_token_with_other_writes_is_refused(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=[add_one("a")], ClientRequestToken="one-request")

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[add_one("b")], ClientRequestToken="one-request")

    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert stored(ddb, "b") == {**key("b"), "n": {"N": "5"}}


def test_a_refused_transaction_is_evaluated_afresh_when_retried_with_its_token(ddb: Any) -> None:
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[put_new("d")], ClientRequestToken="refused")
    ddb.delete_item(TableName=TABLE, Key=key("d"))

    ddb.transact_write_items(TransactItems=[put_new("d")], ClientRequestToken="refused")

    assert stored(ddb, "d") == {**key("d"), "n": {"N": "0"}}


def test_a_transaction_whose_answer_was_lost_holds_when_botocore_resends_it(ddb: Any) -> None:
    """As a late answer looks to the SDK: the first attempt went through, botocore's retry handler resends the same
    request (its own ClientRequestToken), and the create stands as the caller's own instead of failing its
    attribute_not_exists condition."""
    seen: list[int] = []

    def answer_lost_once(attempts: int, **_: Any) -> float | None:  # botocore passes the attempt number by name
        seen.append(attempts)
        return 0 if attempts == 1 else None  # retry the first at once, as after a read timeout

    ddb.meta.events.register_first("needs-retry.dynamodb.TransactWriteItems", answer_lost_once)

    ddb.transact_write_items(TransactItems=[put_new("late")])  # no error: created once, by this call

    assert seen[:2] == [1, 2]
    assert stored(ddb, "late") == {**key("late"), "n": {"N": "0"}}


def test_a_binary_attribute_is_part_of_what_the_token_stands_for(ddb: Any) -> None:
    blob = {"Put": {"TableName": TABLE, "Item": {**key("blob"), "b": {"B": b"\x00zlib"}}}}
    ddb.transact_write_items(TransactItems=[blob], ClientRequestToken="with-bytes")
    ddb.transact_write_items(TransactItems=[blob], ClientRequestToken="with-bytes")

    other = {"Put": {"TableName": TABLE, "Item": {**key("blob"), "b": {"B": b"\x01zlib"}}}}
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[other], ClientRequestToken="with-bytes")
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
