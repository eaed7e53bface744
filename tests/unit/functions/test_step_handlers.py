"""The workflow's Lambda handlers with injected fakes: keys in, keys out, domain errors not caught."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from fulfillment.errors import DomainError, OrderNotFound, OutOfStock, PaymentDeclined, UnpackableItem
from fulfillment.model import OrderStatus
from fulfillment.model.order import Failure
from local.lambdas import LambdaContext
from tests.fakes import FulfillmentWorld

S = OrderStatus
TOKEN = "tok-1"


def handler(name: str) -> Any:
    return importlib.import_module(f"functions.{name}.app").lambda_handler


def context(name: str) -> LambdaContext:
    return LambdaContext(
        name, 256, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", "req-1", time.monotonic() + 10
    )


def invoke(name: str, event: dict[str, Any], world: FulfillmentWorld) -> dict[str, Any]:
    output: dict[str, Any] = handler(name)(event, context(name), deps=world)
    json.dumps(output)  # what Step Functions receives must serialise
    return output


@pytest.fixture
def world() -> FulfillmentWorld:
    return FulfillmentWorld()


STEPS = [
    ("reserve_inventory", S.VALIDATED, S.RESERVED),
    ("package_order", S.INSPECTED, S.PACKAGED),
    ("ship_order", S.PACKAGED, S.SHIPPED),
    ("complete_payment", S.DELIVERED, S.PAYMENT_COMPLETED),
    ("complete_order", S.PAYMENT_COMPLETED, S.COMPLETED),
]


class TestStepHandlers:
    @pytest.mark.parametrize(("name", "start", "end"), STEPS, ids=[name for name, *_ in STEPS])
    def test_moves_the_order_one_step_and_answers_with_keys(
        self, world: FulfillmentWorld, name: str, start: OrderStatus, end: OrderStatus
    ) -> None:
        key = world.order_at(start)

        output = invoke(name, {"order_key": key, "ignored": "extra input"}, world)

        assert output == {"order_key": key, "status": str(end)}
        assert world.stored(key).status is end

    def test_validate_answers_whether_a_person_must_look(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.RECEIVED, platform_refs={"flagged": "fraud score 87"})

        output = invoke("validate_order", {"order_key": key}, world)

        assert output == {
            "order_key": key,
            "needs_review": True,
            "review_reasons": ["flagged by the store: fraud score 87"],
        }
        assert world.stored(key).status is S.VALIDATED

    def test_validate_an_ordinary_order(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.RECEIVED)

        output = invoke("validate_order", {"order_key": key}, world)

        assert output == {"order_key": key, "needs_review": False, "review_reasons": []}

    @pytest.mark.parametrize(
        ("name", "start", "prepare", "error"),
        [
            ("reserve_inventory", S.VALIDATED, lambda w, key: w.store_options(out_of_stock="cancel"), OutOfStock),
            ("package_order", S.INSPECTED, lambda w, key: w.packer.unpackable.add("MUG-CC-BLU"), UnpackableItem),
            ("complete_payment", S.DELIVERED, lambda w, key: w.payments.declining_orders.add(key), PaymentDeclined),
        ],
        ids=["OutOfStock", "UnpackableItem", "PaymentDeclined"],
    )
    def test_a_domain_error_reaches_step_functions_under_its_own_name(
        self,
        world: FulfillmentWorld,
        name: str,
        start: OrderStatus,
        prepare: Any,
        error: type[DomainError],
    ) -> None:
        overrides = {"platform_refs": {"payment_method": "authorized"}} if name == "complete_payment" else {}
        key = world.order_at(start, stock=1 if name == "reserve_inventory" else 10, **overrides)
        prepare(world, key)

        with pytest.raises(DomainError) as raised:
            invoke(name, {"order_key": key}, world)

        assert raised.type is error
        assert raised.type.__name__ == error.__name__  # the name the state machine's Catch matches
        assert world.stored(key).status is start

    def test_an_unknown_order_is_an_error_not_a_silent_success(self, world: FulfillmentWorld) -> None:
        with pytest.raises(OrderNotFound):
            invoke("validate_order", {"order_key": "kaffeekontor:0"}, world)

    def test_refuses_an_event_without_an_order_key(self, world: FulfillmentWorld) -> None:
        with pytest.raises(ValidationError):
            invoke("ship_order", {"orderKey": "kaffeekontor:4711"}, world)


class TestAwaitCallback:
    @pytest.mark.parametrize(
        ("start", "waiting_for"), [(S.VALIDATED, "approval"), (S.SHIPPED, "delivery"), (S.RESERVED, "operator")]
    )
    def test_parks_the_task_token_and_answers_with_the_key(
        self, world: FulfillmentWorld, start: OrderStatus, waiting_for: str
    ) -> None:
        key = world.order_at(start)

        output = invoke("await_callback", {"order_key": key, "task_token": TOKEN, "waiting_for": waiting_for}, world)

        assert output == {"order_key": key}
        order = world.stored(key)
        assert (order.wait.token, order.wait.kind) == (TOKEN, waiting_for)

    def test_an_inspection_wait_asks_the_warehouse(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.RESERVED)

        invoke("await_callback", {"order_key": key, "task_token": TOKEN, "waiting_for": "inspection"}, world)

        assert world.warehouse.requests == [(key, 1)]

    @pytest.mark.parametrize("event", [{"task_token": TOKEN, "waiting_for": "coffee"}, {"waiting_for": "approval"}])
    def test_refuses_a_wait_it_does_not_know(self, world: FulfillmentWorld, event: dict[str, str]) -> None:
        key = world.order_at(S.VALIDATED)

        with pytest.raises(ValidationError):
            invoke("await_callback", {"order_key": key, **event}, world)

        assert world.stored(key).wait.token is None


class TestRaiseAlert:
    def test_notes_the_alert_and_answers_with_the_key(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.VALIDATED)

        output = invoke("raise_alert", {"order_key": key, "alert": "approval_overdue"}, world)

        assert output == {"order_key": key, "status": "VALIDATED"}
        assert world.last_event(key).detail == {"alert": "approval_overdue"}


class TestCompensate:
    def test_records_a_failure_with_the_lambdas_message(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.RESERVED)
        event = {
            "order_key": key,
            "outcome": "failed",
            "error": {
                "Error": "InspectionFailed",
                "Cause": '{"errorMessage": "scratched", "errorType": "InspectionFailed"}',
            },
        }

        output = invoke("compensate", event, world)

        assert output == {"order_key": key, "status": "FAILED"}
        order = world.stored(key)
        assert order.failure == Failure(error="InspectionFailed", cause="scratched")
        assert world.level().reserved == 0

    def test_cancels_when_asked_to(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.VALIDATED)
        event = {"order_key": key, "outcome": "cancelled", "error": {"Error": "ApprovalRejected", "Cause": "fraud"}}

        output = invoke("compensate", event, world)

        assert output == {"order_key": key, "status": "CANCELLED"}
        assert world.last_event(key).reason == "cancelled: fraud"

    def test_an_error_without_a_cause_is_recorded_by_its_name(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.VALIDATED)
        event = {"order_key": key, "outcome": "failed", "error": {"Error": "ApprovalRejected", "Cause": None}}

        invoke("compensate", event, world)

        assert world.stored(key).failure == Failure(error="ApprovalRejected", cause="ApprovalRejected")

    def test_an_event_without_an_error_is_an_unknown_failure(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.VALIDATED)

        invoke("compensate", {"order_key": key, "outcome": "failed"}, world)

        failure = world.stored(key).failure
        assert failure is not None and failure.error == "Unknown"

    def test_refuses_an_outcome_it_does_not_know(self, world: FulfillmentWorld) -> None:
        key = world.order_at(S.VALIDATED)

        with pytest.raises(ValidationError):
            invoke("compensate", {"order_key": key, "outcome": "shrugged"}, world)

        assert world.stored(key).status is S.VALIDATED
