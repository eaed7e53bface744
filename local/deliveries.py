"""Signed, fresh sample deliveries for every platform — what each store would send when an order is paid.

The sample bodies in events/<platform>/ are exact bytes; the schemes that sign a timestamp
(BigCommerce, Ecwid, OpenCart) are re-stamped with the current time and signed again, so a
delivery built here passes the replay window. Used by `python -m local send`, the demo and tests.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fulfillment.adapters.platforms.base import hmac_sha256_hex
from fulfillment.adapters.platforms.bigcommerce import bigcommerce_signature
from fulfillment.adapters.platforms.ecwid import ecwid_signature
from fulfillment.adapters.platforms.opencart import opencart_signature
from fulfillment.adapters.platforms.shopify import shopify_signature
from fulfillment.adapters.platforms.woocommerce import woocommerce_signature
from local.client import woocommerce_headers

EVENTS = Path(__file__).resolve().parent.parent / "events"

PAID_SAMPLES = {
    "woocommerce": "woocommerce/order_updated_paid.json",
    "bigcommerce": "bigcommerce/02_store_order_statusUpdated_paid.json",
    "ecwid": "ecwid/02_order_updated_paid.json",
    "magento": "magento/mageos_02_sales.order.updated_invoiced.json",
    "opencart": "opencart/02_order_status_processing_paid.json",
    "shopify": "shopify/02_orders_paid.json",
}


@dataclass(frozen=True)
class Delivery:
    platform: str
    body: bytes
    headers: dict[str, str]


def _sample_headers(sample: str) -> dict[str, str]:
    path = EVENTS / sample.replace(".json", ".headers.json")
    if not path.exists():
        return {"Content-Type": "application/json"}
    headers: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return headers


def sign(platform: str, body: bytes, headers: dict[str, str], secret: str, now: float | None = None) -> Delivery:
    """Sign ``body`` as ``platform`` would, refreshing the signed timestamp (and ids) where there is one."""
    stamp = str(int(time.time() if now is None else now))
    headers = dict(headers)
    if platform == "woocommerce":
        headers = woocommerce_headers(body, secret) | {k: v for k, v in headers.items() if k.lower().startswith("x-wc")}
        headers["X-WC-Webhook-Signature"] = woocommerce_signature(secret, body)
    elif platform == "shopify":
        headers["X-Shopify-Hmac-Sha256"] = shopify_signature(secret, body)
    elif platform == "magento":
        headers["x-magento-signature"] = hmac_sha256_hex(secret.encode(), body)
    elif platform == "bigcommerce":
        webhook_id = headers.get("webhook-id") or str(uuid.uuid4())
        headers |= {
            "webhook-id": webhook_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + bigcommerce_signature(secret, webhook_id, stamp, body),
        }
    elif platform == "opencart":
        headers |= {"X-OC-Webhook-Timestamp": stamp, "X-OC-Webhook-Signature": opencart_signature(secret, stamp, body)}
    elif platform == "ecwid":
        body = re.sub(rb'"eventCreated":\d+', f'"eventCreated":{stamp}'.encode(), body, count=1)
        event_id = json.loads(body)["eventId"]
        headers["X-Ecwid-Webhook-Signature"] = ecwid_signature(secret, stamp, event_id)
    else:
        raise ValueError(f"no signer for {platform}")
    return Delivery(platform, body, headers)


def paid_delivery(platform: str, secret: str = "test-secret", now: float | None = None) -> Delivery:  # noqa: S107
    """The platform's sample 'order paid' delivery, signed now."""
    sample = PAID_SAMPLES[platform]
    body = (EVENTS / sample).read_bytes()
    return sign(platform, body, _sample_headers(sample), secret, now)
