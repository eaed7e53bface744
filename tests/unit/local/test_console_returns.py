"""The console's returns and replacements: which executions belong to which order, and how a return is shown."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import escape
from itertools import combinations
from typing import Any

import pytest

from fulfillment.model import OrderStatus
from fulfillment.model.money import Money
from fulfillment.model.order import ReturnLedger
from fulfillment.model.returns import (
    Resolution,
    Return,
    ReturnEvent,
    ReturnLine,
    ReturnSource,
    ReturnStatus,
    return_execution_name,
)
from local.console.layout import layout, state_edges
from local.console.pages import order_page, order_url, orders_page
from local.console.reads import (
    ExecutionView,
    HistoryRow,
    OrderDetails,
    OrderRow,
    ReplacementView,
    ReturnView,
    _replacement_keys,
    split_executions,
)
from local.diagram import ASL
from tests.fakes import make_order

RETURN_ASL = ASL.parent / "returns.asl.json"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RETURN_PATH = ["Authorize the return", "Authorized?", "Wait for the goods to arrive", "Return closed"]


@pytest.fixture(scope="module")
def return_definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RETURN_ASL.read_text(encoding="utf-8"))
    return loaded


def execution(name: str, machine: str = "FulfillmentStateMachine", **fields: Any) -> ExecutionView:
    path: list[str] = fields.pop("path", [])
    history = [
        HistoryRow(number, "TaskStateEntered", state, START + timedelta(seconds=number), number * 1000)
        for number, state in enumerate(path, start=1)
    ]
    values: dict[str, Any] = {
        "name": name,
        "arn": f"arn:aws:states:eu-central-1:123456789012:execution:{machine}:{name}",
        "status": "SUCCEEDED",
        "state_machine": machine,
        "definition": {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}},
        "started": START,
        "stopped": START + timedelta(minutes=1),
        "history": history,
    }
    return ExecutionView(**(values | fields))


def a_return(**overrides: Any) -> Return:
    fields: dict[str, Any] = {
        "order_key": "kaffeekontor:4711",
        "number": 1,
        "store_id": "kaffeekontor",
        "platform": "woocommerce",
        "external_order_id": "4711",
        "source": ReturnSource.OPERATOR,
        "reason": "defective",
        "resolution": Resolution.REPLACEMENT,
        "lines": (
            ReturnLine(
                line_id="303",
                sku="TORCH-CB-01",
                quantity=1,
                unit_price=Money.parse("42.00", "EUR"),
                result="passed",
                disposition="write_off",
            ),
        ),
        "requested_by": "cs-anna",
        "requested_at": START,
        "status": ReturnStatus.CLOSED,
        "rma": "RMA-kaffeekontor-4711-1",
        "replacement_order_key": "kaffeekontor:4711-R1",
    }
    return Return(**(fields | overrides))


def return_events() -> list[ReturnEvent]:
    reasons = ["return requested by cs-anna", "RMA issued", "goods received", "replacement ordered", "closed"]
    statuses = [ReturnStatus.REQUESTED, ReturnStatus.AUTHORIZED, ReturnStatus.RECEIVED, ReturnStatus.REPLACED]
    statuses.append(ReturnStatus.CLOSED)
    return [
        ReturnEvent(seq=seq, at=START + timedelta(minutes=seq), status=status, reason=reason)
        for seq, (status, reason) in enumerate(zip(statuses, reasons, strict=True), start=1)
    ]


class TestWhichOrderAnExecutionBelongsTo:
    def test_a_replacement_s_runs_are_split_off_and_the_longest_owner_wins(self) -> None:
        found = [
            execution("kaffeekontor_4711"),
            execution("kaffeekontor_4711-rerun1"),
            execution("kaffeekontor_4711-return1", "ReturnStateMachine"),
            execution("kaffeekontor_4711-R1"),
            execution("kaffeekontor_4711-R1-return1", "ReturnStateMachine"),
            execution("kaffeekontor_4711-R1-R1"),
        ]
        owners = {"kaffeekontor_4711-R1": "kaffeekontor:4711-R1", "kaffeekontor_4711-R1-R1": "kaffeekontor:4711-R1-R1"}
        own, others = split_executions(found, owners)
        assert [run.name for run in own] == [
            "kaffeekontor_4711",
            "kaffeekontor_4711-rerun1",
            "kaffeekontor_4711-return1",
        ]
        assert {key: [run.name for run in runs] for key, runs in others.items()} == {
            "kaffeekontor:4711-R1": ["kaffeekontor_4711-R1", "kaffeekontor_4711-R1-return1"],
            "kaffeekontor:4711-R1-R1": ["kaffeekontor_4711-R1-R1"],
        }

    def test_replacements_come_from_the_order_its_returns_and_executions_named_like_one(self) -> None:
        order = make_order(returns=ReturnLedger(replacements=["kaffeekontor:4711-R1"]))
        returns = [a_return(), a_return(number=2, replacement_order_key="kaffeekontor:4711-R2")]
        names = ["kaffeekontor_4711", "kaffeekontor_4711-R3", "kaffeekontor_4711-R3-return1", "kaffeekontor_4711-Rx"]
        assert _replacement_keys(order, returns, names) == [
            "kaffeekontor:4711-R1",
            "kaffeekontor:4711-R2",
            "kaffeekontor:4711-R3",
        ]


class TestTheReturnStateMachineDrawing:
    def test_it_is_laid_out_without_overlaps_within_a_page_and_every_transition_routed(
        self, return_definition: dict[str, Any]
    ) -> None:
        drawn = layout(return_definition)
        assert set(drawn.boxes) == set(return_definition["States"])
        boxes = list(drawn.boxes.values())
        assert not [
            (a.name, b.name)
            for a, b in combinations(boxes, 2)
            if a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height
        ]
        assert drawn.width <= 1200
        routed = {(route.edge.source, route.edge.target, route.edge.kind) for route in drawn.routes}
        assert routed == {(edge.source, edge.target, edge.kind) for edge in state_edges(return_definition)}


class TestTheOrderPage:
    def original(self, return_definition: dict[str, Any]) -> str:
        order = make_order(
            status=OrderStatus.PARTIALLY_RETURNED,
            returns=ReturnLedger(replacements=["kaffeekontor:4711-R1"], claims={"303": 1}, returned={"303": 1}),
        )
        ret = a_return()
        run = execution(ret.execution_name(), "ReturnStateMachine", definition=return_definition, path=RETURN_PATH)
        replacement = make_order(external_id="4711-R1", status=OrderStatus.COMPLETED)
        details = OrderDetails(
            order=order,
            timeline=[],
            executions=[execution("kaffeekontor_4711"), run],
            returns=[ReturnView(ret, return_events(), run)],
            replacements=[ReplacementView(replacement.key, replacement, [execution("kaffeekontor_4711-R1")])],
        )
        return order_page(details)

    def test_each_return_is_a_card_with_its_facts_lines_and_own_timeline(
        self, return_definition: dict[str, Any]
    ) -> None:
        html = self.original(return_definition)
        assert "<h2>Returns (1)</h2>" in html
        card = html[html.index('data-return="kaffeekontor:4711:R1"') : html.index("</section>")]
        assert '<span class="badge CLOSED">CLOSED</span>' in card
        for shown in ("RMA-kaffeekontor-4711-1", "defective", "replacement", "kaffeekontor:4711:R1"):
            assert f"<dd>{shown}</dd>" in card
        assert '<tr class="return-line"><td>303</td><td>TORCH-CB-01</td><td class="num">1</td>' in card
        assert "<td>passed</td>" in card and "<td>write_off</td>" in card
        assert [f"<td>{escape(event.reason)}</td>" in card for event in return_events()] == [True] * 5
        assert f'class="replacement-order" href="{order_url("kaffeekontor:4711-R1")}"' in card
        name = return_execution_name("kaffeekontor", "4711", 1)
        assert f'href="#execution-{name}"' in card and f'id="execution-{name}"' in html

    def test_the_return_run_is_drawn_from_its_own_definition_and_linked_back(
        self, return_definition: dict[str, Any]
    ) -> None:
        html = self.original(return_definition)
        name = return_execution_name("kaffeekontor", "4711", 1)
        drawn = html[html.index(f'id="execution-{name}"') :]
        drawn = drawn[: drawn.index("</section>")]
        assert all(f'data-state="{escape(state)}"' in drawn for state in return_definition["States"])
        visited = re.findall(r'<g class="state [^"]*\bvisited\b[^"]*" data-state="([^"]+)"', drawn)
        assert set(visited) == set(RETURN_PATH) and 'href="#return-R1"' in drawn

    def test_replacement_runs_are_listed_under_the_replacement_and_link_to_its_page(
        self, return_definition: dict[str, Any]
    ) -> None:
        html = self.original(return_definition)
        listed = html[html.index("<h2>Replacement orders (1)</h2>") :]
        target = order_url("kaffeekontor:4711-R1")
        assert f'<a class="replacement-order" href="{target}">kaffeekontor:4711-R1</a>' in listed
        assert f'href="{target}#execution-kaffeekontor_4711-R1">kaffeekontor_4711-R1</a>' in listed
        assert 'data-execution="kaffeekontor_4711-R1"' not in html

    def test_a_replacement_says_what_it_replaces(self) -> None:
        original = make_order(status=OrderStatus.PARTIALLY_RETURNED)
        replacement = make_order(
            external_id="4711-R1", platform_refs={"replaces": original.key, "return": "kaffeekontor:4711:R1"}
        )
        html = order_page(OrderDetails(replacement, [], [execution("kaffeekontor_4711-R1")], replaces=original))
        assert f'Replaces <a class="replaces-link" href="{order_url(original.key)}">{original.key}</a>' in html
        assert '<span class="badge PARTIALLY_RETURNED">' in html and "<h2>Returns" not in html


class TestTheOrderList:
    def test_every_status_is_a_filter_and_returns_and_replacements_are_marked(self) -> None:
        original = make_order(returns=ReturnLedger(replacements=["kaffeekontor:4711-R1"]), status=OrderStatus.RETURNED)
        replacement = make_order(external_id="4711-R1", platform_refs={"replaces": original.key})
        plain = make_order(external_id="4712")
        html = orders_page([OrderRow(original, START, 2), OrderRow(replacement, START), OrderRow(plain, START)], None)
        for status in OrderStatus:
            assert f'href="/_console?status={status.value}"' in html
        rows = dict(re.findall(r'<tr class="order" data-key="([^"]+)">(.*?)</tr>', html))
        assert "↩ 2 returns" in rows[original.key] and "⇄ 1 replacement<" in rows[original.key]
        assert f"replaces {original.key}<" in rows[replacement.key]
        assert 'class="marker' not in rows[plain.key]
