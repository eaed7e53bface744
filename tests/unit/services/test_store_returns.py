"""Refunds and returns made in the store: goods named on a delivered order → one return; money only → one note."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from fulfillment.adapters.platforms.bigcommerce import refund_reports
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound
from fulfillment.intake.fetch import fetch_and_record
from fulfillment.intake.receive import receive_webhook
from fulfillment.intake.result import IntakeResult
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inbound import FetchRequest
from fulfillment.model.order import ReportedLine, StoreReturnReport
from fulfillment.model.returns import ReturnSource
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from fulfillment.ports import InboundPlatform
from tests.fakes import (
    SECRET_REF,
    STORE_ID,
    TEST_SECRET,
    FakeSecretStore,
    FulfillmentWorld,
    InMemoryDeliveryArchive,
    InMemoryDeliveryLog,
    RecordingFetchQueue,
    RecordingStartQueue,
    woo_sign,
)

KEY = f"{STORE_ID}:4711"


class FakeSource:
    """The platform's answer to a fetch: set ``order`` before fetching."""

    def __init__(self) -> None:
        self.order: Order | None = None

    def fetch_order(self, store: Store, credentials: StoreCredentials, external_order_id: str) -> Order:
        assert self.order is not None
        return self.order


@dataclass
class Intake:
    """Intake and fetch deps over one ``FulfillmentWorld`` (orders, returns, workflow shared)."""

    world: FulfillmentWorld = field(default_factory=FulfillmentWorld)
    platforms: dict[str, InboundPlatform] = field(default_factory=lambda: {"woocommerce": WooCommerceInbound()})
    secrets: FakeSecretStore = field(default_factory=lambda: FakeSecretStore({SECRET_REF: TEST_SECRET}))
    deliveries: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)
    archive: InMemoryDeliveryArchive = field(default_factory=InMemoryDeliveryArchive)
    fetches: RecordingFetchQueue = field(default_factory=RecordingFetchQueue)
    starts: RecordingStartQueue = field(default_factory=RecordingStartQueue)
    source: FakeSource = field(default_factory=FakeSource)

    @property
    def orders(self) -> Any:
        return self.world.orders

    @property
    def stores(self) -> Any:
        return self.world.stores

    @property
    def workflow(self) -> Any:
        return self.world.workflow

    @property
    def returns(self) -> Any:
        return self.world.returns

    @property
    def order_sources(self) -> dict[str, FakeSource]:
        return {"woocommerce": self.source}

    def fetch_reporting(self, *reports: StoreReturnReport) -> IntakeResult:
        self.source.order = self.world.stored(KEY).model_copy(update={"reported_returns": reports})
        request = FetchRequest(platform="woocommerce", store_id=STORE_ID, external_order_id="4711", topic="refund")
        return fetch_and_record(request, self)

    def notes(self) -> list[str]:
        return [event.reason for event in self.world.timeline(KEY) if "no goods expected back" in event.reason]


@pytest.fixture
def intake() -> Intake:
    return Intake()


ONE_MUG_BACK = StoreReturnReport(
    external_id="refund-1029384756123",
    lines=(ReportedLine(line_id="301", quantity=1),),
    reason="Henkel beim Transport abgebrochen",
    refunded_minor=1450,
)


