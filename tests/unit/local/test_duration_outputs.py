"""Durations a task returns for the state machine to wait on are scaled locally like the definition's own."""

from __future__ import annotations

from pathlib import Path

from local.lambdas import _scale
from local.template import LocalTemplate, duration_outputs

ROOT = Path(__file__).resolve().parents[3]


def test_the_return_window_the_authorization_returns_is_found_in_the_returns_definition() -> None:
    machines = {machine.logical_id: machine for machine in LocalTemplate(ROOT).state_machines()}
    assert duration_outputs(machines["ReturnStateMachine"].definition) == {
        "AuthorizeReturnFunction": {"receipt_timeout_seconds": "timeout"}
    }
    assert duration_outputs(machines["FulfillmentStateMachine"].definition) == {}


def test_a_wait_on_a_selected_field_and_a_plain_payload_field_are_both_followed() -> None:
    definition = {
        "States": {
            "Plan": {
                "Type": "Task",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:1:function:PlanFunction"},
                "ResultPath": "$.plan",
                "ResultSelector": {"pause.$": "$.Payload.pause_seconds"},
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.plan.pause"},
            "Hold": {"Type": "Task", "TimeoutSecondsPath": "$.plan.deadline", "HeartbeatSecondsPath": "$.other.x"},
        }
    }
    assert duration_outputs(definition) == {"PlanFunction": {"pause_seconds": "wait", "deadline": "timeout"}}


def test_scaling_keeps_at_least_a_second_and_leaves_non_numbers_alone() -> None:
    assert _scale(14 * 86_400, 1 / 3600) == 336
    assert _scale(10, 1 / 3600) == 1
    assert _scale("14", 1 / 3600) == "14"
    assert _scale(True, 1 / 3600) is True
