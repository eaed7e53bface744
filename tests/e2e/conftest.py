"""One local runtime for the end-to-end suite: moto server, HTTP API, simulators, on free ports."""

from __future__ import annotations

import dataclasses
import errno
import itertools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from local import aws_calls
from local.runtime import LocalRuntime, RuntimeConfig
from local.simulators import SimulatorConfig
from tests import iam

_order_ids = itertools.count(90001)


@pytest.fixture(scope="package")
def runtime(worker_id: str) -> Iterator[LocalRuntime]:
    started = _start_runtime()
    with aws_calls.recording() as calls:  # the least-privilege check's evidence (tests/iam.py)
        try:
            yield started
        finally:
            started.stop()
            iam.write_calls(worker_id, calls)


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Whether ``check`` holds within ``timeout`` (asked every 0.2 s, and once more at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _start_runtime(attempts: int = 3) -> LocalRuntime:
    """On free ports; again on others if another process took one before the runtime bound it."""
    for attempt in range(1, attempts + 1):
        config = RuntimeConfig.on_free_ports(
            # A day of waiting becomes 10 s (a 3-day heartbeat 30 s): timeouts are testable, never racing a callback.
            timeout_scale=1 / 8640,
            min_timeout_seconds=10,  # the shortest timeout, a day, stays 10 s
            simulators=SimulatorConfig(in_transit_after=0.3, delivered_after=1.0),
        )
        runtime = LocalRuntime(config)
        try:
            return runtime.start()
        except OSError as error:
            runtime.stop()
            if error.errno != errno.EADDRINUSE or attempt == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def simulators(runtime: LocalRuntime) -> Iterator[SimulatorConfig]:
    """The simulators' behaviour for one test, every setting restored afterwards (one left changed, such as a
    slow warehouse, would time out the inspections of every later test on this worker's runtime)."""
    config = runtime.config.simulators
    saved = dataclasses.asdict(config)  # a deep copy
    yield config
    for setting, value in saved.items():
        setattr(config, setting, value)


@pytest.fixture
def timers(runtime: LocalRuntime) -> Iterator[Callable[..., None]]:
    """``timers({"State": {"HeartbeatSeconds": 2}})``: shorter timers for the executions the test starts, so it
    sees a timeout without waiting out the runtime's scaled days; the runtime's own are back afterwards."""
    with ExitStack() as stack:
        yield lambda states, state_machine="FulfillmentStateMachine": stack.enter_context(
            runtime.timers(states, state_machine)
        )


def new_order_body(template: bytes, order_id: int | None = None) -> tuple[bytes, str]:
    """The sample order under a fresh id, so tests sharing the runtime never share an order."""
    order_id = order_id or next(_order_ids)
    body = re.sub(rb'^\{"id":\d+', b'{"id":' + str(order_id).encode(), template)
    return body, f"kaffeekontor:{order_id}"
