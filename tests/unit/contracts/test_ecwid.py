"""Ecwid's published webhook example (tests/fixtures/ecwid/SOURCES.md) through our adapter, retried as Ecwid retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from fulfillment.adapters.platforms.ecwid import EcwidInbound, ecwid_signature
from fulfillment.errors import InvalidSignature
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ecwid"
SECRET = "client-secret"
STORE = Store(store_id="docs", platform="ecwid", secret_ref="/ref", platform_store_id="1003")
CREATED = 1234567  # the example's eventCreated


def _published(name: str) -> WebhookRequest:
    body = (FIXTURES / name).read_bytes()
    signature = ecwid_signature(SECRET, str(CREATED), "80aece08-40e8-4145-8764-6c2f0d38678")
    return WebhookRequest(body=body, headers={"x-ecwid-webhook-signature": signature})


def test_the_published_order_updated_example_is_a_fetch_of_its_order_id() -> None:
    request = _published("webhook_order_updated.json")
    EcwidInbound().verify(request, StoreCredentials(webhook_secret=SECRET), CREATED)

    event = EcwidInbound().read(request, STORE)

    assert (event.external_order_id, event.needs_fetch, event.event_id) == (
        "B8HGD",  # data.orderId, not the internal entityId (the docs: 'Use "orderId" instead')
        True,
        "80aece08-40e8-4145-8764-6c2f0d38678",
    )


@pytest.mark.parametrize("minutes", [15, 20, 30, 45, 60, 120, 24 * 60])
def test_each_resend_of_the_published_example_verifies(minutes: int) -> None:
    EcwidInbound().verify(
        _published("webhook_order_updated.json"), StoreCredentials(webhook_secret=SECRET), CREATED + minutes * 60
    )


def test_a_copy_after_ecwids_24_hours_of_resending_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        EcwidInbound().verify(
            _published("webhook_order_updated.json"), StoreCredentials(webhook_secret=SECRET), CREATED + 25 * 3600
        )
