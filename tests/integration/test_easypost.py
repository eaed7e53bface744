"""The EasyPost carrier adapter on the official SDK: its request bodies against EasyPost's own recorded examples
(``tests/fixtures/easypost/``), its reading of EasyPost's answers, and a real SDK round trip against the local
EasyPost-compatible stub on 127.0.0.1 (create, buy, retrieve, refund, errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.easypost_carrier import EasyPostCarrier, read_shipment, shipment_body
from fulfillment.errors import ShipmentRejected, TransientError
from fulfillment.model import Address, Money
from fulfillment.model.shipping import Customs, CustomsLine, ShipmentRequest
from local.easypost_stub import EasyPostStub, hmac_signature
from local.stub_api import Fault

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "easypost"
KEY = "EZTKintegration"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _address(entry: dict[str, str]) -> Address:
    lines = tuple(line for line in (entry.get("street1", ""), entry.get("street2", "")) if line)
    return Address(
        name=entry.get("name", ""),
        company=entry.get("company", ""),
        lines=lines,
        city=entry["city"],
        region=entry.get("state", ""),
        postal_code=entry["zip"],
        country=entry["country"],
        phone=entry.get("phone", ""),
    )


LIBRARY = fixture("client-library-fixtures.json")
[CREATE, *_] = fixture("shipment_create.json")
EXAMPLE = CREATE["request"]["shipment"]


def example_request(**overrides: Any) -> ShipmentRequest:
    """EasyPost's own example shipment (``test_shipment_create``) as our domain asks for it."""
    item = EXAMPLE["customs_info"]["customs_items"][0]
    fields: dict[str, Any] = {
        "reference": EXAMPLE["reference"],
        "ship_to": _address(EXAMPLE["to_address"]),
        "ship_to_email": EXAMPLE["to_address"]["email"],
        "ship_from": _address(EXAMPLE["from_address"]),
        "ship_from_email": EXAMPLE["from_address"]["email"],
        "dims_mm": (254, 203, 101),  # 10 × 8 × 4 in, rounded up to the tenth
        "weight_g": 436,  # 15.4 oz
        "customs": Customs(
            signer=EXAMPLE["customs_info"]["customs_signer"],
            lines=(
                CustomsLine(
                    description=item["description"],
                    quantity=item["quantity"],
                    weight_g=312,  # 11 oz
                    value=Money.parse(str(item["value"]), "USD"),
                    hs_code=item["hs_tariff_number"],
                    origin_country=item["origin_country"],
                ),
            ),
        ),
        "label_format": "PNG",
        "invoice_number": EXAMPLE["options"]["invoice_number"],
    }
    return ShipmentRequest(**(fields | overrides))


class TestRequestBodiesMatchEasyPostsExamples:
    def test_addresses_are_exactly_easyposts_example(self) -> None:
        body = shipment_body(example_request())

        assert body["to_address"] == EXAMPLE["to_address"]
        assert body["from_address"] == EXAMPLE["from_address"]
        assert body["reference"] == EXAMPLE["reference"]

    def test_cash_on_delivery_is_an_option_the_carrier_collects(self) -> None:
        options = shipment_body(example_request(cod_amount=Money.parse("105.90", "EUR")))["options"]

        assert (options["cod_amount"], options["cod_method"]) == ("105.90", "CASH")
        assert "currency" not in options  # EasyPost's "currency" is the rates' display currency, not the COD's
        assert "cod_amount" not in shipment_body(example_request())["options"]

    def test_the_parcel_is_in_inches_and_ounces_as_in_the_example(self) -> None:
        parcel = shipment_body(example_request())["parcel"]

        assert set(parcel) == set(EXAMPLE["parcel"])
        assert {key: round(value) for key, value in parcel.items() if key != "weight"} == {
            "length": 10,
            "width": 8,
            "height": 4,
        }
        assert parcel["weight"] == pytest.approx(EXAMPLE["parcel"]["weight"], abs=0.1)

    def test_customs_info_carries_every_field_of_the_example(self) -> None:
        customs = shipment_body(example_request())["customs_info"]

        expected = EXAMPLE["customs_info"]
        assert {key: customs[key] for key in expected if key != "customs_items"} == {
            key: value for key, value in expected.items() if key != "customs_items"
        }
        [item] = customs["customs_items"]
        [example_item] = expected["customs_items"]
        assert set(example_item) <= set(item)
        assert (item["description"], item["quantity"], item["value"]) == ("Sweet shirts", 2, 23.25)
        assert (item["hs_tariff_number"], item["origin_country"]) == ("654321", "US")
        assert item["weight"] == pytest.approx(example_item["weight"], abs=0.1)

    def test_options_name_the_label_format_and_the_invoice(self) -> None:
        options = shipment_body(example_request())["options"]

        assert {key: options[key] for key in EXAMPLE["options"]} == EXAMPLE["options"]
        assert options["label_size"] == "4x6"

    def test_a_domestic_parcel_has_no_customs_and_a_street_line_two_joins_the_rest(self) -> None:
        ship_to = _address(EXAMPLE["to_address"]).model_copy(update={"lines": ("179 N Harbor Dr", "Apt 2", "Rear")})
        body = shipment_body(example_request(customs=None, ship_to=ship_to))

        assert "customs_info" not in body
        assert (body["to_address"]["street1"], body["to_address"]["street2"]) == ("179 N Harbor Dr", "Apt 2, Rear")


