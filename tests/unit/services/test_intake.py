"""receive_webhook: refuse before writing anything, record each order once, start fulfillment once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fulfillment.adapters.platforms.ecwid import EcwidInbound, sign_sample
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound
from fulfillment.errors import (
    DomainError,
    InvalidSignature,
    MalformedPayload,
    PayloadTooLarge,
    TransientError,
    UnknownStore,
    UnsupportedMediaType,
    UnsupportedPlatform,
    VersionConflict,
)
from fulfillment.intake.receive import receive_webhook
from fulfillment.intake.result import IntakeResult
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inbound import FetchRequest
from fulfillment.model.store import WebhookRequest
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

PAID_SIGNATURE = "IsSZ0BHEP4dANZ7L1arhl4+9s8sEH38bRFuwRCXo0rE="  # events/woocommerce/order_updated_paid.json
PENDING_SIGNATURE = "AmIQxJcvrw1VpiGYEa/M6+IoO/AfJGvG5rXckx0/4/4="  # events/woocommerce/order_created_pending.json
KEY = f"{STORE_ID}:4711"


def signed(body: bytes, signature: str | None = None, content_type: str = "application/json") -> WebhookRequest:
    headers = {"content-type": content_type, "x-wc-webhook-topic": "order.updated"}
    headers["x-wc-webhook-signature"] = signature if signature is not None else woo_sign(TEST_SECRET, body)
    return WebhookRequest(body=body, headers=headers)


@dataclass
class Intake:
    orders: InMemoryOrderRepository = field(default_factory=InMemoryOrderRepository)
    workflow: RecordingWorkflow = field(default_factory=RecordingWorkflow)
    stores: InMemoryStoreRegistry = field(
        default_factory=lambda: InMemoryStoreRegistry(woo_store(), woo_store("other-shop", platform="shopify"))
    )
    secrets: FakeSecretStore = field(default_factory=lambda: FakeSecretStore({SECRET_REF: TEST_SECRET}))
    platforms: dict[str, InboundPlatform] = field(default_factory=lambda: {"woocommerce": WooCommerceInbound()})
    deliveries: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)
    archive: InMemoryDeliveryArchive = field(default_factory=InMemoryDeliveryArchive)
    fetches: RecordingFetchQueue = field(default_factory=RecordingFetchQueue)
    starts: RecordingStartQueue = field(default_factory=RecordingStartQueue)

    def deliver(
        self, request: WebhookRequest, *, platform: str = "woocommerce", store_id: str = STORE_ID
    ) -> IntakeResult:
        return receive_webhook(platform, store_id, request, self)

    def stored(self, key: str = KEY) -> Order:
        order = self.orders.get(key)
        assert order is not None, f"no order {key}"
        return order


@pytest.fixture
def intake() -> Intake:
    return Intake()


class TestRefusals:
    @pytest.mark.parametrize(
        ("platform", "store_id", "error"),
        [
            ("shopify", STORE_ID, UnsupportedPlatform),
            ("WooCommerce", STORE_ID, UnsupportedPlatform),
            ("woocommerce", "unknown-shop", UnknownStore),
            ("woocommerce", "other-shop", UnknownStore),  # registered, but as a Shopify store
            ("woocommerce", "Kaffeekontor", UnknownStore),
            ("woocommerce", "../kaffeekontor", UnknownStore),
            ("woocommerce", "", UnknownStore),
        ],
    )
    def test_refuses_a_delivery_for_no_known_store(
        self, intake: Intake, woo_paid_body: bytes, platform: str, store_id: str, error: type[DomainError]
    ) -> None:
        with pytest.raises(error):
            intake.deliver(signed(woo_paid_body, PAID_SIGNATURE), platform=platform, store_id=store_id)
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_a_body_over_one_mebibyte(self, intake: Intake, woo_paid_body: bytes) -> None:
        body = woo_paid_body + b" " * (1024 * 1024 + 1 - len(woo_paid_body))
        with pytest.raises(PayloadTooLarge, match="1048577 bytes"):
            intake.deliver(signed(body))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_a_body_of_exactly_one_mebibyte_is_not_too_large(self, intake: Intake, woo_paid_body: bytes) -> None:
        body = woo_paid_body[:-1] + b" " * (1024 * 1024 - len(woo_paid_body)) + b"}"
        assert len(body) == 1024 * 1024
        result = intake.deliver(signed(body))
        assert result.status is OrderStatus.RECEIVED

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
    def test_refuses_a_body_that_is_not_json(self, intake: Intake, woo_paid_body: bytes, content_type: str) -> None:
        with pytest.raises(UnsupportedMediaType):
            intake.deliver(signed(woo_paid_body, PAID_SIGNATURE, content_type=content_type))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_a_body_signed_with_another_secret(self, intake: Intake, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            intake.deliver(signed(woo_paid_body, woo_sign("not-the-store-secret", woo_paid_body)))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_a_reserialised_body(self, intake: Intake, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            intake.deliver(signed(json.dumps(json.loads(woo_paid_body)).encode(), PAID_SIGNATURE))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_an_unsigned_order(self, intake: Intake, woo_paid_body: bytes) -> None:
        request = WebhookRequest(body=woo_paid_body, headers={"content-type": "application/json"})
        with pytest.raises(InvalidSignature):
            intake.deliver(request)
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_a_signed_ping_looking_body(self, intake: Intake) -> None:
        with pytest.raises(UnsupportedMediaType):
            intake.deliver(signed(b"webhook_id=12", content_type="application/x-www-form-urlencoded"))
        with pytest.raises(MalformedPayload):
            intake.deliver(signed(b"webhook_id=12"))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    @pytest.mark.parametrize(
        "body",
        [b"not json", b"{}", b'{"id":4711,"status":"processing"}'],
    )
    def test_refuses_a_signed_body_that_is_not_an_order(self, intake: Intake, body: bytes) -> None:
        with pytest.raises(MalformedPayload):
            intake.deliver(signed(body))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_refuses_an_order_with_an_empty_line(self, intake: Intake, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        document["line_items"][0]["quantity"] = 0
        with pytest.raises(MalformedPayload, match="quantity"):
            intake.deliver(signed(json.dumps(document).encode()))
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0


class TestHandshake:
    def test_answers_the_creation_ping_without_recording_anything(self, intake: Intake) -> None:
        request = WebhookRequest(
            body=b"webhook_id=12", headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}
        )
        result = intake.deliver(request)
        assert result.outcome == "ping"
        assert result.order_key is None
        assert len(intake.orders) == 0
        assert intake.workflow.start_calls == 0

    def test_a_ping_for_an_unknown_store_is_refused(self, intake: Intake) -> None:
        with pytest.raises(UnknownStore):
            intake.deliver(WebhookRequest(body=b"webhook_id=12"), store_id="unknown-shop")


class TestRecordingOrders:
    def test_records_a_pending_order_without_starting_fulfillment(
        self, intake: Intake, woo_pending_body: bytes
    ) -> None:
        result = intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))

        assert result == IntakeResult(
            outcome="accepted", order_key=KEY, status=OrderStatus.PENDING_PAYMENT, execution_name=None
        )
        order = intake.stored()
        assert (order.status, order.paid, order.version) == (OrderStatus.PENDING_PAYMENT, False, 1)
        assert [(e.seq, e.status, e.previous_status) for e in intake.orders.timeline(KEY)] == [
            (1, OrderStatus.PENDING_PAYMENT, None)
        ]
        assert intake.workflow.start_calls == 0

    def test_the_payment_update_starts_fulfillment_once(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))

        result = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert result.status is OrderStatus.RECEIVED
        assert (result.fulfillment_started, result.duplicate) == (True, False)
        assert result.execution_name == "kaffeekontor_4711"
        assert intake.workflow.started == ["kaffeekontor_4711"]
        order = intake.stored()
        assert (order.status, order.paid) == (OrderStatus.RECEIVED, True)
        timeline = intake.orders.timeline(KEY)
        assert [(e.seq, e.status, e.previous_status) for e in timeline] == [
            (1, OrderStatus.PENDING_PAYMENT, None),
            (2, OrderStatus.RECEIVED, OrderStatus.PENDING_PAYMENT),
        ]
        assert timeline[1].reason == "payment confirmed by woocommerce"

    def test_the_same_paid_delivery_five_times_is_one_order_and_one_execution(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))

        results = [intake.deliver(signed(woo_paid_body, PAID_SIGNATURE)) for _ in range(5)]

        assert [r.duplicate for r in results] == [False, True, True, True, True]
        assert [r.fulfillment_started for r in results] == [True, False, False, False, False]
        assert {r.status for r in results} == {OrderStatus.RECEIVED}
        assert {r.execution_name for r in results} == {"kaffeekontor_4711"}
        assert intake.orders.keys() == [KEY]
        assert intake.workflow.started == ["kaffeekontor_4711"]
        assert len(intake.orders.timeline(KEY)) == 2
        assert intake.stored().version == 2

    def test_an_older_snapshot_after_a_newer_one_changes_nothing(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))
        before = intake.stored()
        writes = intake.orders.writes

        result = intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))

        assert result.duplicate is True
        assert result.status is OrderStatus.RECEIVED
        assert intake.stored() == before
        assert intake.orders.writes == writes
        assert intake.workflow.started == ["kaffeekontor_4711"]

    def test_a_newer_snapshot_refreshes_the_order_before_validation(
        self, intake: Intake, woo_pending_body: bytes
    ) -> None:
        intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))
        document = json.loads(woo_pending_body)
        document["date_modified_gmt"] = "2025-06-03T13:00:00"
        document["shipping"]["city"] = "Potsdam"

        result = intake.deliver(signed(json.dumps(document).encode()))

        assert result.duplicate is False
        order = intake.stored()
        assert (order.status, order.shipping_address.city) == (OrderStatus.PENDING_PAYMENT, "Potsdam")
        assert len(intake.orders.timeline(KEY)) == 1
        assert intake.workflow.start_calls == 0

    def test_an_order_paid_at_creation_goes_straight_to_received(self, intake: Intake, woo_paid_body: bytes) -> None:
        result = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert (result.status, result.fulfillment_started, result.duplicate) == (OrderStatus.RECEIVED, True, False)
        assert intake.workflow.started == ["kaffeekontor_4711"]
        timeline = intake.orders.timeline(KEY)
        assert [(e.seq, e.status, e.previous_status) for e in timeline] == [(1, OrderStatus.RECEIVED, None)]
        assert timeline[0].reason == "placed on woocommerce and paid"
        assert timeline[0].at == intake.stored().placed_at

    def test_a_start_that_fails_is_queued_and_the_delivery_accepted(self, intake: Intake, woo_paid_body: bytes) -> None:
        class FlakyWorkflow(RecordingWorkflow):
            def start(self, order: Order) -> bool:
                if self.start_calls == 0:
                    self.start_calls += 1
                    raise ConnectionError("Step Functions unreachable")
                return super().start(order)

        intake.workflow = FlakyWorkflow()
        first = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert (first.outcome, first.status, first.fulfillment_started) == ("accepted", OrderStatus.RECEIVED, False)
        assert first.start_deferred is not None and "ConnectionError" in first.start_deferred
        assert intake.starts.keys() == [KEY]  # the start queue's consumer starts it; WooCommerce never retries
        assert intake.workflow.started == []

        again = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))  # a redelivery still tries to start it

        assert again.duplicate is True
        assert intake.workflow.started == ["kaffeekontor_4711"]

    def test_a_start_queue_that_fails_too_leaves_the_order_to_the_sweep(
        self, intake: Intake, woo_paid_body: bytes
    ) -> None:
        class ThrottledWorkflow(RecordingWorkflow):
            def start(self, order: Order) -> bool:
                raise TransientError("Step Functions ThrottlingException")

        intake.workflow, intake.starts.broken = ThrottledWorkflow(), True

        result = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert (result.outcome, result.status, intake.stored().status) == (
            "accepted",
            OrderStatus.RECEIVED,
            OrderStatus.RECEIVED,
        )
        assert result.start_deferred is not None and "left to the sweep" in result.start_deferred

    def test_orders_of_different_stores_are_kept_apart(self, intake: Intake, woo_paid_body: bytes) -> None:
        intake.stores.put(woo_store("second-shop"))
        intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))
        intake.deliver(signed(woo_paid_body, PAID_SIGNATURE), store_id="second-shop")

        assert intake.orders.keys() == ["kaffeekontor:4711", "second-shop:4711"]
        assert intake.workflow.started == ["kaffeekontor_4711", "second-shop_4711"]

    def test_a_late_payment_snapshot_does_not_roll_back_newer_content(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        # GIVEN the order put on hold with a corrected address after it was paid (newest snapshot)
        document = json.loads(woo_paid_body)
        document |= {"status": "on-hold", "date_modified_gmt": "2025-06-05T08:00:00"}
        document["shipping"]["city"] = "Potsdam"
        intake.deliver(signed(woo_pending_body, PENDING_SIGNATURE))
        intake.deliver(signed(json.dumps(document).encode()))
        # WHEN the older paid snapshot arrives late
        intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))
        # THEN the order is paid, but keeps the newest content
        order = intake.stored()
        assert order.status is OrderStatus.RECEIVED
        assert order.shipping_address.city == "Potsdam"


class TestCancellationByTheStore:
    def test_an_unpaid_order_cancelled_in_the_store_is_cancelled_here(
        self, intake: Intake, woo_pending_body: bytes
    ) -> None:
        intake.deliver(signed(woo_pending_body))
        cancelled = woo_pending_body.replace(b'"status":"pending"', b'"status":"cancelled"').replace(
            b'"date_modified_gmt":"2025-06-03T12:21:08"', b'"date_modified_gmt":"2025-06-03T13:00:00"'
        )

        result = intake.deliver(signed(cancelled))

        assert result.status is OrderStatus.CANCELLED
        assert [event.status for event in intake.orders.timeline(KEY)] == [
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.CANCELLED,
        ]
        assert intake.workflow.started == []

    def test_an_order_first_seen_cancelled_is_recorded_cancelled(self, intake: Intake, woo_pending_body: bytes) -> None:
        cancelled = woo_pending_body.replace(b'"status":"pending"', b'"status":"cancelled"')

        result = intake.deliver(signed(cancelled))

        assert result.status is OrderStatus.CANCELLED
        assert intake.workflow.started == []

    def test_a_cancelled_order_is_not_revived_by_a_late_payment(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        cancelled = woo_pending_body.replace(b'"status":"pending"', b'"status":"cancelled"').replace(
            b'"date_modified_gmt":"2025-06-03T12:21:08"', b'"date_modified_gmt":"2025-06-05T00:00:00"'
        )
        intake.deliver(signed(cancelled))

        intake.deliver(signed(woo_paid_body))

        assert intake.stored().status is OrderStatus.CANCELLED
        assert intake.workflow.started == []


class TestConcurrentCreation:
    def test_losing_the_race_to_create_ends_as_a_duplicate(self, intake: Intake, woo_paid_body: bytes) -> None:
        class RacingRepository(InMemoryOrderRepository):
            """The first create finds that a concurrent delivery stored the same order first."""

            def __init__(self) -> None:
                super().__init__()
                self.lost_races = 0

            def create(self, order: Order) -> None:
                if self.lost_races == 0:
                    self.lost_races += 1
                    theirs = order.model_copy(deep=True)
                    super().create(theirs)
                    raise VersionConflict(f"order {order.key} changed meanwhile")
                super().create(order)

        intake.orders = RacingRepository()

        result = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert result.duplicate is True
        assert result.status is OrderStatus.RECEIVED
        assert intake.orders.lost_races == 1
        assert intake.orders.keys() == [KEY]
        assert len(intake.orders.timeline(KEY)) == 1
        assert intake.workflow.started == ["kaffeekontor_4711"]

    def test_a_paid_delivery_losing_to_a_pending_one_still_records_the_payment(
        self, intake: Intake, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        pending = Intake().platforms["woocommerce"].read(signed(woo_pending_body), woo_store()).order

        class RacingRepository(InMemoryOrderRepository):
            def create(self, order: Order) -> None:
                if not len(self):
                    theirs = pending.model_copy(deep=True)
                    theirs.record_receipt("placed on woocommerce, awaiting payment")
                    super().create(theirs)
                    raise VersionConflict(f"order {order.key} changed meanwhile")
                super().create(order)

        intake.orders = RacingRepository()

        result = intake.deliver(signed(woo_paid_body, PAID_SIGNATURE))

        assert (result.status, result.duplicate, result.fulfillment_started) == (OrderStatus.RECEIVED, False, True)
        assert [e.status for e in intake.orders.timeline(KEY)] == [OrderStatus.PENDING_PAYMENT, OrderStatus.RECEIVED]


class _FlakyFetchQueue(RecordingFetchQueue):
    """A fetch queue that cannot be reached for the first ``failures`` deliveries (a throttled SQS)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def enqueue(self, request: FetchRequest) -> None:
        if self.failures:
            self.failures -= 1
            raise TransientError("SQS throttled")
        super().enqueue(request)


