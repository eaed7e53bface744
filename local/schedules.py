"""EventBridge schedules (``Schedule`` events of the template's functions), emulated: a thread per schedule.

``rate(...)`` is scaled like the state machine's waits (an hour becomes a second), never below
``MIN_PERIOD_SECONDS`` so a sweep does not spin; the event is the schedule's ``Input`` as on AWS, with its
``*_seconds`` values scaled likewise (never below ``MIN_INPUT_SECONDS``, so the start sweep's grace period
stays longer than a local start takes). ``cron(...)`` schedules are not run locally.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from local.background import BackgroundLoop
from local.lambdas import LocalFunction

MIN_PERIOD_SECONDS = 5.0
MIN_INPUT_SECONDS = 30.0
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class ScheduleSpec:
    function: str
    period_seconds: float  # as deployed
    event: dict[str, Any]


def schedules(resources: dict[str, dict[str, Any]]) -> list[ScheduleSpec]:
    """Every ``rate(...)`` Schedule event in the template's functions."""
    found = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Schedule":
                continue
            rate = re.fullmatch(r"rate\((\d+) (\w+)\)", event["Properties"]["Schedule"])
            if rate is None:
                continue
            period = int(rate.group(1)) * _UNITS[rate.group(2)]
            found.append(ScheduleSpec(name, period, json.loads(event["Properties"].get("Input", "{}"))))
    return found


def scaled_event(event: dict[str, Any], scale: float) -> dict[str, Any]:
    return {
        key: max(MIN_INPUT_SECONDS, value * scale)
        if key.endswith("_seconds") and isinstance(value, int | float)
        else value
        for key, value in event.items()
    }


class Scheduler(BackgroundLoop):
    def __init__(self, spec: ScheduleSpec, function: LocalFunction, scale: float) -> None:
        super().__init__(f"schedule-{spec.function}")
        self.period = max(MIN_PERIOD_SECONDS, spec.period_seconds * scale)
        self.event = scaled_event(spec.event, scale)
        self._function = function
        self.runs = 0

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.run_once()

    def run_once(self) -> Any:
        self.runs += 1
        return self._function.invoke(dict(self.event))


def start_schedules(
    resources: dict[str, dict[str, Any]], functions: dict[str, LocalFunction], scale: float
) -> list[Scheduler]:
    return [Scheduler(spec, functions[spec.function], scale).start() for spec in schedules(resources)]
