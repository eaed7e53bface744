"""Magento's published shipment request (tests/fixtures/magento/SOURCES.md): our write-back sends that shape."""

from __future__ import annotations

import json
from pathlib import Path

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.magento import MagentoWriteBack
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.model.writeback import StoreUpdate, UpdateKind
from local.stub_api import StubApi
from tests.fakes import make_line, make_order

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "magento"


def test_a_partial_shipment_has_the_published_payloads_shape_naming_only_what_ships() -> None:
    published = json.loads((FIXTURES / "ship_order_request.json").read_text())
    order = make_order(
        platform="magento",
        external_id="3",
        lines=(make_line(line_id="3", sku="MT07-M-Orange", quantity=1), make_line(line_id="5", sku="KIT", quantity=2)),
    ).model_copy(update={"short": {"KIT": 1}})
    update = StoreUpdate(
        kind=UpdateKind.SHIPPED, order=order, carrier="United Parcel Service", tracking_number="1Y-9876543210"
    )
    with StubApi() as api:  # only what the tutorial shows: no shipments yet, and a shipment id answered
        api.route("GET", r"/rest/V1/shipments", (200, {"items": []}))
        api.route("POST", r"/rest/V1/order/3/ship", (200, 3))
        credentials = StoreCredentials(webhook_secret="s", api_base_url=api.url, api_token="t")
        store = Store(store_id="docs", platform="magento", secret_ref="/r")
        assert MagentoWriteBack(HttpClient(attempts=1)).apply(store, credentials, update).reference == "3"
        [posted] = api.received("POST", r"/rest/V1/order/3/ship")
    sent = posted.json()
    assert set(sent) - {"notify"} == set(published)
    assert set(sent["items"][0]) == set(published["items"][0]) and set(sent["tracks"][0]) == set(published["tracks"][0])
    assert sent["items"] == [{"order_item_id": 3, "qty": 1}, {"order_item_id": 5, "qty": 1}]
