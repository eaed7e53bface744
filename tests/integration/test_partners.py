"""The warehouse HTTP adapter over real HTTP on 127.0.0.1 (the carrier, EasyPost: ``test_easypost.py``).

Against the local simulator (``local/simulators.py``): what each request carries, and that its
``Idempotency-Key`` makes a retried step inspect or announce nothing twice. Against a scriptable stub
(``local/stub_api.py``): which failures are transient (429, 5xx, unreachable, too slow) and which are not.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fulfillment.adapters.partners import HttpWarehouse
from fulfillment.errors import TransientError
from fulfillment.model.returns import Resolution, Return, ReturnLine, ReturnSource
from local.runtime import free_ports
from local.simulators import SimulatorConfig, WarehouseSimulator
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
def warehouse_sim(config: SimulatorConfig, callbacks: StubApi) -> Iterator[WarehouseSimulator]:
    simulator = WarehouseSimulator(0, config, f"{callbacks.url}/warehouses/main/inspections", SECRET).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def partner() -> Iterator[StubApi]:
    with StubApi(name="partner") as stub:
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
        partner.fail_next("POST", "/inspections", Fault(status, retry_after="5"))

        with pytest.raises(TransientError, match=f"answered {status}"):
            HttpWarehouse(partner.url).request_inspection(make_order(), attempt=1)

        assert len(partner.received("POST", "/inspections")) == 1  # the adapter does not retry: the state machine does

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
        partner.fail_next("POST", "/returns", Fault.slow(1.0))

        with pytest.raises(TransientError, match="unreachable"):
            HttpWarehouse(partner.url, timeout=0.2).expect_return(a_return())
