"""Small HTTP helpers to talk to the local runtime like a store or a person with curl would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fulfillment.adapters.platforms.woocommerce import woocommerce_signature

EVENTS = Path(__file__).resolve().parent.parent / "events"
WOO_SAMPLES = EVENTS / "woocommerce"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30, method: str = "POST") -> HttpAnswer:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, json.loads(error.read() or b"{}"))


def woocommerce_headers(body: bytes, secret: str, topic: str = "order.updated") -> dict[str, str]:
    """The headers WooCommerce sends with an order webhook, signed over the exact body bytes."""
    resource, event = topic.split(".", 1)
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        "X-WC-Webhook-Source": "https://shop.kaffeekontor.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": woocommerce_signature(secret, body),
        "X-WC-Webhook-ID": "12",
    }


def send_woocommerce(api_url: str, store_id: str, body: bytes, secret: str, topic: str = "order.updated") -> HttpAnswer:
    return post(f"{api_url}/webhooks/woocommerce/{store_id}", body, woocommerce_headers(body, secret, topic))


def woocommerce_order_of_lines(template: bytes, lines: int) -> bytes:
    """The sample WooCommerce order with ``lines`` lines of one unit each over its SKUs (the catalogue's), as a
    store with a large order sends it: about 245 bytes a line (3,000 lines ≈ 734 KB, under the 1 MiB limit)."""
    order = json.loads(template)
    left_out = {"image", "parent_name", "global_unique_id"}
    samples = [{key: value for key, value in line.items() if key not in left_out} for line in order["line_items"]]
    untaxed = {"quantity": 1, "meta_data": [], "taxes": [], "subtotal_tax": "0.00", "total_tax": "0.00"}
    order["line_items"] = [samples[n % len(samples)] | untaxed | {"id": 10_000 + n} for n in range(lines)]
    return json.dumps(order, separators=(",", ":")).encode()
