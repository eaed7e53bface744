"""A paid order starts whatever Step Functions says: the start queue's consumer and the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fulfillment.errors import TransientError
from fulfillment.intake.start import MAX_START_BACKOFF_SECONDS, start_backoff, start_pending
from fulfillment.intake.sweep import sweep_unstarted
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inbound import StartRequest
from tests.fakes import InMemoryOrderRepository, RecordingStartQueue, RecordingWorkflow, make_order


def _received(orders: InMemoryOrderRepository, external_id: str, **overrides: object) -> Order:
    order = make_order(external_id=external_id, **overrides)
    order.record_receipt("placed and paid", at=order.placed_at)
    orders.create(order)
    return order


def _age(orders: InMemoryOrderRepository, order: Order, seconds: float) -> None:
    orders.saved_when[order.key] = datetime.now(UTC) - timedelta(seconds=seconds)


class TestStartConsumer:
    def test_starts_an_order_that_waits(self) -> None:
        orders, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        order = _received(orders, "5001")

        assert start_pending(StartRequest(order_key=order.key), orders, workflow) is True
        assert workflow.started == [order.execution_name()]

    def test_an_execution_that_exists_already_is_done(self) -> None:
        orders, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        order = _received(orders, "5002")
        workflow.start(order)  # intake's start succeeded after all, or a duplicate message

        assert start_pending(StartRequest(order_key=order.key), orders, workflow) is False
        assert workflow.started == [order.execution_name()]

    def test_an_order_that_moved_on_or_is_gone_is_left_alone(self) -> None:
        orders, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        order = _received(orders, "5003")
        stored = orders.get(order.key)
        assert stored is not None
        stored.transition_to(OrderStatus.VALIDATED, "validated")
        orders.save(stored)

        assert start_pending(StartRequest(order_key=order.key), orders, workflow) is False
        assert start_pending(StartRequest(order_key="kaffeekontor:nope"), orders, workflow) is False
        assert workflow.start_calls == 0

    def test_a_cancellation_requested_before_the_start_still_starts_it_to_compensate(self) -> None:
        orders, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        order = _received(orders, "5004", cancel_requested="cancelled on woocommerce")

        assert start_pending(StartRequest(order_key=order.key), orders, workflow) is True

    def test_a_throttled_start_raises_for_the_queue_to_retry(self) -> None:
        class Throttled(RecordingWorkflow):
            def start(self, order: Order) -> bool:
                raise TransientError("Step Functions ThrottlingException")

        orders = InMemoryOrderRepository()
        order = _received(orders, "5005")

        with pytest.raises(TransientError):
            start_pending(StartRequest(order_key=order.key), orders, Throttled())

    @pytest.mark.parametrize("receive_count", [1, 2, 5, 30])
    def test_backoff_grows_with_the_receives_and_is_capped(self, receive_count: int) -> None:
        waits = [start_backoff(receive_count) for _ in range(200)]
        ceiling = min(MAX_START_BACKOFF_SECONDS, 2**receive_count)
        assert all(1 <= wait <= ceiling for wait in waits)
        assert max(waits) > (ceiling + 1) / 2  # jittered over the whole range, not a fixed step


class TestSweep:
    NOW = datetime.now(UTC)

    def test_queues_orders_received_past_the_grace_period_and_measures_the_oldest(self) -> None:
        orders, starts = InMemoryOrderRepository(), RecordingStartQueue()
        old, older, fresh = _received(orders, "6001"), _received(orders, "6002"), _received(orders, "6003")
        _age(orders, old, 700)
        _age(orders, older, 1200)
        _age(orders, fresh, 30)

        report = sweep_unstarted(orders, starts, now=datetime.now(UTC), grace_seconds=600)

        assert starts.keys() == [older.key, old.key]  # oldest first
        assert (report.waiting, report.queued) == (2, (older.key, old.key))
        assert 1200 <= report.oldest_seconds < 1260

    def test_nothing_waiting_measures_zero(self) -> None:
        orders, starts = InMemoryOrderRepository(), RecordingStartQueue()
        order = _received(orders, "6004")
        stored = orders.get(order.key)
        assert stored is not None
        stored.transition_to(OrderStatus.VALIDATED, "validated")
        orders.save(stored)
        _age(orders, stored, 5000)

        report = sweep_unstarted(orders, starts, now=datetime.now(UTC), grace_seconds=600)

        assert (report.waiting, report.oldest_seconds, starts.keys()) == (0, 0.0, [])

    def test_a_reopened_order_is_measured_but_left_to_its_rerun(self) -> None:
        orders, starts = InMemoryOrderRepository(), RecordingStartQueue()
        reopened = _received(orders, "6005", attempt=1)
        _age(orders, reopened, 4000)

        report = sweep_unstarted(orders, starts, now=datetime.now(UTC), grace_seconds=600)

        assert (report.waiting, report.queued, starts.keys()) == (1, (), [])
        assert report.oldest_seconds >= 4000
