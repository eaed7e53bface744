"""Durations a task returns for the state machine to wait on are scaled locally like the definition's own."""

from __future__ import annotations

from pathlib import Path

from local.lambdas import _scale
from local.template import LocalTemplate, duration_outputs, scale_durations

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


def test_a_scaled_timeout_never_goes_below_the_floor() -> None:
    assert _scale(86_400, 1 / 3600, 60) == 60  # a day would be 24 s: shorter than a callback can take under load
    assert _scale(14 * 86_400, 1 / 3600, 60) == 336
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Task", "TimeoutSeconds": 86_400, "HeartbeatSeconds": 3_600, "End": True},
            "Pause": {"Type": "Wait", "Seconds": 3_600, "End": True},
        },
    }
    scaled = scale_durations(definition, wait_scale=1 / 3600, timeout_scale=1 / 3600, min_timeout=60)["States"]
    assert scaled["Wait"]["TimeoutSeconds"] == 60
    assert scaled["Wait"]["HeartbeatSeconds"] == 59  # under the floor too, but always below its timeout
    assert scaled["Pause"]["Seconds"] == 1  # waits are not timeouts: no floor