class TestAPlatformsRetryOfADeliveryWeFailedToTake:
    def test_the_ecwid_retry_15_minutes_later_is_taken_once(self) -> None:
        # Ecwid resends after 15 min with the original eventCreated and eventId (docs.ecwid.com, "How to process
        # webhooks"): the attempt we failed to take is forgotten by the delivery log, so its retry goes through once.
        body = (Path(__file__).resolve().parents[3] / "events" / "ecwid" / "02_order_updated_paid.json").read_bytes()
        created = 1_749_021_160
        body, headers = sign_sample(body, {"content-type": "application/json"}, TEST_SECRET, created)
        request = WebhookRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
        intake = Intake(
            stores=InMemoryStoreRegistry(
                woo_store(platform="ecwid").model_copy(update={"platform_store_id": "31415926"})
            ),
            platforms={"ecwid": EcwidInbound()},
            fetches=_FlakyFetchQueue(failures=1),
        )

        with pytest.raises(TransientError):
            receive_webhook("ecwid", STORE_ID, request, intake, now=created + 5)  # the first attempt: a 503
        retry = receive_webhook("ecwid", STORE_ID, request, intake, now=created + 15 * 60)
        again = receive_webhook("ecwid", STORE_ID, request, intake, now=created + 30 * 60)

        assert (retry.outcome, retry.duplicate, again.duplicate) == ("queued", False, True)
        assert [fetch.external_order_id for fetch in intake.fetches.requests] == ["KX7Q2"]
