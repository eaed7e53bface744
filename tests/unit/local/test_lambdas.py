"""The in-process Lambda runner (``local/lambdas.py``): the function's Timeout is enforced as Lambda enforces it,
and concurrent invocations each log with their own context."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fulfillment.edge.observability import logger as make_logger
from local.lambdas import LocalFunction, one_context_per_invocation
from local.template import FunctionSpec

# Shared with the handler modules below, which the runner imports afresh for every container.
RELEASE = threading.Event()
DONE: list[str] = []
BOTH_INSIDE = threading.Barrier(2, timeout=30)

BLOCKING = """
from tests.unit.local.test_lambdas import DONE, RELEASE

def handler(event, context):
    RELEASE.wait()
    DONE.append(event["order_key"])  # a side effect after the deadline: Lambda would never get here
    return {"order_key": event["order_key"]}
"""

LOGGING = """
from fulfillment.edge.observability import logger as make_logger
from tests.unit.local.test_lambdas import BOTH_INSIDE

logger = make_logger()

@logger.inject_lambda_context(correlation_id_path="order_key", clear_state=True)
def handler(event, context):
    logger.append_keys(order_key=event["order_key"])
    BOTH_INSIDE.wait()  # both invocations have set their context before either logs
    logger.info("step done")
    return {}
"""

ECHO = """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from tests.unit.local.test_lambdas import BOTH_INSIDE

app = APIGatewayHttpResolver()

@app.post("/echo")
def echo():
    BOTH_INSIDE.wait()  # both requests are being resolved before either reads its own
    return {"got": app.current_event.json_body}

def handler(event, context):
    return app.resolve(event, context)
"""


def function(tmp_path: Path, name: str, code: str, timeout: int = 10) -> FunctionSpec:
    (tmp_path / name).mkdir()
    (tmp_path / name / "app.py").write_text(code)
    return FunctionSpec(
        logical_id=f"{name.title()}Function",
        code_uri=name,
        handler="app.handler",
        environment={},
        timeout=timeout,
        memory=256,
    )


@pytest.fixture
def released() -> Iterator[None]:
    RELEASE.clear()
    DONE.clear()
    yield
    RELEASE.set()  # no handler thread outlives the test blocked


def test_an_invocation_over_its_timeout_fails_as_lambdas_does_and_its_container_is_not_reused(
    tmp_path: Path, released: None
) -> None:
    slow = LocalFunction(function(tmp_path, "slow", BLOCKING, timeout=1), tmp_path, timeout_scale=1.0)

    result = slow.invoke({"order_key": "s:1"})

    assert result.error_type == "Sandbox.Timedout"  # what the state machine's retriers match
    assert result.error_message is not None and "Task timed out after 1." in result.error_message
    assert json.loads(result.as_lambda_payload())["errorType"] == "Sandbox.Timedout"
    assert slow.timeouts == 1
    RELEASE.set()
    answered = slow.invoke({"order_key": "s:2"})  # a new sandbox
    assert answered.error_type is None and answered.payload == {"order_key": "s:2"}
    assert DONE == ["s:2"]  # the timed-out invocation was stopped before its side effect
    assert slow._created == 2


def test_the_timeout_is_the_functions_own_times_the_local_scale(tmp_path: Path) -> None:
    spec = function(tmp_path, "ship", BLOCKING, timeout=10)

    assert LocalFunction(spec, tmp_path).timeout_seconds > 10  # local work is slower: never races local latency
    assert LocalFunction(spec, tmp_path, timeout_scale=1.0).timeout_seconds == 10


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.format(record)))


def test_concurrent_invocations_each_log_their_own_function_and_correlation_id(tmp_path: Path) -> None:
    one_context_per_invocation()
    functions = [LocalFunction(function(tmp_path, name, LOGGING), tmp_path) for name in ("reserve", "ship")]
    service = logging.getLogger(make_logger().service)  # the functions' loggers will share its formatter
    lines = Lines()
    lines.setFormatter(service.handlers[0].formatter)
    service.addHandler(lines)
    BOTH_INSIDE.reset()
    try:
        threads = [
            threading.Thread(target=fn.invoke, args=({"order_key": f"store:{n}"},)) for n, fn in enumerate(functions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        service.removeHandler(lines)

    seen = {(line["function_name"], line["correlation_id"], line["order_key"]) for line in lines.records}
    assert seen == {("ReserveFunction", "store:0", "store:0"), ("ShipFunction", "store:1", "store:1")}


def test_concurrent_http_invocations_each_resolve_their_own_request(tmp_path: Path) -> None:
    one_context_per_invocation()
    echo = LocalFunction(function(tmp_path, "echo", ECHO), tmp_path)
    BOTH_INSIDE.reset()
    answers: dict[int, object] = {}

    def request(n: int) -> None:
        event = {
            "version": "2.0",
            "routeKey": "POST /echo",
            "rawPath": "/echo",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/echo"}, "stage": "$default"},
            "body": json.dumps({"n": n}),
            "isBase64Encoded": False,
        }
        result = echo.invoke(event)
        answers[n] = json.loads(result.payload["body"])["got"]

    threads = [threading.Thread(target=request, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert answers == {0: {"n": 0}, 1: {"n": 1}}  # not one request's body twice
