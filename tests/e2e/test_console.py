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
from local.client import WOO_SAMPLES, send_woocommerce
from local.console import serve_console
from local.console.pages import order_url
from local.diagram import ASL
from local.runtime import LocalRuntime
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e
SECRET = "test-secret"
READ_OPERATIONS = re.compile(r"^(Get|Query|Scan|List|Describe|BatchGet)")
VISITED_FILL = (0xD9, 0xF2, 0xE0)  # svg.state-machine .state.visited rect


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


def get(runtime: LocalRuntime, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(runtime.api_url + path, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def state_names() -> list[str]:
    return list(json.loads(ASL.read_text(encoding="utf-8"))["States"])


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
        screenshot = tmp_path / "console-order.png"
        self._chromium(tmp_path, f"--screenshot={screenshot}", url)
        if os.environ.get("CONSOLE_SCREENSHOT_DIR"):
            target = Path(os.environ["CONSOLE_SCREENSHOT_DIR"])
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, target / screenshot.name)
        width, height, pixels = decode_png(screenshot.read_bytes())
        assert (width, height) == (1400, 2400)
        assert len(set(pixels)) > 200, "the screenshot is (nearly) one colour"
        # The legend's swatch is 14×10 px; only the drawn, highlighted boxes cover thousands.
        assert sum(1 for pixel in pixels if pixel[:3] == VISITED_FILL) > 5000

        dom = self._chromium(tmp_path, "--dump-dom", url)
        assert set(states_with("visited", dom)) == set(fulfilled.path)
        assert states_with("current", dom) == ["Complete order"]
        assert all(f">{escape(name)}</text>" in dom for name in state_names())

    @staticmethod
    def _chromium(tmp_path: Path, *args: str) -> str:
        binary = chromium()
        assert binary is not None
        command = [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,2400",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


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
