"""The intake Lambda handler with real API Gateway v2 events against moto.

Every refusal has a status code and a JSON reason, writes nothing and starts no execution.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from fulfillment.adapters.dynamodb import DynamoStoreRegistry
from fulfillment.model.store import Store
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


class TestWhatOnceAnsweredWith500:
    """Issue #14: inputs that escaped as exceptions (a 500 from Lambda), each now a 4xx with a named reason.

    Unsigned bodies are read only as far as verification needs, and that read is bounded; signed values our
    table cannot hold (a 41-digit quantity, a 3,000-character order id) are refused before anything is written.
    """

    DEEP = b"[" * 100_000 + b"]" * 100_000
    ADOBE_CLIENT_ID = "4f2d9c0b8e1a47c6b3d5e7f9a1c2b3d4"  # the recorded Adobe I/O deliveries' recipient

    @pytest.fixture
    def ecwid_and_magento(self, aws: AwsStack) -> AwsStack:
        ssm = boto3.client("ssm")
        for store_id, platform, identity, secret in [
            ("kaffee-ecwid", "ecwid", "31415926", SECRET),
            (
                "kaffee-magento",
                "magento",
                "kaffeekontor.production",
                json.dumps({"webhook_secret": SECRET, "extra": {"adobe_client_id": self.ADOBE_CLIENT_ID}}),
            ),
        ]:
            ref = f"/fulfillment/dev/stores/{store_id}/webhook-secret"
            ssm.put_parameter(Name=ref, Value=secret, Type="SecureString")
            registry = DynamoStoreRegistry(aws.table_name, aws.dynamodb)
            registry.put(Store(store_id=store_id, platform=platform, secret_ref=ref, platform_store_id=identity))
        return aws

    @pytest.mark.parametrize(
        "body",
        [
            DEEP,
            b'{"eventCreated":' + b"[" * 5_000 + b"]" * 5_000 + b',"eventId":"e"}',
            b'{"eventCreated":NaN,"eventId":"e"}',
            b'{"eventCreated":Infinity,"eventId":"e"}',
            b'{"eventCreated":-Infinity,"eventId":"e"}',
            b'{"eventCreated":1e400,"eventId":"e"}',
            b'{"eventCreated":1749021160,"eventId":"\\ud800"}',
        ],
        ids=["100000 deep", "eventCreated 5000 deep", "NaN", "Infinity", "-Infinity", "1e400", "lone surrogate"],
    )
    def test_an_unsigned_ecwid_envelope_that_cannot_be_verified_is_401(
        self, ecwid_and_magento: AwsStack, body: bytes
    ) -> None:
        headers = {"Content-Type": "application/json", "X-Ecwid-Webhook-Signature": "AAAA"}

        code, answer = deliver(ecwid_and_magento, body, headers, "ecwid", "kaffee-ecwid")

        assert (code, answer["error"]) == (401, "invalid_signature")
        assert answer["message"]
        assert ecwid_and_magento.items() == []

    def test_an_unsigned_adobe_io_body_nested_deep_is_401_before_any_key_is_fetched(
        self, ecwid_and_magento: AwsStack
    ) -> None:
        headers = {
            "Content-Type": "application/json",
            "x-adobe-digital-signature-1": "AAAA",
            "x-adobe-public-key1-path": "/prod/keys/pub-key1.pem",
        }

        code, answer = deliver(ecwid_and_magento, self.DEEP, headers, "magento", "kaffee-magento")

        assert (code, answer["error"]) == (401, "invalid_signature")
        assert "recipient_client_id" in answer["message"]
        assert ecwid_and_magento.items() == []

    def test_a_signed_quantity_of_ten_to_the_fortieth_is_400_naming_the_limit(
        self, aws: AwsStack, woo_paid_body: bytes
    ) -> None:
        body = woo_paid_body.replace(b'"quantity":2', b'"quantity":1' + b"0" * 40, 1)

        code, answer = deliver(aws, body, signed(body))

        assert (code, answer["error"]) == (400, "malformed_payload")
        assert "quantity" in answer["message"] and "1000000000" in answer["message"]
        assert aws.items() == [] and aws.executions() == []

    def test_a_signed_order_id_of_3000_characters_is_400_naming_the_limit(
        self, aws: AwsStack, woo_paid_body: bytes
    ) -> None:
        body = woo_paid_body.replace(b'"id":4711', b'"id":"' + b"9" * 3_000 + b'"', 1)

        code, answer = deliver(aws, body, signed(body))

        assert (code, answer["error"]) == (400, "malformed_payload")
        assert "MAX_ID_LENGTH" in answer["message"]
        assert aws.items() == [] and aws.executions() == []

    def test_a_signed_order_too_large_for_an_item_is_413(self, aws: AwsStack, woo_paid_body: bytes) -> None:
        order = json.loads(woo_paid_body)
        order["shipping"]["address_2"] = "Hinterhaus " * 30_000  # a body under 1 MiB, an order item over
        body = json.dumps(order).encode()
        assert len(body) < 1024 * 1024

        code, answer = deliver(aws, body, signed(body))

        assert (code, answer["error"]) == (413, "payload_too_large")
        assert "MAX_ORDER_BYTES" in answer["message"]
        assert aws.items() == [] and aws.executions() == []

    def test_a_signed_order_of_3000_lines_is_recorded_and_started(self, aws: AwsStack, woo_paid_body: bytes) -> None:
        order = json.loads(woo_paid_body)
        line = {
            k: v for k, v in order["line_items"][0].items() if k not in {"image", "parent_name", "global_unique_id"}
        }
        line |= {"meta_data": [], "taxes": [], "quantity": 1, "subtotal": "14.50", "total": "14.50"}
        order["line_items"] = [line | {"id": 10_000 + number} for number in range(3_000)]
        body = json.dumps(order, separators=(",", ":")).encode()
        assert 600_000 < len(body) < 1024 * 1024  # the 734 KB order, near enough

        code, answer = deliver(aws, body, signed(body))

        assert (code, answer["outcome"], answer["status"]) == (202, "accepted", "RECEIVED")
        assert len(aws.executions()) == 1
        stored = aws.deps.orders.get(answer["order_key"])
        assert stored is not None and len(stored.lines) == 3_000
