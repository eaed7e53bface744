"""Write events/ for `sam local invoke -e`: real API Gateway v2 events and Step Functions task inputs.

Generated from the template's routes and the sample WooCommerce deliveries in events/woocommerce/,
signed with the demo store's secret, so they stay in step with the code (a test checks they do).
The EasyPost tracker event is EasyPost's published example (tests/fixtures/easypost/event-body.json) naming a
shipment of the demo store, signed with the demo store's local EasyPost webhook secret.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.client import EVENTS, WOO_SAMPLES, woocommerce_headers
from local.demo import DEMO_SECRET, DEMO_STORE
from local.easypost_stub import hmac_signature
from local.runtime import ROOT, http_api_event, local_easypost_account
from local.template import LocalTemplate

FIXED_TIME = datetime(2025, 6, 4, 7, 12, 41, tzinfo=UTC)
ORDER_KEY = "kaffeekontor:4711"


def _api_event(
    function: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes, name: str
) -> dict[str, Any]:
    route = next(route for route in LocalTemplate(ROOT).functions()[function].routes)
    return http_api_event(
        route, "POST", path, "", headers, body, params, "203.0.113.42", request_id=f"sample-{name}", now=FIXED_TIME
    )


def generate() -> dict[str, dict[str, Any]]:
    """Relative path under events/ -> event."""
    events: dict[str, dict[str, Any]] = {}
    webhook_path = f"/webhooks/woocommerce/{DEMO_STORE}"
    params = {"platform": "woocommerce", "storeId": DEMO_STORE}
    for name, sample, topic in (
        ("order_created_pending", "order_created_pending.json", "order.created"),
        ("order_updated_paid", "order_updated_paid.json", "order.updated"),
        ("order_updated_cancelled", "order_updated_cancelled.json", "order.updated"),
    ):
        body = (WOO_SAMPLES / sample).read_bytes()
        headers = woocommerce_headers(body, DEMO_SECRET, topic)
        events[f"intake_webhook/{name}.json"] = _api_event(
            "IntakeWebhookFunction", webhook_path, params, headers, body, name
        )
    paid = (WOO_SAMPLES / "order_updated_paid.json").read_bytes()
    events["intake_webhook/forged_signature.json"] = _api_event(
        "IntakeWebhookFunction", webhook_path, params, woocommerce_headers(paid, "not-the-secret"), paid, "forged"
    )
    ping = (WOO_SAMPLES / "ping.txt").read_bytes()
    events["intake_webhook/ping.json"] = _api_event(
        "IntakeWebhookFunction",
        webhook_path,
        params,
        {
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "User-Agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        },
        ping,
        "ping",
    )

    events["steps/order.json"] = {"order_key": ORDER_KEY}
    events["steps/await_callback.json"] = {
        "order_key": ORDER_KEY,
        "task_token": "replace-with-a-real-task-token",
        "waiting_for": "delivery",
    }
    events["steps/raise_alert.json"] = {"order_key": ORDER_KEY, "alert": "delivery_overdue"}
    events["steps/compensate.json"] = {
        "order_key": ORDER_KEY,
        "outcome": "failed",
        "error": {
            "Error": "InspectionFailed",
            "Cause": json.dumps(
                {
                    "errorMessage": "inspection failed: scratched casing on one unit",
                    "errorType": "InspectionFailed",
                }
            ),
        },
    }

    return_step = {"return_key": f"{ORDER_KEY}:R1", "order_key": ORDER_KEY}
    events["returns/return.json"] = return_step
    events["returns/await_return.json"] = return_step | {
        "task_token": "replace-with-a-real-task-token",
        "waiting_for": "goods",
    }
    events["returns/close_return.json"] = return_step | {"outcome": "closed"}

    sample = json.loads((ROOT / "tests/fixtures/easypost/event-body.json").read_bytes())
    sample["result"] |= {
        "shipment_id": "shp_sample4711",
        "status": "delivered",
        "status_detail": "arrived_at_destination",
    }
    tracking = json.dumps(sample, separators=(",", ":")).encode()
    secret = local_easypost_account(DEMO_STORE)["webhook_secret"]
    events["carrier_tracking/delivered.json"] = _api_event(
        "CarrierTrackingFunction",
        "/carriers/easypost/tracking",
        {},
        {"Content-Type": "application/json", "X-Hmac-Signature": hmac_signature(tracking, secret)},
        tracking,
        "delivered",
    )
    return events


def write(events: dict[str, dict[str, Any]], root: Path = EVENTS) -> None:
    for relative, event in events.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(generate())
    print(f"wrote {len(generate())} events under {EVENTS.relative_to(ROOT)}/", file=sys.stderr)
