"""BigCommerce's published tracking-carrier list (tests/fixtures/bigcommerce/SOURCES.md) as the adapter uses it."""

from __future__ import annotations

from pathlib import Path

from fulfillment.adapters.platforms.bigcommerce import TRACKING_CARRIERS_CSV, _carrier_fields, tracking_carriers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bigcommerce"


def test_the_layer_ships_bigcommerces_published_list_unchanged() -> None:
    assert TRACKING_CARRIERS_CSV.read_bytes() == (FIXTURES / "tracking_carrier_values.csv").read_bytes()
    assert {"usps", "ups", "fedex", "dhl", "dpd", "colissimo"} <= tracking_carriers()
    assert "" not in tracking_carriers()


def test_a_shipping_module_is_a_shipping_provider_a_listed_carrier_a_tracking_carrier_any_other_empty() -> None:
    assert _carrier_fields("UPS", None) == {"shipping_provider": "ups"}
    assert _carrier_fields("dhl", None) == {"shipping_provider": "", "tracking_carrier": "dhl"}
    assert _carrier_fields("simcarrier", "https://t/1") == {
        "shipping_provider": "",
        "tracking_carrier": "",  # not on the list: BigCommerce would refuse it
        "tracking_link": "https://t/1",
    }
