"""The console's state-machine drawing: a layered layout computed from the ASL, rendered as SVG."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from html import escape
from itertools import combinations, pairwise
from typing import Any

import pytest

from local.console.layout import Box, Layout, layout, state_edges
from local.console.pages import _related, _related_values, order_url
from local.console.reads import _belongs_to, _history_rows
from local.console.svg import Highlight, render_svg
from local.diagram import ASL
from tests.asl import happy_path
from tests.fakes import make_order

HAPPY_PATH = happy_path()  # walked from the ASL's StartAt


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def drawn(definition: dict[str, Any]) -> Layout:
    return layout(definition)


def _overlap(a: Box, b: Box) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def _inside(point: tuple[float, float], layout_: Layout) -> bool:
    x, y = point
    return 0 <= x <= layout_.width and 0 <= y <= layout_.height


# A loop (Choice back to a Task), an unreachable state and a Parallel state drawn as a plain box.
LOOPING = {
    "StartAt": "Poll",
    "States": {
        "Poll": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Ready?"},
        "Ready?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ready", "BooleanEquals": True, "Next": "Fan out"}],
            "Default": "Poll",
        },
        "Fan out": {
            "Type": "Parallel",
            "Branches": [],
            "Next": "Done",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
        },
        "Done": {"Type": "Succeed"},
        "Oops": {"Type": "Fail"},
        "Orphan": {"Type": "Pass", "End": True},
    },
}


class TestLayout:
    def test_every_state_gets_exactly_one_box(self, definition: dict[str, Any], drawn: Layout) -> None:
        assert set(drawn.boxes) == set(definition["States"])

    def test_no_two_boxes_overlap(self, drawn: Layout) -> None:
        overlapping = [(a.name, b.name) for a, b in combinations(drawn.boxes.values(), 2) if _overlap(a, b)]
        assert overlapping == []

    def test_everything_fits_the_canvas_and_a_1200px_page(self, drawn: Layout) -> None:
        assert drawn.width <= 1200
        for box in drawn.boxes.values():
            assert _inside((box.x, box.y), drawn) and _inside((box.x + box.width, box.bottom), drawn)
        for route in drawn.routes:
            assert all(_inside(point, drawn) for point in route.points), route.edge

    def test_the_same_definition_gives_the_same_layout(self, definition: dict[str, Any], drawn: Layout) -> None:
        again = layout(copy.deepcopy(definition))
        assert again == drawn
        assert render_svg(again) == render_svg(drawn)

    def test_every_transition_is_routed_from_its_source_to_the_top_of_its_target(
        self, definition: dict[str, Any], drawn: Layout
    ) -> None:
        routed = {(route.edge.source, route.edge.target, route.edge.kind) for route in drawn.routes}
        assert routed == {(edge.source, edge.target, edge.kind) for edge in state_edges(definition)}
        for route in drawn.routes:
            source, target = drawn.boxes[route.edge.source], drawn.boxes[route.edge.target]
            (start_x, start_y), (end_x, end_y) = route.points[0], route.points[-1]
            assert start_y == source.bottom and source.x <= start_x <= source.x + source.width
            assert end_y == target.y and target.x <= end_x <= target.x + target.width

    def test_the_happy_path_runs_downwards(self, drawn: Layout) -> None:
        layers = [drawn.boxes[name].layer for name in HAPPY_PATH]
        assert layers == sorted(layers) and len(set(layers)) == len(layers)
        assert drawn.boxes["Validate order"].layer == 0

    def test_only_edges_closing_a_cycle_go_up(self, drawn: Layout) -> None:
        upward = {(r.edge.source, r.edge.target) for r in drawn.routes if r.lane == "back-lane"}
        assert upward == {("Package order", "Wait for an operator: inspection")}

    def test_loops_unreachable_states_and_parallel_states_are_laid_out(self) -> None:
        drawn = layout(LOOPING)
        assert set(drawn.boxes) == set(LOOPING["States"])  # type: ignore[call-overload]
        assert not [(a, b) for a, b in combinations(drawn.boxes.values(), 2) if _overlap(a, b)]
        assert {(r.edge.source, r.edge.target) for r in drawn.routes if r.lane == "back-lane"} == {("Ready?", "Poll")}
        assert drawn.boxes["Fan out"].state_type == "Parallel"


class TestSvg:
    def test_every_state_is_named_and_the_path_highlighted(self, definition: dict[str, Any], drawn: Layout) -> None:
        svg = render_svg(drawn, Highlight.of(HAPPY_PATH, "SUCCEEDED"))
        for name in definition["States"]:
            assert f">{escape(name)}</text>" in svg
        visited = re.findall(r'<g class="state [^"]*\bvisited\b[^"]*" data-state="([^"]+)"', svg)
        assert set(visited) == {escape(name) for name in HAPPY_PATH}
        assert re.findall(r'class="state [^"]*\bcurrent succeeded" data-state="([^"]+)"', svg) == ["Complete order"]
        taken = re.findall(r'class="edge [^"]*taken" [^>]*data-source="([^"]+)" data-target="([^"]+)"', svg)
        assert sorted(taken) == sorted((escape(a), escape(b)) for a, b in pairwise(HAPPY_PATH))

    def test_a_running_execution_marks_where_it_waits(self, drawn: Layout) -> None:
        svg = render_svg(drawn, Highlight.of(HAPPY_PATH[:7], "RUNNING"))
        assert 'class="state task visited current running" data-state="Wait for delivery confirmation"' in svg
        assert 'data-state="Complete order"' in svg and "current succeeded" not in svg

    def test_catch_edges_are_dashed_by_class_and_ids_are_unique_per_drawing(self, drawn: Layout) -> None:
        svg = render_svg(drawn, svg_id="sm7")
        assert 'class="edge catch' in svg and 'id="sm7-arrow"' in svg and 'marker-end="url(#sm7-arrow)"' in svg


class TestHistory:
    def test_task_events_are_listed_under_the_state_they_run_in(self) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)

        def event(number: int, kind: str, **details: Any) -> dict[str, Any]:
            return {"id": number, "type": kind, "timestamp": start + timedelta(milliseconds=250 * number), **details}

        rows = _history_rows(
            [
                event(0, "ExecutionStarted"),
                event(1, "TaskStateEntered", stateEnteredEventDetails={"name": "Validate order"}),
                event(2, "TaskScheduled"),
                event(3, "TaskStateExited", stateExitedEventDetails={"name": "Validate order"}),
                event(4, "ExecutionSucceeded"),
            ]
        )
        assert [(row.event_id, row.state, row.elapsed_ms) for row in rows] == [
            (0, "", 0),
            (1, "Validate order", 250),
            (2, "Validate order", 500),
            (3, "Validate order", 750),
            (4, "", 1000),
        ]

    @pytest.mark.parametrize(
        ("name", "belongs"),
        [
            ("kaffeekontor_9", True),
            ("kaffeekontor_9-rerun2", True),
            ("kaffeekontor_9-return1", True),
            ("kaffeekontor_90", False),
            ("kaffeekontor_8", False),
        ],
    )
    def test_executions_named_after_the_order_belong_to_it(self, name: str, belongs: bool) -> None:
        assert _belongs_to(name, "kaffeekontor_9") is belongs


class TestRelated:
    def test_the_order_a_replacement_replaces_is_linked(self) -> None:
        html = _related(make_order(platform_refs={"replaces": "kaffeekontor:4700", "address_id": "7"}))
        assert f'href="{order_url("kaffeekontor:4700")}"' in html and "address_id" not in html

    def test_lists_of_keys_or_records_are_linked_and_other_values_shown(self) -> None:
        html = _related_values(["kaffeekontor:1", {"return_key": "kaffeekontor:2", "status": "OPEN"}, {"x": 1}])
        assert order_url("kaffeekontor:1") in html and order_url("kaffeekontor:2") in html
        assert "(OPEN)" in html and "&quot;x&quot;: 1" in html

    def test_an_order_without_relations_has_no_related_section(self) -> None:
        assert _related(make_order()) == ""
