"""POST /carriers/easypost/tracking through the real handler: EasyPost ``tracker.updated`` events, verified with the
SDK's own ``validate_webhook`` against the store's webhook secret, deduplicated by event id."""

from __future__ import annotations

import base64
import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fulfillment.model import OrderStatus
from local.easypost_stub import hmac_signature
from local.lambdas import LambdaContext
from local.runtime import http_api_event
from local.template import Route
from tests.fakes import EASYPOST, FulfillmentWorld, InMemoryDeliveryLog, make_line

S = OrderStatus
TOKEN = "tok-delivery"
ROUTE = Route("POST", "/carriers/easypost/tracking", "CarrierTrackingFunction")
EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "easypost" / "event-body.json").read_text(encoding="utf-8")
)


@dataclass
class TrackingWorld(FulfillmentWorld):
    deliveries: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)


@pytest.fixture
def world() -> TrackingWorld:
    return TrackingWorld()


def event_for(shipment_id: str | None, status: str, event_id: str = "evt_1", detail: str = "") -> bytes:
    """EasyPost's published example event, about one of our shipments."""
    event = copy.deepcopy(EXAMPLE)
    event["id"] = event_id
    event["result"] |= {"shipment_id": shipment_id, "status": status, "status_detail": detail or status}
    return json.dumps(event, separators=(",", ":")).encode()


def post(world: TrackingWorld, body: bytes, signature: str | None = None) -> tuple[int, dict[str, Any]]:
    from functions.carrier_tracking.app import lambda_handler

    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hmac-signature"] = signature
    event = http_api_event(ROUTE, "POST", ROUTE.path, "", headers, body, {})
    context = LambdaContext("CarrierTracking", 256, "arn:aws:lambda:us-east-1:1:function:t", "r", time.monotonic() + 5)
    response = lambda_handler(event, context, deps=world)  # type: ignore[arg-type]
    raw = response.get("body") or ""
    return response["statusCode"], json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)


def signed(body: bytes) -> str:
    return hmac_signature(body, EASYPOST.webhook_secret)


def shipped(world: TrackingWorld, packages: int = 1) -> tuple[str, list[str]]:
    lines = tuple(make_line(line_id=str(300 + n), sku=sku) for n, sku in enumerate(["MUG-CC-BLU", "TEE-ORG-M-GRN"]))
    key = world.order_at(S.SHIPPED, token=TOKEN, lines=lines[:packages])
    return key, [package.shipment_id or "" for package in world.stored(key).packages]


class TestEasyPostTracking:
    def test_a_signed_delivery_of_the_only_package_resumes_the_wait(self, world: TrackingWorld) -> None:
        key, [shipment] = shipped(world)
        body = event_for(shipment, "delivered")

        status, answer = post(world, body, signed(body))

        assert (status, answer["outcome"], answer["order_key"]) == (200, "recorded", key)
        assert world.stored(key).status is S.DELIVERED
        assert world.workflow.resumed_tokens == [TOKEN]

    @pytest.mark.parametrize("forgery", ["unsigned", "other secret", "altered body", "not ascii"])
    def test_a_forged_or_altered_event_is_refused_and_changes_nothing(self, world: TrackingWorld, forgery: str) -> None:
        key, [shipment] = shipped(world)
        body = event_for(shipment, "delivered")
        signature = {
            "unsigned": None,
            "other secret": hmac_signature(body, "not-the-secret"),
            "altered body": signed(event_for(shipment, "in_transit")),
            "not ascii": "hmac-sha256-hex=é",  # the SDK's compare_digest would raise TypeError: a 500
        }[forgery]
        before, writes = world.stored(key), world.orders.writes

        status, answer = post(world, body, signature)

        assert (status, answer["error"]) == (401, "invalid_signature")
        assert (world.stored(key), world.orders.writes) == (before, writes)
        assert world.workflow.resumed == [] and world.deliveries.seen == set()

    @pytest.mark.parametrize("shipment", [None, "shp_not_ours"])
    def test_an_unknown_tracker_is_answered_2xx_and_ignored(self, world: TrackingWorld, shipment: str | None) -> None:
        key, _ = shipped(world)
        writes = world.orders.writes
        body = event_for(shipment, "delivered")

        status, answer = post(world, body, hmac_signature(body, "whoever"))

        assert (status, answer["outcome"]) == (200, "ignored")
        assert world.orders.writes == writes and world.stored(key).status is S.SHIPPED

    def test_the_same_event_twice_is_applied_once(self, world: TrackingWorld) -> None:
        _, [shipment] = shipped(world)
        body = event_for(shipment, "in_transit")

        first, second = post(world, body, signed(body)), post(world, body, signed(body))

        assert [(code, answer["outcome"]) for code, answer in (first, second)] == [
            (200, "recorded"),
            (200, "duplicate"),
        ]
        assert world.workflow.heartbeats == [TOKEN]

    def test_two_packages_one_delivered_the_order_still_waits(self, world: TrackingWorld) -> None:
        key, [first, second] = shipped(world, packages=2)
        body = event_for(first, "delivered", "evt_a")

        post(world, body, signed(body))

        order = world.stored(key)
        assert (order.status, order.wait.token) == (S.SHIPPED, TOKEN)
        assert [package.tracking_status for package in order.packages] == ["delivered", None]
        assert world.workflow.resumed == []

        body = event_for(second, "delivered", "evt_b")
        post(world, body, signed(body))

        assert world.stored(key).status is S.DELIVERED
        assert world.workflow.resumed_tokens == [TOKEN]

    def test_a_parcel_returned_to_sender_fails_the_delivery_wait(self, world: TrackingWorld) -> None:
        _, [shipment] = shipped(world)
        body = event_for(shipment, "return_to_sender", detail="return")

        post(world, body, signed(body))

        assert [(token, error) for token, error, _ in world.workflow.failed] == [(TOKEN, "DeliveryFailed")]

    def test_a_body_that_is_not_an_event_is_a_400(self, world: TrackingWorld) -> None:
        status, answer = post(world, b'{"description": 5}', "hmac-sha256-hex=00")

        assert (status, answer["error"]) == (400, "malformed_payload")
