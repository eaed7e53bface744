"""Arbitrary bodies and headers at every platform's intake: never a 5xx, never a write unless verified.

A refusal is a ``DomainError`` (the HTTP edge maps every one of those to a 4xx); anything else
escaping would be a 500. Nothing is stored, queued or started for a request that did not verify.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.registry import build_platforms
from fulfillment.edge.http import STATUS_BY_ERROR, refusal
from fulfillment.errors import DomainError
from fulfillment.intake.receive import receive_webhook
from fulfillment.model.store import Store, WebhookRequest
from fulfillment.ports import InboundPlatform
from tests.fakes import (
    FakeSecretStore,
    InMemoryDeliveryArchive,
    InMemoryDeliveryLog,
    InMemoryOrderRepository,
    InMemoryStoreRegistry,
    RecordingFetchQueue,
    RecordingWorkflow,
)
from tests.unit.properties.headers import SIGNATURE_HEADERS

# No platform API is reachable from these tests: a client that tries fails fast instead of hanging.
PLATFORMS = build_platforms(HttpClient(timeout=0.2, attempts=1))
SECRET = "fuzz-secret"

header_values = st.one_of(
    st.text(alphabet=string.printable, max_size=80),
    st.sampled_from(["application/json", "v1,AAAA", "1750000000", "sha256=00", "order.updated", ""]),
)
headers = st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=8)
bodies = st.one_of(
    st.binary(max_size=512),
    st.sampled_from([b"{}", b"[]", b"null", b'{"id": 1}', b"webhook_id=1", b'{"data": {}}', b'{"order": {}}']),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20,
    ).map(lambda value: __import__("json").dumps(value).encode()),
)


class World:
    def __init__(self, platform: InboundPlatform) -> None:
        self.platforms = {platform.name: platform}
        self.stores = InMemoryStoreRegistry(Store(store_id="shop", platform=platform.name, secret_ref="ref"))
        self.secrets = FakeSecretStore({"ref": SECRET})
        self.orders = InMemoryOrderRepository()
        self.workflow = RecordingWorkflow()
        self.deliveries = InMemoryDeliveryLog()
        self.archive = InMemoryDeliveryArchive()
        self.fetches = RecordingFetchQueue()

    def untouched(self) -> bool:
        return (
            not len(self.orders)
            and not self.workflow.started
            and not self.deliveries.seen
            and not self.archive.kept
            and not self.fetches.requests
        )


@pytest.mark.parametrize("name", sorted(PLATFORMS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, request_headers=headers, method=st.sampled_from(["POST", "POST", "GET"]))
def test_unverified_requests_are_refused_with_a_4xx_and_change_nothing(
    name: str, body: bytes, request_headers: dict[str, str], method: str
) -> None:
    world = World(PLATFORMS[name].inbound)
    request = WebhookRequest(body=body, headers=request_headers, method=method)

    try:
        result = receive_webhook(name, "shop", request, world, now=1_750_000_000.0)
    except DomainError as error:
        assert 400 <= refusal(error).status_code < 500, f"{type(error).__name__} would answer 5xx"
        assert world.untouched()
        return
    # Only a registration ping or challenge may pass without a valid signature, and it writes nothing.
    assert result.outcome == "ping", f"an unsigned request was {result.outcome}"
    assert world.untouched()


def test_every_refusal_the_intake_raises_maps_to_a_4xx() -> None:
    for error_type, status in STATUS_BY_ERROR.items():
        if status >= 500:
            assert error_type.__name__ in {"TransientError", "VersionConflict"}  # retry later, not refused
        else:
            assert 400 <= status < 500
