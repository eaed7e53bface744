"""The workflow's Lambda handlers with injected fakes: keys in, keys out, domain errors not caught."""

from __future__ import annotations

import importlib
import time
from typing import Any

import pytest

from fulfillment.bootstrap import Container
from fulfillment.errors import InspectionFailed, OrderNotFound
from fulfillment.model import OrderStatus
from fulfillment.settings import Settings
from local.lambdas import LambdaContext
from tests.fakes import (
    FakeCarrier,
    FakeWarehouse,
    InMemoryOrderRepository,
    RecordingNotifier,
    RecordingWorkflow,
    store_new_order,
)


def handler(name: str) -> Any:
    return importlib.import_module(f"functions.{name}.app").lambda_handler


def context(name: str) -> LambdaContext:
    return LambdaContext(
        name, 256, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", "req-1", time.monotonic() + 10
    )


@pytest.fixture
def deps() -> Container:
    container = Container(Settings(table_name="unused"))
    container.orders = InMemoryOrderRepository()
    container.workflow = RecordingWorkflow()
    container.carrier = FakeCarrier()
    container.warehouse = FakeWarehouse()
    container.notifier = RecordingNotifier()
    return container


STEPS = [
    ("validate_order", OrderStatus.RECEIVED, OrderStatus.VALIDATED),
    ("reserve_inventory", OrderStatus.VALIDATED, OrderStatus.RESERVED),
    ("inspect_quality", OrderStatus.RESERVED, OrderStatus.INSPECTED),
    ("package_order", OrderStatus.INSPECTED, OrderStatus.PACKAGED),
    ("ship_order", OrderStatus.PACKAGED, OrderStatus.SHIPPED),
    ("complete_payment", OrderStatus.DELIVERED, OrderStatus.PAYMENT_COMPLETED),
    ("complete_order", OrderStatus.PAYMENT_COMPLETED, OrderStatus.COMPLETED),
]


def order_at(deps: Container, status: OrderStatus) -> str:
    order = store_new_order(deps.orders)
    path = [
        OrderStatus.VALIDATED,
        OrderStatus.RESERVED,
        OrderStatus.INSPECTED,
        OrderStatus.PACKAGED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PAYMENT_COMPLETED,
    ]
    loaded = deps.orders.get(order.key)
    assert loaded is not None
    for step in path[: path.index(status) + 1] if status in path else []:
        if step is OrderStatus.SHIPPED:
            loaded.carrier, loaded.tracking_number = "fake", "T1"
        loaded.transition_to(step, "test setup")
    deps.orders.save(loaded)
    return order.key


class TestStepHandlers:
    @pytest.mark.parametrize(("name", "start", "end"), STEPS)
    def test_moves_the_order_one_step_and_answers_with_keys(
        self, deps: Container, name: str, start: OrderStatus, end: OrderStatus
    ) -> None:
        key = order_at(deps, start)

        output = handler(name)({"order_key": key, "ignored": "extra input"}, context(name), deps=deps)

        assert output == {"order_key": key, "status": str(end)}
        order = deps.orders.get(key)
        assert order is not None and order.status is end

    def test_a_domain_error_reaches_step_functions_under_its_own_name(self, deps: Container) -> None:
        deps.warehouse = FakeWarehouse(passed=False)
        key = order_at(deps, OrderStatus.RESERVED)

        with pytest.raises(InspectionFailed):
            handler("inspect_quality")({"order_key": key}, context("inspect_quality"), deps=deps)

    def test_an_unknown_order_is_an_error_not_a_silent_success(self, deps: Container) -> None:
        with pytest.raises(OrderNotFound):
            handler("validate_order")({"order_key": "kaffeekontor:0"}, context("validate_order"), deps=deps)

    def test_await_delivery_parks_the_task_token(self, deps: Container) -> None:
        key = order_at(deps, OrderStatus.SHIPPED)

        output = handler("await_delivery")({"order_key": key, "task_token": "tok-1"}, context("await"), deps=deps)

        assert output == {"order_key": key}
        order = deps.orders.get(key)
        assert order is not None and order.delivery_task_token == "tok-1"

    def test_record_failure_writes_the_reason(self, deps: Container) -> None:
        key = order_at(deps, OrderStatus.RESERVED)
        event = {
            "order_key": key,
            "error": {
                "Error": "InspectionFailed",
                "Cause": '{"errorMessage": "scratched", "errorType": "InspectionFailed"}',
            },
        }

        output = handler("record_failure")(event, context("record_failure"), deps=deps)

        assert output["status"] == "FAILED"
        order = deps.orders.get(key)
        assert order is not None and order.failure == {"error": "InspectionFailed", "cause": "scratched"}