class TestGoodsNamedOnADeliveredOrder:
    def test_open_one_store_return_even_when_delivered_twice(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        intake.fetch_reporting(ONE_MUG_BACK)
        intake.fetch_reporting(ONE_MUG_BACK)
        (ret,) = intake.returns.for_order(KEY)
        assert (ret.source, ret.external_id, ret.reason) == (
            ReturnSource.STORE,
            "refund-1029384756123",
            "Henkel beim Transport abgebrochen",
        )
        assert [(line.line_id, line.quantity) for line in ret.lines] == [("301", 1)]
        assert ret.refunded_by_store is not None and ret.refunded_by_store.minor == 1450
        assert intake.workflow.started.count(ret.execution_name()) == 1
        assert intake.world.stored(KEY).returns.store_returns == {"refund-1029384756123": 1}

    def test_two_store_refunds_are_two_returns(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        second = ONE_MUG_BACK.model_copy(update={"external_id": "refund-2"})
        intake.fetch_reporting(ONE_MUG_BACK, second)
        assert [ret.external_id for ret in intake.returns.for_order(KEY)] == ["refund-1029384756123", "refund-2"]

    def test_the_order_keeps_its_fulfillment_fields(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        before = intake.world.stored(KEY)
        intake.fetch_reporting(ONE_MUG_BACK)
        after = intake.world.stored(KEY)
        assert (after.status, after.tracking_number, after.lines) == (
            OrderStatus.COMPLETED,
            before.tracking_number,
            before.lines,
        )

    def test_a_line_the_order_never_had_is_one_note_and_no_return(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        unknown = ONE_MUG_BACK.model_copy(update={"lines": (ReportedLine(line_id="999", quantity=1),)})
        intake.fetch_reporting(unknown)
        intake.fetch_reporting(unknown)
        assert len(intake.returns) == 0
        assert intake.world.stored(KEY).returns.store_refunds_noted == ["refund-1029384756123"]

    def test_a_return_whose_execution_never_started_is_started_by_the_redelivery(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        intake.fetch_reporting(ONE_MUG_BACK)
        intake.workflow.started.clear()  # as if StartExecution had failed after the return was stored
        intake.fetch_reporting(ONE_MUG_BACK)
        assert len(intake.returns) == 1
        assert len(intake.workflow.started) == 1

    def test_our_own_refund_reported_back_is_ignored(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        ours = ONE_MUG_BACK.model_copy(update={"reason": f"return R1: defective [{KEY}:refunded:{KEY}:R1]"})
        intake.fetch_reporting(ours)
        assert len(intake.returns) == 0
        assert intake.notes() == []


def _bigcommerce_refunds(intake: Intake, *refunds: dict[str, Any]) -> tuple[StoreReturnReport, ...]:
    """What the BigCommerce source reports for ``GET …/payment_actions/refunds`` answering ``refunds``."""
    return refund_reports({"data": list(refunds), "meta": {}}, intake.world.stored(KEY))


BC_REFUND: dict[str, Any] = {
    "id": 41,
    "order_id": 4711,
    "reason": "Henkel abgebrochen",
    "total_amount": 14.5,
    "items": [{"item_type": "PRODUCT", "item_id": 301, "quantity": 1, "requested_amount": "14.50"}],
}


class TestBigCommerceRefunds:
    def test_a_refund_with_items_on_a_completed_order_opens_one_return_when_delivered_twice(
        self, intake: Intake
    ) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        for _ in range(2):  # store/order/refund/created, redelivered: each fetch reads the refunds again
            intake.fetch_reporting(*_bigcommerce_refunds(intake, BC_REFUND))
        (ret,) = intake.returns.for_order(KEY)
        assert (ret.source, ret.external_id, ret.reason) == (ReturnSource.STORE, "refund-41", "Henkel abgebrochen")
        assert [(line.line_id, line.quantity) for line in ret.lines] == [("301", 1)]
        assert ret.refunded_by_store is not None and ret.refunded_by_store.minor == 1450
        assert intake.workflow.started.count(ret.execution_name()) == 1
        assert intake.world.stored(KEY).returns.store_returns == {"refund-41": 1}
        assert intake.notes() == []

    def test_our_own_refund_is_skipped_by_its_marker(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        ours = {
            **BC_REFUND,
            "id": 42,
            "items": [{"item_type": "ORDER", "item_id": 4711, "reason": f"x [{KEY}:refunded:1450]"}],
        }
        intake.fetch_reporting(*_bigcommerce_refunds(intake, ours))
        assert len(intake.returns) == 0
        assert intake.notes() == []

    def test_a_refund_without_items_is_one_note(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        money_only = {**BC_REFUND, "id": 43, "items": [{"item_type": "ORDER", "item_id": 4711, "amount": 14.5}]}
        for _ in range(2):
            intake.fetch_reporting(*_bigcommerce_refunds(intake, money_only))
        assert len(intake.returns) == 0
        assert len(intake.notes()) == 1


class TestOrdersNotYetDelivered:
    @pytest.mark.parametrize("status", [OrderStatus.RESERVED, OrderStatus.SHIPPED, OrderStatus.DELIVERED])
    def test_a_store_refund_with_lines_opens_no_return(self, intake: Intake, status: OrderStatus) -> None:
        intake.world.order_at(status)
        intake.fetch_reporting(ONE_MUG_BACK)
        assert len(intake.returns) == 0
        assert intake.world.stored(KEY).returns.store_returns == {}
        assert intake.notes() == []


def _woo_refunded(woo_paid_body: bytes, *refunds: dict[str, Any]) -> WebhookRequest:
    document = json.loads(woo_paid_body)
    document["status"] = "completed"
    document["refunds"] = list(refunds)
    body = json.dumps(document).encode()
    headers = {
        "content-type": "application/json",
        "x-wc-webhook-topic": "order.updated",
        "x-wc-webhook-signature": woo_sign(TEST_SECRET, body),
    }
    return WebhookRequest(body=body, headers=headers)


class TestMoneyOnlyRefunds:
    def test_a_woocommerce_refund_is_one_note_however_often_delivered(
        self, intake: Intake, woo_paid_body: bytes
    ) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        refund = {"id": 4725, "reason": "Henkel abgebrochen", "total": "-17.26"}
        for _ in range(2):
            receive_webhook("woocommerce", STORE_ID, _woo_refunded(woo_paid_body, refund), intake)
        assert intake.notes() == ["refunded 17.26 EUR on woocommerce; no goods expected back"]
        assert len(intake.returns) == 0
        assert intake.world.stored(KEY).status is OrderStatus.COMPLETED

    def test_a_second_refund_is_a_second_note(self, intake: Intake, woo_paid_body: bytes) -> None:
        intake.world.order_at(OrderStatus.COMPLETED)
        first = {"id": 4725, "reason": "", "total": "-17.26"}
        second = {"id": 4726, "reason": "", "total": "-5.00"}
        receive_webhook("woocommerce", STORE_ID, _woo_refunded(woo_paid_body, first), intake)
        receive_webhook("woocommerce", STORE_ID, _woo_refunded(woo_paid_body, first, second), intake)
        assert len(intake.notes()) == 2

    def test_a_refund_on_an_order_in_fulfillment_adds_no_note(self, intake: Intake) -> None:
        intake.world.order_at(OrderStatus.PACKAGED)
        intake.fetch_reporting(StoreReturnReport(external_id="refund-1", refunded_minor=500))
        assert intake.notes() == []
