"""Authorized money end to end on every platform that holds it (issue #11): an order authorized on its platform and
cancelled before it ships has its authorization voided there, once; one whose authorization is about to lapse is
captured at shipment rather than at delivery, and when its parcel is then lost the capture is refunded there, once.
The platform stubs' money ledgers are the evidence. Ecwid and OpenCart hold no authorization we can read or move
(their capabilities say so), so they have no case here: a capture there is an operator task."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import pytest

from fulfillment.adapters.platforms.registry import payment_capabilities
from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from fulfillment.model.payment import AUTHORIZATION_DAYS_OPTION, PaymentMethod, payment_method
from local.client import post
from local.deliveries import Delivery
from local.platforms import EVENTS, platform_names
from local.runtime import LocalRuntime
from local.simulators import SimulatorConfig
from local.stubs.bigcommerce import BigCommerceStore
from local.stubs.magento import AUTHORIZED_ORDER_ID as MAGENTO_AUTHORIZED
from local.stubs.magento import MagentoShop
from local.stubs.woocommerce import AUTHORIZED_ORDER_ID as WOO_AUTHORIZED
from local.stubs.woocommerce import WooCommerceShop
from tests.e2e.conftest import fresh_store, signed_sample, stored_order
from tests.e2e.test_workflow_scenarios import cli, path_of, wait_until

pytestmark = pytest.mark.e2e


def _shopify() -> Delivery:
    sample = "06_orders_create_authorized.json"
    return signed_sample("shopify", sample, (EVENTS / "shopify" / sample).read_bytes())


def _bigcommerce() -> Delivery:
    sample = "02_store_order_statusUpdated_paid.json"
    document = json.loads((EVENTS / "bigcommerce" / sample).read_bytes())
    document["data"]["id"] = 1189  # the stub's order whose card payment is authorized only
    return signed_sample("bigcommerce", sample, json.dumps(document).encode())


def _magento() -> Delivery:
    body = json.dumps({"data": MagentoShop().orders[MAGENTO_AUTHORIZED]}).encode()
    return signed_sample("magento", "mageos_02_sales.order.updated_invoiced.json", body)


def _woocommerce() -> Delivery:
    body = json.dumps(WooCommerceShop().orders[WOO_AUTHORIZED]).encode()
    return signed_sample("woocommerce", "order_updated_paid.json", body)


@dataclass(frozen=True)
class Case:
    platform: str
    held_by: str  # how the sample's money is held, as the test id says
    delivery: Callable[[], Delivery]
    placed: Callable[[], datetime]  # when the sample's order was placed, as its platform says


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


CASES = [
    Case(
        "shopify",
        "Shopify Payments authorization",
        _shopify,
        lambda: _utc(json.loads((EVENTS / "shopify" / "06_orders_create_authorized.json").read_bytes())["created_at"]),
    ),
    Case(
        "bigcommerce",
        "card authorized only (voided asynchronously)",
        _bigcommerce,
        lambda: parsedate_to_datetime(BigCommerceStore().orders[1189]["date_created"]),
    ),
    Case(
        "magento",
        "authorize-only method",
        _magento,
        lambda: _utc(MagentoShop().orders[MAGENTO_AUTHORIZED]["created_at"]),
    ),
    Case(
        "woocommerce",
        "Stripe extension, authorized on-hold",
        _woocommerce,
        lambda: _utc(WooCommerceShop().orders[WOO_AUTHORIZED]["date_created_gmt"]),
    ),
]


def test_every_platform_that_can_capture_has_a_case() -> None:
    assert {case.platform for case in CASES} == {p for p in platform_names() if payment_capabilities(p).can_capture}


def _ledger(runtime: LocalRuntime, platform: str, order_id: str) -> list[tuple[str, Decimal]]:
    answer = post(f"{runtime.platform_apis[platform].url}/_stub/ledger/{order_id}", b"", {}, method="GET")
    assert answer.status == 200, answer.body
    return [(entry["kind"], Decimal(entry["amount"])) for entry in answer.body["entries"]]


def _moved(runtime: LocalRuntime, case: Case, order_id: str, before: int) -> list[tuple[str, Decimal]]:
    if case.platform == "bigcommerce":  # BigCommerce's gateway settles a capture or void later: let it, now
        runtime.platform_apis["bigcommerce"].shop.settle(int(order_id))
    return _ledger(runtime, case.platform, order_id)[before:]


def _accept(runtime: LocalRuntime, case: Case, store_id: str) -> tuple[str, str]:
    delivery = case.delivery()
    answer = post(f"{runtime.api_url}/webhooks/{case.platform}/{store_id}", delivery.body, delivery.headers)
    assert answer.status == 202, answer.body
    key = str(answer.body["order_key"])
    return key, key.split(":", 1)[1]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.platform}: {case.held_by}")
def test_an_authorization_cancelled_before_shipping_is_voided_once_on_its_platform(
    runtime: LocalRuntime, simulators: SimulatorConfig, stubs_as_they_were: None, case: Case
) -> None:
    simulators.inspection_after = 30.0  # cancelled while the warehouse inspects, before anything is captured
    store_id = fresh_store(runtime, case.platform)
    key, external_id = _accept(runtime, case, store_id)
    wait_until(lambda: (found := container().orders.get(key)) is not None and found.wait.kind == "inspection", 90)
    assert payment_method(stored_order(key)) is PaymentMethod.PLATFORM_AUTHORIZED
    before = len(_ledger(runtime, case.platform, external_id))

    done = cli(runtime, "orders", "cancel", key, "--reason", "customer changed their mind", "--by", "cs-anna")

    assert done.returncode == 0, done.stderr + done.stdout
    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=90)
    assert path_of(runtime, execution)[-1] == "Order cancelled"
    cancelled = stored_order(key)
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.payment.voided
    assert cancelled.payment.captured is None and cancelled.payment.outstanding_refunds == []
    held = cancelled.payment.authorized or cancelled.totals.grand_total
    assert _moved(runtime, case, external_id, before) == [("void", held.to_decimal())]  # nothing captured

    again = cli(runtime, "orders", "cancel", key, "--reason", "asked twice", "--by", "cs-anna")

    assert again.returncode == 0, again.stderr  # asking again answers with the cancelled order, and moves nothing
    assert json.loads(again.stdout)["status"] == OrderStatus.CANCELLED
    assert _moved(runtime, case, external_id, before) == [("void", held.to_decimal())]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.platform}: {case.held_by}")
def test_an_authorization_about_to_lapse_is_captured_at_shipment_and_refunded_once_when_the_parcel_is_lost(
    runtime: LocalRuntime, simulators: SimulatorConfig, stubs_as_they_were: None, case: Case
) -> None:
    # The store's authorizations hold N days from the order: N so that this one lapses within a day, inside the
    # capture margin, so it is captured when the parcel ships instead of at a delivery that may come too late.
    days = (datetime.now(UTC) - case.placed()).days + 1
    store_id = fresh_store(runtime, case.platform, **{AUTHORIZATION_DAYS_OPTION: str(days)})
    simulators.delivery = "lost"  # in transit, then the carrier reports it lost: the order fails after shipment
    key, external_id = _accept(runtime, case, store_id)

    execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=120)

    assert execution["status"] == "FAILED"
    failed = stored_order(key)
    assert failed.status is OrderStatus.FAILED
    shipped = next(e for e in container().orders.timeline(key) if e.status is OrderStatus.SHIPPED)
    assert "captured" in shipped.detail, shipped.detail  # at shipment, not at the delivery that never came
    held = (failed.payment.authorized or failed.totals.grand_total).to_decimal()
    assert _moved(runtime, case, external_id, 0) == [("capture", held), ("refund", held)]
    assert failed.payment.refunded is not None and failed.payment.refunded.to_decimal() == held
    assert failed.payment.outstanding_refunds == []
