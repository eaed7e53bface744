"""The carrier and warehouse HTTP adapters over real HTTP on 127.0.0.1.

Against the local simulators (``local/simulators.py``): what each request carries, and that its
``Idempotency-Key`` makes a retried step buy, void, inspect or announce nothing twice. Against a
scriptable stub (``local/stub_api.py``): which failures are transient (429, 5xx, unreachable, too
slow) and which are not (another 4xx).
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fulfillment.adapters.partners import HttpCarrier, HttpWarehouse
from fulfillment.errors import TransientError
from fulfillment.model.returns import Resolution, Return, ReturnLine, ReturnSource
from local.runtime import free_ports
from local.simulators import CarrierSimulator, SimulatorConfig, WarehouseSimulator
from local.stub_api import Fault, StubApi
from tests.fakes import make_line, make_order, money

SECRET = "partner-secret"


@pytest.fixture
def callbacks() -> Iterator[StubApi]:
    """Our public callback routes, as far as the simulators can tell: they answer 202 and record."""
    with StubApi(name="callbacks") as stub:
        stub.route("POST", "/.*", (202, {"accepted": True}))
        yield stub


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(in_transit_after=0.05, delivered_after=0.1, inspection_after=0.05, return_goods="never")


@pytest.fixture
def carrier_sim(config: SimulatorConfig, callbacks: StubApi) -> Iterator[CarrierSimulator]:
    simulator = CarrierSimulator(0, config, f"{callbacks.url}/carriers/simcarrier/tracking", SECRET).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def warehouse_sim(config: SimulatorConfig, callbacks: StubApi) -> Iterator[WarehouseSimulator]:
    simulator = WarehouseSimulator(0, config, f"{callbacks.url}/warehouses/main/inspections", SECRET).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def partner() -> Iterator[StubApi]:
    with StubApi(name="partner") as stub:
        stub.route("POST", "/labels", (201, {"tracking_number": "TN1", "label_url": None}))
        stub.route("POST", "/labels/cancel", (200, {"cancelled": True}))
        stub.route("POST", "/inspections", (202, {"accepted": True}))
        stub.route("POST", "/returns", (202, {"accepted": True}))
        yield stub


def a_return(**overrides: object) -> Return:
    fields: dict[str, object] = {
        "order_key": "kaffeekontor:4711",
        "number": 1,
        "store_id": "kaffeekontor",
        "platform": "woocommerce",
        "external_order_id": "4711",
        "source": ReturnSource.OPERATOR,
        "reason": "defective",
        "resolution": Resolution.REFUND,
        "lines": (ReturnLine(line_id="301", sku="MUG-CC-BLU", quantity=1, unit_price=money("14.50")),),
        "requested_at": datetime(2025, 6, 20, tzinfo=UTC),
        "rma": "RMA-kaffeekontor-4711-1",
    }
    return Return.model_validate(fields | overrides)


class TestCarrier:
    def test_a_label_is_bought_for_the_orders_address_and_parcels(self, carrier_sim: CarrierSimulator) -> None:
        order = make_order(lines=(make_line(quantity=2), make_line(line_id="302", sku="TORCH-CB-01", quantity=1)))

        label = HttpCarrier(carrier_sim.url, "simcarrier").create_label(order)

        [(key, bought)] = carrier_sim.labels.items()
        assert key == "label:kaffeekontor:4711"
        assert (label.carrier, label.tracking_number, label.label_url) == (
            "simcarrier",
            bought["tracking_number"],
            bought["label_url"],
        )
        [request] = carrier_sim.requests
        assert request["path"] == "/labels"
        assert request["body"] == {
            "reference": "kaffeekontor:4711",
            "ship_to": {"country": "DE", "postal_code": "10623", "city": "Berlin"},
            "parcels": 3,
        }

    def test_a_retried_purchase_gets_the_label_already_bought(self, carrier_sim: CarrierSimulator) -> None:
        carrier = HttpCarrier(carrier_sim.url + "/", "simcarrier")  # a trailing slash in the configured URL
        order = make_order()

        first, again = carrier.create_label(order), carrier.create_label(order)

        assert first == again
        assert len(carrier_sim.labels) == 1
        assert [r["headers"]["idempotency-key"] for r in carrier_sim.requests] == ["label:kaffeekontor:4711"] * 2

    def test_a_reopened_order_buys_its_own_label(self, carrier_sim: CarrierSimulator) -> None:
        carrier = HttpCarrier(carrier_sim.url, "simcarrier")
        order = make_order()

        first = carrier.create_label(order)
        second = carrier.create_label(order.model_copy(update={"attempt": 1}))

        assert first.tracking_number != second.tracking_number
        assert sorted(label["reference"] for label in carrier_sim.labels.values()) == [
            "kaffeekontor:4711",
            "kaffeekontor:4711:a1",
        ]

    def test_voiding_finds_the_label_by_order_and_voids_it_once(self, carrier_sim: CarrierSimulator) -> None:
        carrier = HttpCarrier(carrier_sim.url, "simcarrier")
        order = make_order()
        assert carrier.cancel_label(order) is False  # nothing bought yet: nothing to void
        label = carrier.create_label(order)

        assert carrier.cancel_label(order) is True
        assert carrier.cancel_label(order) is False  # already void

        assert carrier_sim.cancelled == {label.tracking_number}
        cancels = [r for r in carrier_sim.requests if r["path"] == "/labels/cancel"]
        assert [r["body"] for r in cancels] == [{"reference": "kaffeekontor:4711"}] * 3
        assert {r["headers"]["idempotency-key"] for r in cancels} == {"void:kaffeekontor:4711"}


class TestWarehouse:
    def test_an_inspection_request_names_the_order_its_attempt_and_units(
        self, warehouse_sim: WarehouseSimulator, callbacks: StubApi
    ) -> None:
        warehouse = HttpWarehouse(warehouse_sim.url)
        order = make_order(lines=(make_line(quantity=2), make_line(line_id="302", sku="TORCH-CB-01", quantity=1)))

        warehouse.request_inspection(order, attempt=1)
        warehouse.request_inspection(order, attempt=1)  # a retried step
        warehouse.request_inspection(order, attempt=2)  # a swapped unit, inspected again

        assert warehouse_sim.inspections == {
            f"inspection:kaffeekontor:4711:{attempt}": {
                "reference": "kaffeekontor:4711",
                "attempt": attempt,
                "lines": [{"sku": "MUG-CC-BLU", "quantity": 2}, {"sku": "TORCH-CB-01", "quantity": 1}],
            }
            for attempt in (1, 2)
        }

    def test_an_rma_is_announced_once_with_its_lines(self, warehouse_sim: WarehouseSimulator) -> None:
        warehouse = HttpWarehouse(warehouse_sim.url)
        ret = a_return()

        warehouse.expect_return(ret)
        warehouse.expect_return(ret)

        assert warehouse_sim.rmas == {
            "return:RMA-kaffeekontor-4711-1": {
                "reference": "kaffeekontor:4711:R1",
                "rma": "RMA-kaffeekontor-4711-1",
                "lines": [{"line_id": "301", "sku": "MUG-CC-BLU", "quantity": 1}],
            }
        }
        assert len(warehouse_sim.requests) == 2


class TestFailures:
    @pytest.mark.parametrize("status", [429, 500, 503])
    def test_throttling_and_server_errors_are_transient(self, partner: StubApi, status: int) -> None:
        partner.fail_next("POST", "/labels", Fault(status, retry_after="5"))

        with pytest.raises(TransientError, match=f"answered {status}"):
            HttpCarrier(partner.url, "simcarrier").create_label(make_order())

        assert len(partner.received("POST", "/labels")) == 1  # the adapter does not retry: the state machine does

    def test_another_client_error_is_not_transient(self, partner: StubApi) -> None:
        partner.fail_next("POST", "/inspections", Fault(400, body={"error": "unknown sku"}))

        with pytest.raises(urllib.error.HTTPError) as raised:
            HttpWarehouse(partner.url).request_inspection(make_order(), attempt=1)

        assert raised.value.code == 400
        assert not isinstance(raised.value, TransientError)

    def test_an_unreachable_partner_is_transient(self) -> None:
        [port] = free_ports(1)  # nothing listens there

        with pytest.raises(TransientError, match="unreachable"):
            HttpWarehouse(f"http://127.0.0.1:{port}").expect_return(a_return())

    def test_a_partner_slower_than_the_timeout_is_transient(self, partner: StubApi) -> None:
        partner.fail_next("POST", "/labels/cancel", Fault.slow(1.0))

        with pytest.raises(TransientError, match="unreachable"):
            HttpCarrier(partner.url, "simcarrier", timeout=0.2).cancel_label(make_order())

    def test_an_empty_answer_voids_nothing(self, partner: StubApi) -> None:
        partner.route("POST", "/labels/cancel", (200, None))

        assert HttpCarrier(partner.url, "simcarrier").cancel_label(make_order()) is False
