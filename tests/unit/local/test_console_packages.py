"""The console's order page lists each package's EasyPost label: tracking link, label link, cost, statuses."""

from __future__ import annotations

from fulfillment.model import OrderStatus
from local.console.pages import order_page
from local.console.reads import OrderDetails
from tests.fakes import FulfillmentWorld, make_line


def test_each_package_shows_its_tracking_and_label_links_and_cost() -> None:
    world = FulfillmentWorld()
    key = world.order_at(OrderStatus.SHIPPED, lines=(make_line(), make_line(line_id="302", sku="TEE-ORG-M-GRN")))
    order = world.stored(key)

    html = order_page(OrderDetails(order=order, timeline=world.timeline(key), executions=[]))

    assert "<h2>Packages (2) · shipping 10.50 USD</h2>" in html
    for package in order.packages:
        assert package.label is not None
        assert f'<a href="{package.label.tracking_url}" rel="noreferrer">{package.label.tracking_number}</a>' in html
        assert f'<a href="{package.label.label_url}" rel="noreferrer">label</a>' in html
    assert html.count("5.25 USD") == 2


def test_a_label_url_that_is_not_http_is_shown_as_text() -> None:
    world = FulfillmentWorld()
    key = world.order_at(OrderStatus.SHIPPED)
    order = world.stored(key)
    [package] = order.packages
    assert package.label is not None
    order.packages[0] = package.model_copy(
        update={"label": package.label.model_copy(update={"label_url": "javascript:alert(1)"})}
    )

    html = order_page(OrderDetails(order=order, timeline=[], executions=[]))

    assert "javascript:" not in html
