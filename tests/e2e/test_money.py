"""Money end to end through the local runtime (issue #11): an order authorized on its platform is captured on the
platform, exactly once, at its capture point, and the platform stub's money ledger says so."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import Order, OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import PaymentMethod, payment_method
from local.client import post
from local.deliveries import Delivery
from local.platforms import EVENTS, demo_store
from local.runtime import LocalRuntime
from local.stubs.magento import AUTHORIZED_ORDER_ID as MAGENTO_AUTHORIZED
from local.stubs.magento import MagentoShop
from local.stubs.woocommerce import AUTHORIZED_ORDER_ID as WOO_AUTHORIZED
from local.stubs.woocommerce import WooCommerceShop
from tests.e2e.conftest import eventually, signed_sample

# The stubs' authorized orders (1189, 319, 4713, Shopify's sample 06) are the ones test_money_authorized voids and
# refunds on the same worker: each test leaves the stubs as it found them, whichever runs first.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("stubs_as_they_were")]


def _ledger(runtime: LocalRuntime, platform: str, order_id: str) -> list[tuple[str, Decimal]]:
    answer = post(f"{runtime.platform_apis[platform].url}/_stub/ledger/{order_id}", b"", {}, method="GET")
    return [(entry["kind"], Decimal(entry["amount"])) for entry in answer.body["entries"]]


def _deliver(runtime: LocalRuntime, platform: str, delivery: Delivery) -> Order:
    answer = post(f"{runtime.api_url}/webhooks/{platform}/{demo_store(platform)}", delivery.body, delivery.headers)
    assert answer.status == 202, answer.body
    key = str(answer.body["order_key"])
    store_id, external_id = key.split(":", 1)
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=90)
    assert execution["status"] == "SUCCEEDED", execution
    order = container().orders.get(key)
    assert order is not None and order.status is OrderStatus.COMPLETED
    return order


def test_a_shopify_authorization_is_captured_once_on_shopify(runtime: LocalRuntime) -> None:
    sample = EVENTS / "shopify" / "06_orders_create_authorized.json"
    order = _deliver(runtime, "shopify", signed_sample("shopify", sample.name, sample.read_bytes()))

    assert order.payment.captured == order.totals.grand_total
    assert _ledger(runtime, "shopify", order.external_id) == [("capture", Decimal("105.90"))]
    assert container().orders.timeline(order.key)  # recorded, and nothing taken at our payment gateway
    assert runtime.payments is not None and not [c for c in runtime.payments.charges if c.order_key == order.key]


def test_a_woocommerce_stripe_authorization_is_captured_once_by_the_status_change(runtime: LocalRuntime) -> None:
    body = json.dumps(WooCommerceShop().orders[WOO_AUTHORIZED]).encode()
    order = _deliver(runtime, "woocommerce", signed_sample("woocommerce", "order_updated_paid.json", body))

    assert payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED
    assert order.payment.captured == order.totals.grand_total
    # processing captured it; the completion write-back (status completed) found it captured and took nothing more
    assert _ledger(runtime, "woocommerce", str(WOO_AUTHORIZED)) == [("capture", Decimal("126.02"))]


def test_a_magento_authorization_is_invoiced_with_capture_before_it_ships(runtime: LocalRuntime) -> None:
    sample = EVENTS / "magento" / "mageos_02_sales.order.updated_invoiced.json"
    body = json.dumps({"data": MagentoShop().orders[MAGENTO_AUTHORIZED]}).encode()
    order = _deliver(runtime, "magento", signed_sample("magento", sample.name, body))

    assert order.payment.captured == order.totals.grand_total
    assert _ledger(runtime, "magento", str(MAGENTO_AUTHORIZED)) == [("capture", Decimal("107.94"))]
    shipped = next(e for e in container().orders.timeline(order.key) if e.status is OrderStatus.SHIPPED)
    assert "captured" in shipped.detail  # at shipment: Magento invoices before it ships


def test_a_bigcommerce_authorization_is_captured_once_asynchronously(runtime: LocalRuntime) -> None:
    sample = EVENTS / "bigcommerce" / "02_store_order_statusUpdated_paid.json"
    document = json.loads(sample.read_bytes())
    document["data"]["id"] = 1189
    body = json.dumps(document).encode()
    delivery = signed_sample("bigcommerce", sample.name, body, **{"webhook-id": "e2e-money-1189"})
    asked_before = len(_captures_asked(runtime))  # other tests on this worker may have captured 1189 in their stores
    order = _deliver(runtime, "bigcommerce", delivery)

    assert payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED
    # Accepted at delivery, settled by BigCommerce afterwards: one capture, whatever read it first.
    assert eventually(lambda: _ledger(runtime, "bigcommerce", "1189") == [("capture", Decimal("116.86"))])
    assert len(_captures_asked(runtime)) == asked_before + 1


def _captures_asked(runtime: LocalRuntime) -> list[object]:
    return [
        r
        for r in runtime.platform_apis["bigcommerce"].received("POST")
        if r.path.endswith("1189/payment_actions/capture")
    ]
