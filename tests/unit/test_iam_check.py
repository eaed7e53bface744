"""The least-privilege check itself (tests/iam.py), on synthetic calls: it refuses what it must."""

from __future__ import annotations

from local.aws_calls import Call, calls_of
from local.template import LocalTemplate
from tests import iam
from tests.conftest import ROOT

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/FulfillmentTable"


def test_a_transaction_is_authorised_per_item_as_its_own_action() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "FulfillmentTable", "Item": {"PK": {"S": "ORDER#k:1"}, "SK": {"S": "ORDER"}}}},
            {"ConditionCheck": {"TableName": "FulfillmentTable", "Key": {"PK": {"S": "STOCK#main#A"}}}},
        ]
    }

    assert calls_of("F", "dynamodb:TransactWriteItems", params) == [
        Call("F", "dynamodb:PutItem", TABLE, "ORDER#"),
        Call("F", "dynamodb:ConditionCheckItem", TABLE, "STOCK#"),
    ]


def test_a_query_names_its_index_and_partition() -> None:
    params = {
        "TableName": "FulfillmentTable",
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :partition",
        "ExpressionAttributeValues": {":partition": {"S": "STATUS#RECEIVED"}},
    }

    assert calls_of("F", "dynamodb:Query", params) == [Call("F", "dynamodb:Query", f"{TABLE}/index/GSI1", "STATUS#")]


def test_a_statement_allows_only_its_actions_resources_and_key_prefixes() -> None:
    statement = iam.Statement("F", ("dynamodb:GetItem",), (TABLE,), ("ORDER#*",))

    assert statement.allows(Call("F", "dynamodb:GetItem", TABLE, "ORDER#"))
    assert not statement.allows(Call("F", "dynamodb:GetItem", TABLE, "STORE#"))
    assert not statement.allows(Call("F", "dynamodb:PutItem", TABLE, "ORDER#"))
    assert not statement.allows(Call("F", "dynamodb:GetItem", TABLE + "-other", "ORDER#"))


def test_an_ungranted_call_and_an_unused_grant_are_both_reported() -> None:
    template = LocalTemplate(ROOT)
    calls = {Call("ValidateOrderFunction", "dynamodb:Scan", TABLE)}

    partial = iam.check(calls, template, complete=False)
    complete = iam.check(calls, template, complete=True)

    assert partial == [f"ValidateOrderFunction calls dynamodb:Scan on {TABLE}: no statement of its policies allows it"]
    assert partial[0] in complete
    unused = "ValidateOrderFunction is granted dynamodb:GetItem but never calls it"
    assert unused in complete
