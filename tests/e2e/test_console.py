"""The local console at /_console: orders, one order's timeline and executions, read-only, in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.adapters.dynamodb_returns import DynamoReturnRepository
from fulfillment.model import OrderStatus
from local.client import WOO_SAMPLES, send_woocommerce
from local.console import serve_console
from local.console.pages import order_url
from local.diagram import ASL
from local.runtime import LocalRuntime
from tests.e2e.conftest import new_order_body
from tests.e2e.test_workflow_scenarios import cli

# One worker runs the module: its orders (a fulfilled one, one returned and replaced) are built once.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("console")]
SECRET = "test-secret"
READ_OPERATIONS = re.compile(r"^(Get|Query|Scan|List|Describe|BatchGet)")
VISITED_FILL = (0xD9, 0xF2, 0xE0)  # svg.state-machine .state.visited rect
RETURN_MACHINE = "ReturnStateMachine"
RETURN_ASL = ASL.parent / "returns.asl.json"


@dataclass(frozen=True)
class Fulfilled:
    key: str
    execution: dict[str, Any]
    path: list[str]
    history: list[dict[str, Any]]


@pytest.fixture(scope="module")
def fulfilled(runtime: LocalRuntime) -> Fulfilled:
    body, key = new_order_body((WOO_SAMPLES / "order_updated_paid.json").read_bytes())
    answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, SECRET)
    assert answer.status == 202, answer.body
    execution = runtime.wait_for_execution(answer.body["execution_name"], timeout=60)
    assert execution["status"] == "SUCCEEDED"
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    path = [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]
    return Fulfilled(key, execution, path, history)


def entered_states(runtime: LocalRuntime, execution: dict[str, Any]) -> list[str]:
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


@dataclass(frozen=True)
class Replaced:
    """An order that went through a return resolved by a replacement, and that replacement order."""

    key: str
    execution: dict[str, Any]
    path: list[str]
    return_key: str
    return_execution: dict[str, Any]
    return_path: list[str]
    replacement_key: str
    replacement_execution: dict[str, Any]
    replacement_path: list[str]


@pytest.fixture(scope="module")
def replaced(runtime: LocalRuntime) -> Replaced:
    body, key = new_order_body((WOO_SAMPLES / "order_updated_paid.json").read_bytes())
    answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, SECRET)
    assert answer.status == 202, answer.body
    execution = runtime.wait_for_execution(answer.body["execution_name"], timeout=60)
    assert execution["status"] == "SUCCEEDED"

    args = ["returns", "start", key, "--line", "303:1", "--reason", "defective", "--resolution", "replacement"]
    done = cli(runtime, *args, "--by", "cs-console")
    assert done.returncode == 0, done.stderr + done.stdout
    started = json.loads(done.stdout)
    return_run = runtime.wait_for_execution(started["execution"], timeout=120, state_machine=RETURN_MACHINE)
    assert return_run["status"] == "SUCCEEDED"
    ret = DynamoReturnRepository(os.environ["TABLE_NAME"], runtime.client("dynamodb")).get(started["return_key"])
    assert ret is not None and ret.replacement_order_key == f"{key}-R1"
    replacement = orders(runtime).get(ret.replacement_order_key)
    assert replacement is not None
    replacement_run = runtime.wait_for_execution(replacement.execution_name(), timeout=150)
    assert replacement_run["status"] == "SUCCEEDED"
    return Replaced(
        key,
        execution,
        entered_states(runtime, execution),
        ret.key,
        return_run,
        entered_states(runtime, return_run),
        replacement.key,
        replacement_run,
        entered_states(runtime, replacement_run),
    )


def orders(runtime: LocalRuntime) -> DynamoOrderRepository:
    return DynamoOrderRepository(os.environ["TABLE_NAME"], runtime.client("dynamodb"))


def returns(runtime: LocalRuntime) -> DynamoReturnRepository:
    return DynamoReturnRepository(os.environ["TABLE_NAME"], runtime.client("dynamodb"))


def section(html: str, start: str) -> str:
    """The ``<section>`` that ``start`` (an attribute in its opening tag) opens, up to its end."""
    begin = html.index(start)
    return html[html.rindex("<section", 0, begin) : html.index("</section>", begin)]


def get(runtime: LocalRuntime, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(runtime.api_url + path, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def state_names(asl: Path = ASL) -> list[str]:
    return list(json.loads(asl.read_text(encoding="utf-8"))["States"])


def states_with(css_class: str, html: str) -> list[str]:
    return re.findall(rf'<g class="state [^"]*\b{css_class}\b[^"]*" data-state="([^"]+)"', html)


class TestOrderList:
    def test_lists_the_order_with_a_link_to_its_page(self, runtime: LocalRuntime, fulfilled: Fulfilled) -> None:
        status, html = get(runtime, "/_console")
        assert status == 200
        row = re.search(rf'<tr class="order" data-key="{re.escape(fulfilled.key)}">(.*?)</tr>', html)
        assert row is not None
        assert f'href="{order_url(fulfilled.key)}"' in row.group(1)
        assert ">woocommerce<" in row.group(1) and ">kaffeekontor<" in row.group(1) and "COMPLETED" in row.group(1)

    def test_filters_by_status(self, runtime: LocalRuntime, fulfilled: Fulfilled) -> None:
        assert f'data-key="{fulfilled.key}"' in get(runtime, "/_console?status=COMPLETED")[1]
        assert f'data-key="{fulfilled.key}"' not in get(runtime, "/_console?status=CANCELLED")[1]
        assert get(runtime, "/_console?status=NOT_A_STATUS")[0] == 400


class TestOrderPage:
    def test_shows_the_timeline_and_the_execution_with_its_path(
        self, runtime: LocalRuntime, fulfilled: Fulfilled
    ) -> None:
        status, html = get(runtime, order_url(fulfilled.key))
        assert status == 200
        timeline = DynamoOrderRepository(os.environ["TABLE_NAME"], runtime.client("dynamodb")).timeline(fulfilled.key)
        assert len(timeline) >= 9
        for event in timeline:
            assert f"<td>{escape(event.reason)}</td>" in html
        svg = html[html.index("<svg") : html.index("</svg>")]
        for name in state_names():
            assert f">{escape(name)}</text>" in svg
        assert set(states_with("visited", html)) == set(fulfilled.path)
        assert re.findall(r'class="state [^"]*\bcurrent succeeded" data-state="([^"]+)"', html) == ["Complete order"]

    def test_lists_the_event_history_like_the_aws_console(self, runtime: LocalRuntime, fulfilled: Fulfilled) -> None:
        html = get(runtime, order_url(fulfilled.key))[1]
        rows = re.findall(r'<tr class="history-event"><td class="num">(\d+)</td><td>(\w+)</td><td>([^<]*)</td>', html)
        assert [(int(number), kind) for number, kind, _ in rows] == [(e["id"], e["type"]) for e in fulfilled.history]
        entered = [(kind, state) for _, kind, state in rows if kind.endswith("StateEntered")]
        assert [state for _, state in entered] == [escape(name) for name in fulfilled.path]
        assert ("TaskScheduled", "Validate order") in {(kind, state) for _, kind, state in rows}

    def test_an_unknown_order_or_page_is_a_404_page(self, runtime: LocalRuntime) -> None:
        status, html = get(runtime, order_url("kaffeekontor:does-not-exist"))
        assert status == 404 and "Order not found" in html and "<html" in html
        assert get(runtime, "/_console/nothing-here")[0] == 404

    def test_it_only_reads(self, runtime: LocalRuntime, fulfilled: Fulfilled) -> None:
        calls: list[str] = []

        class RecordingClients:
            def client(self, service: str) -> Any:
                made = runtime.client(service)
                made.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
                return made

        before = self._partition_items(runtime, fulfilled.key), self._item_count(runtime)
        for path in ("/_console", order_url(fulfilled.key), order_url("kaffeekontor:nope")):
            assert get(runtime, path)[0] in {200, 404}
            serve_console(RecordingClients(), "GET", path.split("?")[0], "")
        assert (self._partition_items(runtime, fulfilled.key), self._item_count(runtime)) == before
        assert calls and all(READ_OPERATIONS.match(call) for call in calls), calls
        status, _ = serve_console(RecordingClients(), "POST", "/_console", "")[:2]
        assert status == 405

    @staticmethod
    def _partition_items(runtime: LocalRuntime, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = runtime.client("dynamodb").query(
            TableName=os.environ["TABLE_NAME"],
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"ORDER#{key}"}},
            ConsistentRead=True,
        )["Items"]
        return items

    @staticmethod
    def _item_count(runtime: LocalRuntime) -> int:
        # Other tests' leftover executions may still write elsewhere; our order is finished, so it must not move.
        pages = (
            runtime.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=os.environ["TABLE_NAME"],
                Select="COUNT",
                FilterExpression="begins_with(PK, :orders)",
                ExpressionAttributeValues={":orders": {"S": "ORDER#kaffeekontor:"}},
            )
        )
        return sum(page["Count"] for page in pages)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (Debian: apt-get install chromium)")
class TestInABrowser:
    def test_headless_chromium_renders_the_highlighted_state_machine(
        self, runtime: LocalRuntime, fulfilled: Fulfilled, tmp_path: Path
    ) -> None:
        url = runtime.api_url + order_url(fulfilled.key)
        screenshot_and_check(tmp_path, url, "console-order.png")

        dom = run_chromium(tmp_path, "--dump-dom", url)
        assert set(states_with("visited", dom)) == set(fulfilled.path)
        assert states_with("current", dom) == ["Complete order"]
        assert all(f">{escape(name)}</text>" in dom for name in state_names())


def screenshot_and_check(tmp_path: Path, url: str, name: str, height: int = 2400) -> None:
    """A headless Chromium screenshot of ``url``: a real, many-coloured page with highlighted state boxes."""
    screenshot = tmp_path / name
    run_chromium(tmp_path, f"--screenshot={screenshot}", url, height=height)
    if os.environ.get("CONSOLE_SCREENSHOT_DIR"):
        target = Path(os.environ["CONSOLE_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, target / screenshot.name)
    width, drawn_height, pixels = decode_png(screenshot.read_bytes())
    assert (width, drawn_height) == (1400, height)
    assert len(set(pixels)) > 200, "the screenshot is (nearly) one colour"
    # The legend's swatch is 14×10 px; only the drawn, highlighted boxes cover thousands.
    assert sum(1 for pixel in pixels if pixel[:3] == VISITED_FILL) > 5000


def run_chromium(tmp_path: Path, *args: str, height: int = 2400) -> str:
    binary = chromium()
    assert binary is not None
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size=1400,{height}",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# Last in the module: the return and the replacement's fulfillment must not write while TestOrderPage counts items.
class TestAnOrderWithAReturnAndAReplacement:
    def test_the_list_offers_every_status_and_marks_returns_and_replacements(
        self, runtime: LocalRuntime, replaced: Replaced
    ) -> None:
        html = get(runtime, "/_console")[1]
        for status in OrderStatus:
            assert f'href="/_console?status={status.value}"' in html
        assert {"PARTIALLY_RETURNED", "RETURNED"} <= {status.value for status in OrderStatus}
        original = re.search(rf'<tr class="order" data-key="{re.escape(replaced.key)}">(.*?)</tr>', html)
        replacement = re.search(rf'<tr class="order" data-key="{re.escape(replaced.replacement_key)}">(.*?)</tr>', html)
        assert original is not None and replacement is not None
        assert "↩ 1 return<" in original.group(1) and "⇄ 1 replacement<" in original.group(1)
        assert f"replaces {escape(replaced.key)}<" in replacement.group(1)
        status = orders(runtime).get(replaced.key)
        assert status is not None and status.status in {OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED}
        filtered = get(runtime, f"/_console?status={status.status.value}")
        assert filtered[0] == 200 and f'data-key="{replaced.key}"' in filtered[1]

    def test_the_original_shows_its_return_with_its_own_timeline_and_lines(
        self, runtime: LocalRuntime, replaced: Replaced
    ) -> None:
        ret = returns(runtime).get(replaced.return_key)
        timeline = returns(runtime).timeline(replaced.return_key)
        assert ret is not None and ret.rma and len(timeline) >= 5
        status, html = get(runtime, order_url(replaced.key))
        assert status == 200 and "<h2>Returns (1)</h2>" in html
        card = section(html, f'data-return="{escape(ret.key)}"')
        assert f'<span class="badge {ret.status.value}">' in card
        for shown in (ret.key, ret.rma, ret.reason, ret.resolution.value):
            assert f"<dd>{escape(shown)}</dd>" in card
        for event in timeline:
            assert f"<td>{escape(event.reason)}</td>" in card
        assert len(re.findall(r'<tr class="return-timeline-event">', card)) == len(timeline)
        (line,) = ret.lines
        assert line.result and line.disposition
        assert (
            f'<tr class="return-line"><td>{line.line_id}</td><td>{escape(line.sku)}</td><td class="num">1</td>' in card
        )
        assert f"<td>{line.result}</td>" in card and f"<td>{line.disposition}</td>" in card
        assert f'class="replacement-order" href="{order_url(replaced.replacement_key)}"' in card
        assert f'href="#execution-{replaced.return_execution["name"]}"' in card

    def test_the_original_draws_the_return_execution_with_the_return_state_machine(
        self, runtime: LocalRuntime, replaced: Replaced
    ) -> None:
        html = get(runtime, order_url(replaced.key))[1]
        assert "<h2>Executions (2)</h2>" in html
        fulfillment = section(html, f'data-execution="{replaced.execution["name"]}"')
        assert set(states_with("visited", fulfillment)) == set(replaced.path)

        ret = section(html, f'id="execution-{replaced.return_execution["name"]}"')
        machine_arn = runtime.state_machine_arns[RETURN_MACHINE]
        assert replaced.return_execution["stateMachineArn"] == machine_arn
        assert f"<code>{machine_arn.rsplit(':', 1)[1]}</code>" in ret and 'href="#return-R1"' in ret
        assert all(f">{escape(name)}</text>" in ret for name in state_names(RETURN_ASL))
        assert "Validate order" not in ret[: ret.index("</svg>")]
        assert set(states_with("visited", ret)) == {escape(name) for name in replaced.return_path}
        assert states_with("current", ret) == [escape(replaced.return_path[-1])]
        assert f'current succeeded" data-state="{escape(replaced.return_path[-1])}"' in ret

    def test_the_replacement_execution_is_listed_as_the_replacement_s_not_drawn_as_the_original_s(
        self, runtime: LocalRuntime, replaced: Replaced
    ) -> None:
        html = get(runtime, order_url(replaced.key))[1]
        name = replaced.replacement_execution["name"]
        assert f'data-execution="{name}"' not in html
        listed = section(html, f'data-order="{escape(replaced.replacement_key)}"')
        assert html.index("<h2>Replacement orders (1)</h2>") < html.index(listed)
        assert f'href="{order_url(replaced.replacement_key)}#execution-{name}">{name}</a>' in listed
        assert '<span class="badge SUCCEEDED">' in listed and '<span class="badge COMPLETED">' in listed

    def test_the_replacement_links_back_and_draws_its_own_fulfillment(
        self, runtime: LocalRuntime, replaced: Replaced
    ) -> None:
        status, html = get(runtime, order_url(replaced.replacement_key))
        assert status == 200
        assert f'Replaces <a class="replaces-link" href="{order_url(replaced.key)}">{escape(replaced.key)}</a>' in html
        assert f'data-execution="{replaced.execution["name"]}"' not in html
        assert f'data-execution="{replaced.return_execution["name"]}"' not in html
        assert "<h2>Executions (1)</h2>" in html and "<h2>Returns" not in html
        own = section(html, f'id="execution-{replaced.replacement_execution["name"]}"')
        assert set(states_with("visited", own)) == {escape(name) for name in replaced.replacement_path}
        assert re.findall(r'class="state [^"]*\bcurrent succeeded" data-state="([^"]+)"', own) == ["Complete order"]

    @pytest.mark.skipif(chromium() is None, reason="no chromium binary (Debian: apt-get install chromium)")
    def test_headless_chromium_renders_the_return_and_its_highlighted_state_machine(
        self, runtime: LocalRuntime, replaced: Replaced, tmp_path: Path
    ) -> None:
        url = runtime.api_url + order_url(replaced.key)
        # Taller than the plain order's: the returns section sits above both graphs.
        screenshot_and_check(tmp_path, url, "console-order-returned.png", height=4800)

        dom = run_chromium(tmp_path, "--dump-dom", url, height=4800)
        drawn = section(dom, f'id="execution-{replaced.return_execution["name"]}"')
        assert set(states_with("visited", drawn)) == {escape(name) for name in replaced.return_path}
        assert states_with("current", drawn) == [escape(replaced.return_path[-1])]
        assert f'data-return="{escape(replaced.return_key)}"' in dom
        assert f'href="{order_url(replaced.replacement_key)}"' in dom


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and pixels of an 8-bit grey/RGB/RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, offset = {}, 8
    idat = b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        payload = data[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            idat += payload
        chunks.setdefault(kind, payload)
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    assert depth == 8 and interlace == 0, (depth, interlace)
    rows = _unfiltered(zlib.decompress(idat), width * channels, channels, height)
    pixels = [tuple(row[i : i + channels]) for row in rows for i in range(0, len(row), channels)]
    return width, height, pixels


def _unfiltered(raw: bytes, stride: int, step: int, height: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytearray(stride)
    for number in range(height):
        start = number * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, up_left = previous[i], previous[i - step] if i >= step else 0
            line[i] = (line[i] + _predictor(kind, left, up, up_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def _predictor(kind: int, left: int, up: int, up_left: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    return (left, up, up_left)[distances.index(min(distances))]
