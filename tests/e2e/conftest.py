"""One local runtime for the end-to-end suite: moto server, HTTP API, simulators, on free ports."""

from __future__ import annotations

import copy
import dataclasses
import errno
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import Order
from local import aws_calls
from local.deliveries import Delivery, sign
from local.money_ledger import MoneyLedger
from local.platforms import EVENTS, demo_stores, sample_headers
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


@pytest.fixture
def stubs_as_they_were(runtime: LocalRuntime) -> Iterator[None]:
    """The platform stubs' shops put back as they were after the test: the demo orders this test cancels and
    refunds are the ones every other end-to-end test on this worker fulfils (the same ids in the same stubs)."""
    saved = {name: _data(api.shop) for name, api in runtime.platform_apis.items()}
    yield
    for name, api in runtime.platform_apis.items():
        for attribute, value in copy.deepcopy(saved[name]).items():
            _put_back(api.shop, attribute, value)


def _put_back(shop: object, attribute: str, value: Any) -> None:
    """Containers are refilled in place: a stub's routes are bound to them (``GET /V1/invoices`` lists the very
    list the invoice route appends to; a ledger's route reads its entries), so a new object would go unseen."""
    current = getattr(shop, attribute)
    if isinstance(current, MoneyLedger):
        current.entries = value
    elif isinstance(current, list):
        current[:] = value
    elif isinstance(current, dict):
        current.clear()
        current.update(value)
    else:
        setattr(shop, attribute, value)


def _data(shop: object) -> dict[str, Any]:
    """What a stub's shop holds: its public attributes (not its locks and id counters), a ledger's entries."""
    return {
        attribute: copy.deepcopy(value.entries if isinstance(value, MoneyLedger) else value)
        for attribute, value in vars(shop).items()
        if not attribute.startswith("_")
    }


_fresh_stores = itertools.count(1)


def fresh_store(runtime: LocalRuntime, platform: str, **options: str) -> str:
    """The platform's demo store again under a new id: the same shop (its stub, its identity, its secret), so a
    sample order is a new order here and the money a test moves is that test's alone."""
    entry: dict[str, Any] = json.loads(json.dumps(demo_stores()[platform]))
    entry["store_id"] = f"fresh-{platform}-{next(_fresh_stores)}"
    entry["options"] = {**entry.get("options", {}), **options}
    runtime.register_store(entry)
    return str(entry["store_id"])


def stored_order(key: str) -> Order:
    found = container().orders.get(key)
    assert found is not None, key
    return found


def signed_sample(platform: str, name: str, body: bytes, **headers: str) -> Delivery:
    """``body`` signed as the platform signs its sample ``name``, without the sample's event id (signing gives a
    fresh one where the platform signs one), ``headers`` added."""
    recorded = {k: v for k, v in sample_headers(EVENTS / platform / name).items() if k.lower() != "webhook-id"}
    return sign(platform, body, recorded | headers, "test-secret")
