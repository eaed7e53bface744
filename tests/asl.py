"""The state machines' definitions as tests read them, and the paths derived from them (never typed twice)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATEMACHINE = ROOT / "statemachine"


@cache
def definition(name: str = "fulfillment") -> dict[str, Any]:
    return json.loads((STATEMACHINE / f"{name}.asl.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def happy_path(name: str = "fulfillment") -> list[str]:
    """The states an execution enters when nothing goes wrong: from ``StartAt`` along each ``Next``, a Choice's
    ``Default`` (the branch taken when no rule matches: no review, nothing short), to the state that ends it."""
    asl = definition(name)
    states: dict[str, dict[str, Any]] = asl["States"]
    path, current = [], asl["StartAt"]
    while current is not None:
        assert current not in path, f"the happy path loops at {current!r}"
        path.append(current)
        state = states[current]
        current = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return path


@cache
def task_handlers(machine: str = "FulfillmentStateMachine") -> dict[str, Callable[..., Any]]:
    """Each ``${…FunctionArn}`` placeholder of a state machine's definition → the handler the template deploys
    for it (``functions/<name>/app.py``'s ``lambda_handler``), imported as the local runtime imports it: a step
    added to the template and the ASL is driven with no list here to edit."""
    from local.template import LocalTemplate

    template = LocalTemplate(ROOT)
    specs = template.functions()
    substitutions = template.resolve(template.resources[machine]["Properties"]["DefinitionSubstitutions"])
    handlers: dict[str, Callable[..., Any]] = {}
    for placeholder, arn in substitutions.items():
        spec = specs.get(str(arn).rsplit(":", 1)[-1])
        if spec is not None:
            module, attribute = spec.handler.rsplit(".", 1)
            package = spec.code_uri.strip("/").replace("/", ".")
            handlers["${" + placeholder + "}"] = getattr(importlib.import_module(f"{package}.{module}"), attribute)
    return handlers
