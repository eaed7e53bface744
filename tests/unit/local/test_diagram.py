"""README's state-machine diagram is generated from the ASL and kept in step with it."""

from __future__ import annotations

import json

from local.diagram import ASL, README, _node_id, mermaid, refreshed_readme


def test_readme_diagram_matches_the_asl() -> None:
    text = README.read_text(encoding="utf-8")
    assert refreshed_readme(text) == text, "README's diagram is stale: run `python -m local.diagram --write`"


def test_every_state_and_transition_is_drawn() -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    drawn = mermaid(definition)
    for name, state in definition["States"].items():
        assert f'"{name}' in drawn
        if "Next" in state:
            assert _node_id(state["Next"]) in drawn