class TestReadingEasyPostsAnswers:
    def test_a_created_shipment_offers_its_rates(self) -> None:
        shipment = read_shipment(CREATE["response"])

        assert shipment.id == CREATE["response"]["id"] and shipment.label is None
        assert [(r.carrier, r.service, str(r.cost), r.delivery_days) for r in shipment.rates] == [
            ("USPS", "Express", "34.15 USD", 1),
            ("USPS", "Priority", "7.42 USD", 2),
            ("USPS", "GroundAdvantage", "6.07 USD", 3),
        ]

    def test_a_bought_shipment_has_its_label_tracking_and_cost(self) -> None:
        [_, buy] = fixture("shipment_buy.json")
        assert buy["request"] == {"rate": {"id": buy["request"]["rate"]["id"]}}  # what the SDK's buy sends

        label = read_shipment(buy["response"]).label

        assert label is not None
        response = buy["response"]
        assert label.tracking_number == response["tracking_code"]
        assert label.label_url == response["postage_label"]["label_url"]
        assert label.tracking_url == response["tracker"]["public_url"]
        chosen = response["selected_rate"]
        assert (label.carrier, label.service, label.rate_id) == (chosen["carrier"], chosen["service"], chosen["id"])
        assert label.cost == Money.parse(chosen["rate"], chosen["currency"])

    def test_a_refund_reports_its_status(self) -> None:
        refund = fixture("shipment_refund.json")[-1]

        assert read_shipment(refund["response"]).refund_status == refund["response"]["refund_status"] == "submitted"


class TestWebhookSignature:
    def test_the_stub_signs_as_easypost_does(self) -> None:
        body = json.dumps(fixture("event-body.json"), separators=(",", ":")).encode()

        assert hmac_signature(body, LIBRARY["webhooks"]["secret"]) == LIBRARY["webhooks"]["hmac_signature"]


@pytest.fixture
def stub() -> Iterator[EasyPostStub]:
    easypost = EasyPostStub().start()
    easypost.config.delivery = "silent"
    easypost.config.in_transit_after = 60.0  # no tracker news during these tests
    yield easypost
    easypost.stop()


def domestic(**overrides: Any) -> ShipmentRequest:
    return example_request(customs=None, **overrides)


class TestThroughTheSdk:
    def test_create_buy_retrieve_refund(self, stub: EasyPostStub) -> None:
        carrier = EasyPostCarrier(stub.api_base)

        created = carrier.create_shipment(KEY, domestic())
        cheapest = min(created.rates, key=lambda rate: rate.cost.minor)
        bought = carrier.buy(KEY, created.id, cheapest.id)
        again = carrier.shipment(KEY, created.id)
        refunded = carrier.refund(KEY, created.id)

        assert [request.json()["shipment"]["reference"] for request in stub.api.received("POST", "/v2/shipments")] == [
            EXAMPLE["reference"]
        ]
        assert bought.label is not None and again.label == bought.label
        assert (bought.label.service, bought.label.cost) == (cheapest.service, cheapest.cost)
        assert (refunded.refund_status, stub.bought, stub.refunds) == ("submitted", [created.id], [created.id])
        assert stub.api.received()[0].headers["authorization"] == f"Bearer {KEY}"

    def test_a_second_purchase_of_a_shipment_is_refused(self, stub: EasyPostStub) -> None:
        carrier = EasyPostCarrier(stub.api_base)
        created = carrier.create_shipment(KEY, domestic())
        carrier.buy(KEY, created.id, created.rates[0].id)

        with pytest.raises(ShipmentRejected, match=r"SHIPMENT\.POSTAGE\.EXISTS"):
            carrier.buy(KEY, created.id, created.rates[0].id)

        assert stub.bought == [created.id]

    def test_an_address_easypost_cannot_deliver_to_is_a_clear_refusal(self, stub: EasyPostStub) -> None:
        incorrect = _address(LIBRARY["addresses"]["incorrect"])

        with pytest.raises(ShipmentRejected, match=r"422 ADDRESS\.VERIFY\.FAILURE.*Address not found"):
            EasyPostCarrier(stub.api_base).create_shipment(KEY, domestic(ship_to=incorrect))

    def test_an_international_parcel_without_customs_is_refused(self, stub: EasyPostStub) -> None:
        abroad = _address(EXAMPLE["to_address"]).model_copy(update={"country": "DE"})

        with pytest.raises(ShipmentRejected, match="customs_info"):
            EasyPostCarrier(stub.api_base).create_shipment(KEY, domestic(ship_to=abroad))

    def test_easyposts_recorded_error_reads_as_a_refusal(self, stub: EasyPostStub) -> None:
        [error] = fixture("error.json")
        stub.api.fail_next("POST", r"/v2/shipments", Fault(error["status"], body=error["response"]))

        with pytest.raises(ShipmentRejected, match=r"PARAMETER\.REQUIRED.*shipment: cannot be blank"):
            EasyPostCarrier(stub.api_base).create_shipment(KEY, domestic())

    @pytest.mark.parametrize("status", [429, 500, 503])
    def test_throttling_and_server_errors_are_transient(self, stub: EasyPostStub, status: int) -> None:
        stub.api.fail_next("POST", r"/v2/shipments", Fault(status, body={"error": {"code": "X", "message": "busy"}}))

        with pytest.raises(TransientError):
            EasyPostCarrier(stub.api_base).create_shipment(KEY, domestic())

    def test_a_timeout_is_transient(self, stub: EasyPostStub) -> None:
        stub.api.fail_next("POST", r"/v2/shipments", Fault.slow(2.0))

        with pytest.raises(TransientError):
            EasyPostCarrier(stub.api_base, timeout=1).create_shipment(KEY, domestic())

    def test_another_accounts_shipment_is_not_found(self, stub: EasyPostStub) -> None:
        created = EasyPostCarrier(stub.api_base).create_shipment(KEY, domestic())

        with pytest.raises(ShipmentRejected, match="404"):
            EasyPostCarrier(stub.api_base).shipment("EZTKsomeoneelse", created.id)
