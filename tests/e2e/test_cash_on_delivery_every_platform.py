"""Cash on delivery end to end (issue #11): an order paid cash on delivery, delivered twice by its store, is
fulfilled once; the carrier is told to collect the total (EasyPost ``cod_amount``), its collection is recorded,
and the store is told the order is paid exactly once — Shopify ``orderMarkAsPaid`` and Magento's offline invoice
in their stubs' ledgers (``recorded_paid``, no money moved by the platform), Ecwid's ``paymentStatus`` PAID,
BigCommerce Awaiting Payment (7) while it is fulfilled and Completed (10) at the end. WooCommerce's cash orders:
``test_workflow_scenarios``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import PaymentMethod, payment_method
from local.client import post
from local.deliveries import Delivery
from local.platforms import EVENTS
from local.runtime import LocalRuntime
from local.stubs.bigcommerce import CASH_ON_DELIVERY_ORDER as BIGCOMMERCE_COD
from local.stubs.ecwid import CASH_ON_DELIVERY_ORDER as ECWID_COD
from local.stubs.ecwid import EcwidStore
from local.stubs.magento import CASH_ON_DELIVERY_ORDER_ID as MAGENTO_COD
from local.stubs.magento import MagentoShop
from local.stubs.shopify import cash_on_delivery_order
from tests.e2e.conftest import eventually, fresh_store, signed_sample, stored_order

pytestmark = pytest.mark.e2e
RECEIVED = OrderStatus.RECEIVED


def _shopify() -> Delivery:
    return signed_sample("shopify", "02_orders_paid.json", json.dumps(cash_on_delivery_order()).encode())


def _magento() -> Delivery:
    body = json.dumps({"data": MagentoShop().orders[MAGENTO_COD]}).encode()
    return signed_sample("magento", "mageos_02_sales.order.updated_invoiced.json", body)


def _bigcommerce() -> Delivery:
    sample = "02_store_order_statusUpdated_paid.json"
    document = json.loads((EVENTS / "bigcommerce" / sample).read_bytes())
    document["data"]["id"] = BIGCOMMERCE_COD
    return signed_sample("bigcommerce", sample, json.dumps(document).encode())


def _ecwid() -> Delivery:
    sample = "02_order_updated_paid.json"
    document = json.loads((EVENTS / "ecwid" / sample).read_bytes())
    document["entityId"] = EcwidStore().orders[ECWID_COD]["internalId"]  # Ecwid's internal order id, a number
    document["data"]["orderId"] = ECWID_COD
    document["eventId"] = f"e2e-cod-{uuid.uuid4()}"  # a new event: the sample's id is deduplicated
    # compact, as Ecwid sends it: its signature covers eventCreated, which signing rewrites in place
    return signed_sample("ecwid", sample, json.dumps(document, separators=(",", ":")).encode())


def _recorded_paid(runtime: LocalRuntime, platform: str, order_id: str) -> list[Decimal]:
    answer = post(f"{runtime.platform_apis[platform].url}/_stub/ledger/{order_id}", b"", {}, method="GET")
    assert answer.status == 200, answer.body
    entries = answer.body["entries"]
    assert all(entry["kind"] == "recorded_paid" and not entry["online"] for entry in entries), entries  # no capture
    return [Decimal(entry["amount"]) for entry in entries]


def _shop_says_paid(runtime: LocalRuntime, case: Case, order_id: str, total: Decimal) -> bool:
    shop: Any = runtime.platform_apis[case.platform].shop
    match case.platform:
        case "shopify":
            return _recorded_paid(runtime, "shopify", order_id) == [total] and (
                shop.orders[order_id].rest["financial_status"] == "paid"
            )
        case "magento":
            return (
                _recorded_paid(runtime, "magento", order_id) == [total] and shop.orders[int(order_id)]["total_due"] == 0
            )
        case "ecwid":
            return bool(shop.orders[order_id]["paymentStatus"] == "PAID")
        case _:
            return bool(shop.orders[int(order_id)]["status_id"] == 10)  # BigCommerce: Completed


@dataclass(frozen=True)
class Case:
    platform: str
    delivery: Callable[[], Delivery]


CASES = [Case("shopify", _shopify), Case("magento", _magento), Case("bigcommerce", _bigcommerce), Case("ecwid", _ecwid)]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.platform)
def test_cash_on_delivery_is_collected_once_and_the_store_told_it_is_paid(
    runtime: LocalRuntime, stubs_as_they_were: None, case: Case
) -> None:
    store_id = fresh_store(runtime, case.platform)
    delivery = case.delivery()
    url = f"{runtime.api_url}/webhooks/{case.platform}/{store_id}"
    answers = [post(url, delivery.body, delivery.headers) for _ in range(2)]  # the store's retry
    assert all(answer.status in (200, 202) for answer in answers), [answer.body for answer in answers]
    key = str(answers[0].body["order_key"])
    external_id = key.split(":", 1)[1]
    if case.platform == "bigcommerce":  # while it is fulfilled, a cash order stays Awaiting Payment
        stub: Any = runtime.platform_apis["bigcommerce"].shop
        assert eventually(lambda: (found := container().orders.get(key)) is not None and found.status is not RECEIVED)
        assert stub.orders[BIGCOMMERCE_COD]["status_id"] == 7

    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=120)

    assert execution["status"] == "SUCCEEDED", execution
    order = stored_order(key)
    assert payment_method(order) is PaymentMethod.CASH_ON_DELIVERY
    assert order.status is OrderStatus.COMPLETED and order.payment.collected == order.totals.grand_total
    total = order.totals.grand_total.to_decimal()
    assert runtime.easypost is not None
    [shipment] = runtime.easypost.shipments_for(key)  # the carrier was told to collect it
    assert (shipment["options"]["cod_amount"], shipment["options"]["cod_method"]) == (f"{total:.2f}", "CASH")
    assert eventually(lambda: _shop_says_paid(runtime, case, external_id, total), 30), f"{case.platform}: not told"
