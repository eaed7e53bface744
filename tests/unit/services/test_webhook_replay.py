"""Kept webhook deliveries: one kept per verified delivery, none for a refused one; replayed through intake."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from fulfillment.adapters.platforms.opencart import OpenCartInbound
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound
from fulfillment.errors import DeliveryNotFound, InvalidSignature, MalformedPayload
from fulfillment.intake.receive import receive_webhook
from fulfillment.intake.replay import replay_delivery
from fulfillment.intake.result import IntakeResult
from fulfillment.model import OrderStatus
from fulfillment.model.store import Store, WebhookRequest
from fulfillment.ports import InboundPlatform
from tests.fakes import (
    SECRET_REF,
    STORE_ID,
    TEST_SECRET,
    FakeSecretStore,
    InMemoryDeliveryArchive,
    InMemoryDeliveryLog,
    InMemoryOrderRepository,
    InMemoryStoreRegistry,
    RecordingFetchQueue,
    RecordingStartQueue,
    RecordingWorkflow,
    woo_sign,
    woo_store,
)

KEY = f"{STORE_ID}:4711"
OPENCART = Path(__file__).resolve().parents[3] / "events" / "opencart"
OC_STORE = Store(
    store_id="torrefaction-lyon",
    platform="opencart",
    secret_ref="/fulfillment/test/stores/torrefaction-lyon/webhook-secret",
    site_url="https://boutique.lyon-torrefaction.example/",
)
OC_PAID = "02_order_status_processing_paid"


def signed(body: bytes, signature: str | None = None, **headers: str) -> WebhookRequest:
    return WebhookRequest(
        body=body,
        headers={
            "content-type": "application/json",
            "x-wc-webhook-topic": "order.updated",
            "x-wc-webhook-signature": signature if signature is not None else woo_sign(TEST_SECRET, body),
            **headers,
        },
    )


def opencart_delivery() -> tuple[WebhookRequest, float]:
    """A recorded OpenCart delivery: signed over its timestamp, fresh only within ±5 minutes of it."""
    recorded = json.loads((OPENCART / f"{OC_PAID}.headers.json").read_text())
    headers = {name.lower(): value for name, value in recorded.items()}
    body = (OPENCART / f"{OC_PAID}.json").read_bytes()
    return WebhookRequest(body=body, headers=headers), float(headers["x-oc-webhook-timestamp"])


@dataclass
class Intake:
    orders: InMemoryOrderRepository = field(default_factory=InMemoryOrderRepository)
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    stores: InMemoryStoreRegistry = field(default_factory=lambda: InMemoryStoreRegistry(woo_store(), OC_STORE))
    secrets: FakeSecretStore = field(
        default_factory=lambda: FakeSecretStore({SECRET_REF: TEST_SECRET, OC_STORE.secret_ref: TEST_SECRET})
    )
    platforms: dict[str, InboundPlatform] = field(
        default_factory=lambda: {"woocommerce": WooCommerceInbound(), "opencart": OpenCartInbound()}
    )
    deliveries: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)
    archive: InMemoryDeliveryArchive = field(default_factory=InMemoryDeliveryArchive)
    fetches: RecordingFetchQueue = field(default_factory=RecordingFetchQueue)
    starts: RecordingStartQueue = field(default_factory=RecordingStartQueue)

    def deliver(
        self,
        request: WebhookRequest,
        *,
        platform: str = "woocommerce",
        store_id: str = STORE_ID,
        now: float | None = None,
    ) -> IntakeResult:
        return receive_webhook(platform, store_id, request, self, now=now)

    def replay(self, delivery_id: str, store_id: str = STORE_ID) -> IntakeResult:
        return replay_delivery(store_id, delivery_id, self)

    def delete(self, key: str) -> None:
        """An order lost from the table (deleted by hand, restored from an older backup)."""
        self.orders._orders.pop(key)
        self.orders._events.pop(key, None)


@pytest.fixture
def intake() -> Intake:
    return Intake()


class TestKeeping:
    def test_a_verified_delivery_is_kept_once_with_what_verifies_it(self, intake: Intake, woo_paid_body: bytes) -> None:
        request = signed(woo_paid_body, authorization="Basic c2VjcmV0", cookie="session=1")

        intake.deliver(request, now=1_750_000_000.0)

        (kept,) = intake.archive.kept
        assert (kept.platform, kept.store_id, kept.topic, kept.external_order_id) == (
            "woocommerce",
            STORE_ID,
            "order.updated",
            "4711",
        )
        assert kept.delivery_id.startswith("sha256-")  # WooCommerce sends no delivery id we read
        assert kept.received_at.timestamp() == 1_750_000_000.0
        assert kept.request.body == woo_paid_body
        assert kept.request.headers["x-wc-webhook-signature"] == request.headers["x-wc-webhook-signature"]
        assert "authorization" not in kept.request.headers and "cookie" not in kept.request.headers

    def test_a_redelivery_the_log_recognises_is_not_kept_again(self, intake: Intake) -> None:
        request, arrived = opencart_delivery()

        intake.deliver(request, platform="opencart", store_id=OC_STORE.store_id, now=arrived)
        again = intake.deliver(request, platform="opencart", store_id=OC_STORE.store_id, now=arrived + 10)

        assert again.duplicate
        assert [kept.delivery_id for kept in intake.archive.kept] == [request.headers["x-oc-webhook-id"]]

    def test_a_forged_delivery_is_never_kept(self, intake: Intake, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            intake.deliver(signed(woo_paid_body, woo_sign("not-the-store-secret", woo_paid_body)))
        with pytest.raises(InvalidSignature):
            intake.deliver(WebhookRequest(body=woo_paid_body, headers={"content-type": "application/json"}))
        with pytest.raises(MalformedPayload):
            intake.deliver(signed(b'{"id":4711,"status":"processing"}'))

        assert intake.archive.kept == []


class TestReplay:
    def test_a_delivery_whose_order_was_deleted_records_it_again(self, intake: Intake, woo_paid_body: bytes) -> None:
        intake.deliver(signed(woo_paid_body))
        intake.delete(KEY)

        result = intake.replay(intake.archive.kept[0].delivery_id)

        assert (result.outcome, result.order_key, result.status, result.duplicate) == (
            "accepted",
            KEY,
            OrderStatus.RECEIVED,
            False,
        )
        assert intake.orders.get(KEY) is not None
        assert len(intake.archive.kept) == 1  # a replay is not kept again

    def test_replaying_the_current_delivery_changes_nothing(self, intake: Intake, woo_paid_body: bytes) -> None:
        intake.deliver(signed(woo_paid_body))
        version = intake.orders.get(KEY).version  # type: ignore[union-attr]

        result = intake.replay(intake.archive.kept[0].delivery_id)

        assert result.duplicate and not result.fulfillment_started
        assert intake.orders.get(KEY).version == version  # type: ignore[union-attr]
        assert intake.workflow.started == [intake.orders.get(KEY).execution_name()]  # type: ignore[union-attr]

    def test_an_older_snapshot_replayed_after_a_newer_one_changes_nothing(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        intake.deliver(signed(woo_pending_body), now=1_750_000_000.0)
        intake.deliver(signed(woo_paid_body), now=1_750_000_060.0)
        pending = next(kept for kept in intake.archive.kept if kept.request.body == woo_pending_body)

        result = intake.replay(pending.delivery_id)

        assert result.duplicate
        assert intake.orders.get(KEY).status is OrderStatus.RECEIVED  # type: ignore[union-attr]

    def test_the_delivery_log_is_bypassed(self, intake: Intake) -> None:
        request, arrived = opencart_delivery()
        first = intake.deliver(request, platform="opencart", store_id=OC_STORE.store_id, now=arrived)
        assert first.order_key is not None
        intake.delete(first.order_key)

        result = intake.replay(request.headers["x-oc-webhook-id"], store_id=OC_STORE.store_id)

        assert not result.duplicate and intake.orders.get(first.order_key) is not None

    def test_the_freshness_window_is_skipped_but_the_signature_is_not(self, intake: Intake) -> None:
        request, arrived = opencart_delivery()
        intake.deliver(request, platform="opencart", store_id=OC_STORE.store_id, now=arrived)
        with pytest.raises(InvalidSignature, match="away from now"):  # sent again today, it is stale
            intake.deliver(request, platform="opencart", store_id=OC_STORE.store_id, now=time.time())
        kept = intake.archive.kept[0]

        assert intake.replay(kept.delivery_id, store_id=OC_STORE.store_id).outcome == "accepted"

        tampered = kept.request.body.replace(b'"order_id"', b'"order_id" ')
        assert tampered != kept.request.body
        intake.archive.kept[0] = replace(kept, request=kept.request.model_copy(update={"body": tampered}))
        with pytest.raises(InvalidSignature):
            intake.replay(kept.delivery_id, store_id=OC_STORE.store_id)

    def test_an_unknown_delivery_is_refused(self, intake: Intake) -> None:
        with pytest.raises(DeliveryNotFound, match="no stored delivery"):
            intake.replay("sha256-0000")
