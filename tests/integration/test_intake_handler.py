"""The intake Lambda handler with real API Gateway v2 events against moto.

Every refusal has a status code and a JSON reason, writes nothing and starts no execution.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from functions.intake_webhook import app
from local.client import woocommerce_headers
from local.lambdas import LambdaContext
from local.runtime import http_api_event
from local.template import Route
from tests.conftest import ROOT
from tests.integration.conftest import SECRET, STORE_ID, AwsStack

ROUTE = Route("POST", "/webhooks/{platform}/{storeId}", "IntakeWebhookFunction")


def _context() -> LambdaContext:
    return LambdaContext(
        "IntakeWebhookFunction",
        256,
        "arn:aws:lambda:us-east-1:123456789012:function:intake",
        str(uuid.uuid4()),
        time.monotonic() + 10,
    )


def deliver(
    aws: AwsStack, body: bytes, headers: dict[str, str], platform: str = "woocommerce", store_id: str = STORE_ID
) -> tuple[int, dict[str, Any]]:
    path = f"/webhooks/{platform}/{store_id}"
    event = http_api_event(
        ROUTE, "POST", path, "", headers, body, {"platform": platform, "storeId": store_id}, "203.0.113.9"
    )
    response = app.lambda_handler(event, _context(), deps=aws.deps)
    return response["statusCode"], json.loads(response["body"])


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return woocommerce_headers(body, secret)


class TestRefusals:
    @pytest.mark.parametrize(
        ("case", "status", "error"),
        [
            ("unknown platform", 404, "unsupported_platform"),
            ("unknown store", 404, "unknown_store"),
            ("store id that cannot exist", 404, "unknown_store"),
            ("store of another platform", 404, "unknown_store"),
            ("missing signature", 401, "invalid_signature"),
            ("forged signature", 401, "invalid_signature"),
            ("body changed after signing", 401, "invalid_signature"),
            ("not json", 400, "malformed_payload"),
            ("json but not an order", 400, "malformed_payload"),
            ("form body", 415, "unsupported_media_type"),
            ("over 1 MiB", 413, "payload_too_large"),
        ],
    )
    def test_refuses_with_a_reason_and_changes_nothing(
        self, aws: AwsStack, woo_paid_body: bytes, case: str, status: int, error: str
    ) -> None:
        body, headers, platform, store = woo_paid_body, signed(woo_paid_body), "woocommerce", STORE_ID
        if case == "unknown platform":
            platform = "prestashop"
        elif case == "unknown store":
            store = "no-such-store"
        elif case == "store id that cannot exist":
            store = "Not A Store!"
        elif case == "store of another platform":
            platform = "shopify"
        elif case == "missing signature":
            headers.pop("X-WC-Webhook-Signature")
        elif case == "forged signature":
            headers = signed(body, "someone-elses-secret")
        elif case == "body changed after signing":
            body = body.replace(b'"total":"126.02"', b'"total":"1.00"')
        elif case == "not json":
            body = b"{not json"
            headers = signed(body)
        elif case == "json but not an order":
            body = b'{"id": 1}'
            headers = signed(body)
        elif case == "form body":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif case == "over 1 MiB":
            body = b"{" + b" " * (1024 * 1024) + b"}"
            headers = signed(body)

        code, answer = deliver(aws, body, headers, platform, store)

        assert (code, answer["error"]) == (status, error)
        assert answer["message"]
        assert aws.items() == []
        assert aws.executions() == []


class TestPing:
    def test_answers_the_unsigned_ping_with_200_and_records_nothing(self, aws: AwsStack) -> None:
        code, answer = deliver(aws, b"webhook_id=12", {"Content-Type": "application/x-www-form-urlencoded"})

        assert (code, answer) == (200, {"status": "pong"})
        assert aws.items() == []
        assert aws.executions() == []


class TestAcceptance:
    def test_a_pending_order_is_recorded_but_starts_nothing(self, aws: AwsStack, woo_pending_body: bytes) -> None:
        code, answer = deliver(aws, woo_pending_body, signed(woo_pending_body))

        assert code == 202
        assert answer["order_key"] == "kaffeekontor:4711" and answer["status"] == "PENDING_PAYMENT"
        assert answer["fulfillment_started"] is False
        assert aws.executions() == []

    def test_the_paid_update_starts_exactly_one_execution(
        self, aws: AwsStack, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        deliver(aws, woo_pending_body, signed(woo_pending_body))

        code, answer = deliver(aws, woo_paid_body, signed(woo_paid_body))

        assert (code, answer["status"], answer["fulfillment_started"]) == (202, "RECEIVED", True)
        executions = aws.executions()
        assert [execution["name"] for execution in executions] == ["kaffeekontor_4711"]
        started = aws.sfn.describe_execution(executionArn=executions[0]["executionArn"])
        assert json.loads(started["input"]) == {"order_key": "kaffeekontor:4711"}

    def test_the_same_delivery_again_is_a_duplicate(self, aws: AwsStack, woo_paid_body: bytes) -> None:
        answers = [deliver(aws, woo_paid_body, signed(woo_paid_body)) for _ in range(3)]

        assert [answer["duplicate"] for _, answer in answers] == [False, True, True]
        assert len(aws.executions()) == 1
        orders = [item for item in aws.items() if item["SK"]["S"] == "ORDER"]
        assert len(orders) == 1

    def test_an_older_update_after_the_paid_one_changes_nothing(
        self, aws: AwsStack, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        deliver(aws, woo_paid_body, signed(woo_paid_body))
        before = aws.items()

        code, answer = deliver(aws, woo_pending_body, signed(woo_pending_body))

        assert (code, answer["status"], answer["duplicate"]) == (202, "RECEIVED", True)
        kept = [item for item in aws.items() if item["PK"]["S"].startswith("WEBHOOK#")]  # for `webhooks replay`
        assert [item for item in aws.items() if item not in kept] == [item for item in before if item not in kept]


class TestSampleEvents:
    """The events/ files a developer feeds to `sam local invoke -e` behave as their names say."""

    @pytest.mark.parametrize(
        ("name", "status"),
        [("order_updated_paid", 202), ("order_created_pending", 202), ("forged_signature", 401), ("ping", 200)],
    )
    def test_sample_event(self, aws: AwsStack, name: str, status: int) -> None:
        event = json.loads((ROOT / "events" / "intake_webhook" / f"{name}.json").read_text(encoding="utf-8"))

        response = app.lambda_handler(event, _context(), deps=aws.deps)

        assert response["statusCode"] == status
