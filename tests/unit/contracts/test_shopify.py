"""Shopify's own published REST Order example (tests/fixtures/shopify/SOURCES.md) delivered as an
``orders/create`` webhook: the body of an order webhook is that REST Order resource, unwrapped."""

from __future__ import annotations

import json
from pathlib import Path

from fulfillment.adapters.platforms.shopify import ShopifyInbound, shopify_signature
from fulfillment.model import Address, Money
from fulfillment.model.payment import PaymentMethod
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
SECRET = "shpss_docs"
SHOP = "docs.myshopify.com"
STORE = Store(store_id="docs", platform="shopify", secret_ref="/ref", platform_store_id=SHOP)


def _orders_create() -> WebhookRequest:
    body = json.dumps(json.loads((FIXTURES / "order_450789469.json").read_bytes())["order"]).encode()
    return WebhookRequest(
        body=body,
        headers={
            "x-shopify-topic": "orders/create",
            "x-shopify-hmac-sha256": shopify_signature(SECRET, body),
            "x-shopify-shop-domain": SHOP,
            "x-shopify-event-id": "docs-event-1",
        },
    )


def test_the_published_order_verifies_and_reads_as_an_order_with_its_lines_and_address() -> None:
    request = _orders_create()
    ShopifyInbound().verify(request, StoreCredentials(webhook_secret=SECRET), 0.0)

    event = ShopifyInbound().read(request, STORE)

    order = event.order
    assert order is not None
    assert (event.external_order_id, event.store_identity, order.number) == ("450789469", SHOP, "#1001")
    assert [(line.line_id, line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("466157049", "IPOD2008GREEN", 1, Money.parse("199.00", "USD")),
        ("518995019", "IPOD2008RED", 1, Money.parse("199.00", "USD")),
        ("703073504", "IPOD2008BLACK", 1, Money.parse("199.00", "USD")),
    ]
    assert order.shipping_address == Address(
        name="Bob Norman",
        lines=("Chestnut Street 92",),  # the empty address2 is no line
        city="Louisville",
        region="KY",  # province_code, not the province name
        postal_code="40202",
        country="US",
        phone="555-625-1199",
    )
    assert (order.customer.email, order.customer.external_id) == ("bob.norman@hostmail.com", "207119551")
    assert (order.totals.items, order.totals.tax, order.totals.shipping, order.totals.grand_total) == (
        Money.parse("398.00", "USD"),
        Money.parse("11.94", "USD"),
        Money.parse("0.00", "USD"),
        Money.parse("409.94", "USD"),
    )


def test_the_published_authorized_order_is_an_authorization_to_capture_on_shopify() -> None:
    """``financial_status: authorized`` with gateway ``authorize_net``: Shopify holds the money; the order is
    fulfilled and the full total (the example has no ``total_outstanding``) is captured through Shopify."""
    order = ShopifyInbound().read(_orders_create(), STORE).order
    assert order is not None

    assert (order.paid, order.cancelled, order.refunded) == (True, False, None)
    assert order.payment is not None
    assert (order.payment.method, order.payment.gateway, order.payment.authorized) == (
        PaymentMethod.PLATFORM_AUTHORIZED,
        "authorize_net",
        Money.parse("409.94", "USD"),
    )
