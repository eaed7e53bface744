"""The state machines' definitions as tests read them, and the paths derived from them (never typed twice)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

STATEMACHINE = Path(__file__).resolve().parent.parent / "statemachine"


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
