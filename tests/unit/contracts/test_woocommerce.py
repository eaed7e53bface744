"""WooCommerce's published examples (tests/fixtures/woocommerce/SOURCES.md) through our adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound, build
from fulfillment.model import Money
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from fulfillment.steps.validate import review_reasons
from local.stub_api import StubApi, StubRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "woocommerce"
STORE = Store(store_id="docs", platform="woocommerce", secret_ref="/ref", site_url="https://example.com/")
TRACKINGS = r"/wp-json/wc-shipment-tracking/v3/orders/727/shipment-trackings"


def _published_order(**line_changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = json.loads((FIXTURES / "order_727.json").read_text())
    for line in order["line_items"]:
        line.update(line_changes.get(str(line["id"]), {}))
    return order


def _read(order: dict[str, Any]) -> Any:
    request = WebhookRequest(body=json.dumps(order).encode(), headers={"x-wc-webhook-topic": "order.updated"})
    return WooCommerceInbound().read(request, STORE).order


def test_the_published_order_reads_as_a_paid_order_with_its_lines_and_totals() -> None:
    order = _read(_published_order())

    assert order is not None and order.paid
    assert [(line.line_id, line.sku, line.quantity) for line in order.lines] == [
        ("315", "woo-product-93", 2),  # "sku": "" — a product without a SKU, still there
        ("316", "Bar3", 1),
    ]
    assert order.totals.grand_total == Money.parse("29.35", "USD")
    assert "flagged" not in order.platform_refs


def test_a_line_whose_product_was_deleted_is_recorded_and_the_order_held_for_review() -> None:
    order = _read(_published_order(**{"316": {"sku": None}}))  # what get_order_item_data gives a deleted product

    assert order is not None and order.paid
    assert order.lines[1].sku == "woo-deleted-product-23"
    assert review_reasons(order, threshold_minor=10**9) == [
        "flagged by the store: product deleted in WooCommerce, nothing to pick by SKU: "
        "line 316 (Ship Your Idea &ndash; Color: Black, Size: M Test)"
    ]


@pytest.fixture
def shop() -> Iterator[StubApi]:
    """Only what the Shipment Tracking docs publish: the providers example, and a tracking list to add to."""
    providers = json.loads((FIXTURES / "providers.json").read_text())
    with StubApi() as api:

        def listed(_: StubRequest, __: re.Match[str]) -> tuple[int, Any]:
            return 200, providers

        api.route("GET", re.escape("/wp-json/wc-shipment-tracking/v3/shipment-trackings/providers"), listed)
        api.route("GET", TRACKINGS, lambda _, __: (200, []))
        api.route("POST", TRACKINGS, lambda request, __: (201, {"tracking_id": "t1", **(request.json() or {})}))
        yield api


def _ship(api: StubApi, carrier: str, url: str | None) -> dict[str, Any]:
    order = _read(_published_order())
    credentials = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_key="ck", api_secret="cs")
    update = StoreUpdate(
        kind=UpdateKind.SHIPPED, order=order, carrier=carrier, tracking_number="12345678", tracking_url=url
    )
    write_back = build(HttpClient(attempts=1)).write_back
    assert write_back is not None
    write_back.apply(STORE, credentials, update)
    (created,) = api.received("POST", TRACKINGS)
    body: dict[str, Any] = created.json()
    return body


def test_a_carrier_from_the_published_provider_list_is_named_by_it(shop: StubApi) -> None:
    assert _ship(shop, "USPS", "https://tools.usps.com/tracking/12345678") == {
        "tracking_provider": "USPS",
        "tracking_number": "12345678",
    }


def test_any_other_carrier_is_sent_with_the_published_custom_provider_fields(shop: StubApi) -> None:
    published = json.loads((FIXTURES / "custom_provider_tracking_request.json").read_text())

    sent = _ship(shop, "Example Courier", "https://example.com/track/12345678")

    assert set(sent) == set(published) - {"date_shipped"}  # optional; the extension takes today's date
    assert sent["custom_tracking_provider"] == published["custom_tracking_provider"]
