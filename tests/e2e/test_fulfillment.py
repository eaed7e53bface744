"""End to end through the local runtime: signed webhook over HTTP → execution → Completed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus
from local.client import send_woocommerce
from local.runtime import LocalRuntime
from tests.asl import happy_path
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e
HAPPY_PATH = happy_path()  # walked from the ASL's StartAt
SECRET = "test-secret"


def executions_for(runtime: LocalRuntime, name: str) -> list[dict[str, Any]]:
    sfn = runtime.client("stepfunctions")
    return [
        e for e in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"] if e["name"] == name
    ]


def path_of(runtime: LocalRuntime, execution_arn: str) -> list[str]:
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


class TestHappyPath:
    def test_a_paid_order_goes_from_webhook_to_completed(
        self, runtime: LocalRuntime, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        pending, key = new_order_body(woo_pending_body)
        paid, _ = new_order_body(woo_paid_body, int(key.split(":")[1]))

        first = send_woocommerce(runtime.api_url, "kaffeekontor", pending, SECRET, topic="order.created")
        assert (first.status, first.body["status"], first.body["fulfillment_started"]) == (
            202,
            "PENDING_PAYMENT",
            False,
        )
        name = key.replace(":", "_")
        assert executions_for(runtime, name) == []

        second = send_woocommerce(runtime.api_url, "kaffeekontor", paid, SECRET)
        assert (second.status, second.body["order_key"], second.body["fulfillment_started"]) == (202, key, True)

        execution = runtime.wait_for_execution(name, timeout=60)
        assert execution["status"] == "SUCCEEDED"
        assert path_of(runtime, execution["executionArn"]) == HAPPY_PATH
        orders = container().orders
        order = orders.get(key)
        assert order is not None and order.status is OrderStatus.COMPLETED
        assert [event.status for event in orders.timeline(key)] == [
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.RECEIVED,
            OrderStatus.VALIDATED,
            OrderStatus.RESERVED,
            OrderStatus.INSPECTED,
            OrderStatus.PACKAGED,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.PAYMENT_COMPLETED,
            OrderStatus.COMPLETED,
        ]
        assert runtime.easypost is not None
        # one EasyPost shipment per package, each bought once, through the SDK on the local stub
        # (a shipment whose id a conflicting save lost is never bought: it costs nothing)
        mine = {s["id"] for s in runtime.easypost.shipments_for(key)}
        assert sorted(s for s in runtime.easypost.bought if s in mine) == sorted(p.shipment_id for p in order.packages)
        first = runtime.easypost.shipments[order.packages[0].shipment_id or ""]
        assert first["tracking_code"] == order.tracking_number
        assert all(p.tracking_status == "delivered" and p.label and p.label.cost for p in order.packages)


class TestIdempotency:
    def test_the_same_delivery_five_times_at_once_gives_one_order_and_one_execution(
        self, runtime: LocalRuntime, woo_paid_body: bytes
    ) -> None:
        body, key = new_order_body(woo_paid_body)

        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(
                pool.map(lambda _: send_woocommerce(runtime.api_url, "kaffeekontor", body, SECRET), range(5))
            )

        assert [answer.status for answer in answers] == [202] * 5
        assert {answer.body["order_key"] for answer in answers} == {key}
        assert sum(not answer.body["duplicate"] for answer in answers) == 1
        name = key.replace(":", "_")
        execution = runtime.wait_for_execution(name, timeout=60)
        assert execution["status"] == "SUCCEEDED"
        assert len(executions_for(runtime, name)) == 1
        dynamodb = runtime.client("dynamodb")
        items = dynamodb.query(
            TableName="FulfillmentTable",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"ORDER#{key}"}},
        )["Items"]
        assert sum(item["SK"]["S"] == "ORDER" for item in items) == 1
        received = [item for item in items if item.get("status", {}).get("S") == "RECEIVED" and "seq" in item]
        assert len(received) == 1  # one RECEIVED event, not five

    def test_a_forged_delivery_gets_401_and_adds_nothing(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        body, key = new_order_body(woo_paid_body)

        answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, "forged-secret")

        assert (answer.status, answer.body["error"]) == (401, "invalid_signature")
        assert container().orders.get(key) is None
        assert executions_for(runtime, key.replace(":", "_")) == []


class TestAwsEndpoint:
    def test_executions_and_items_are_visible_like_on_aws(self, runtime: LocalRuntime, woo_paid_body: bytes) -> None:
        body, key = new_order_body(woo_paid_body)
        send_woocommerce(runtime.api_url, "kaffeekontor", body, SECRET)
        execution = runtime.wait_for_execution(key.replace(":", "_"), timeout=60)

        described = runtime.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
        assert json.loads(described["input"]) == {"order_key": key}
        scanned = runtime.client("dynamodb").scan(TableName="FulfillmentTable")["Items"]
        assert any(item["PK"]["S"] == f"ORDER#{key}" for item in scanned)
