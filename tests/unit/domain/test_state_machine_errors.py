"""The state machines catch and retry errors by name: every name they match is a domain error class (or one of
the engine's own), so renaming a class without its ASL entry — or the reverse — fails here, not in production."""

from __future__ import annotations

from typing import Any

import pytest

from fulfillment import errors
from tests.asl import definition

# Names Step Functions and Lambda raise themselves (Step Functions developer guide, "Error handling";
# Sandbox.Timedout is a Lambda function that ran out of its Timeout).
ENGINE_PREFIXES = ("States.", "Lambda.", "Sandbox.")


def matched_names(states: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for state in states.values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names.update(rule["ErrorEquals"])
        for branch in state.get("Branches", []):
            names |= matched_names(branch["States"])
        if "ItemProcessor" in state:
            names |= matched_names(state["ItemProcessor"]["States"])
    return names


@pytest.mark.parametrize("machine", ["fulfillment", "returns"])
def test_every_error_the_state_machine_matches_is_a_domain_error(machine: str) -> None:
    names = matched_names(definition(machine)["States"])
    ours = {name for name in names if not name.startswith(ENGINE_PREFIXES)}
    assert ours, "the state machine matches none of our errors: the walk found no Retry/Catch"
    unknown = sorted(
        name
        for name in ours
        if not (isinstance(getattr(errors, name, None), type) and issubclass(getattr(errors, name), errors.DomainError))
    )
    assert unknown == [], f"{machine}.asl.json matches {unknown}, which fulfillment.errors does not define"
