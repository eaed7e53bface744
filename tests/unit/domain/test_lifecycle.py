"""The order lifecycle, checked against a transition table written out independently here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from fulfillment.errors import InvalidTransition
from fulfillment.model import TERMINAL, TRANSITIONS, OrderStatus, can_transition, has_reached
from fulfillment.model.lifecycle import FULFILLMENT_PATH
from tests.fakes import InMemoryOrderRepository, make_order, store_new_order

S = OrderStatus
ALL_PAIRS = list(itertools.product(S, S))

# The specification: the happy path, failure from any started status, cancellation until shipped.
ALLOWED: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {
        (S.PENDING_PAYMENT, S.RECEIVED),
        (S.PENDING_PAYMENT, S.CANCELLED),
        (S.RECEIVED, S.VALIDATED),
        (S.VALIDATED, S.RESERVED),
        (S.RESERVED, S.INSPECTED),
        (S.INSPECTED, S.PACKAGED),
        (S.PACKAGED, S.SHIPPED),
        (S.SHIPPED, S.DELIVERED),
        (S.DELIVERED, S.PAYMENT_COMPLETED),
        (S.PAYMENT_COMPLETED, S.COMPLETED),
        *((status, S.FAILED) for status in (S.RECEIVED, S.VALIDATED, S.RESERVED, S.INSPECTED, S.PACKAGED)),
        *((status, S.FAILED) for status in (S.SHIPPED, S.DELIVERED, S.PAYMENT_COMPLETED)),
        *((status, S.CANCELLED) for status in (S.RECEIVED, S.VALIDATED, S.RESERVED, S.INSPECTED, S.PACKAGED)),
        (S.SHIPPED, S.CANCELLED),  # in transit: the carrier intercepts the parcel
        (S.COMPLETED, S.PARTIALLY_RETURNED),  # returns, after completion only
        (S.COMPLETED, S.RETURNED),
        (S.PARTIALLY_RETURNED, S.RETURNED),
        (S.FAILED, S.RECEIVED),  # an operator's re-run of a compensated order (reruns.reopen)
    }
)


def _pair_id(pair: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{pair[0]}->{pair[1]}"


class TestTransitionTable:
    def test_every_status_has_an_entry(self) -> None:
        assert set(TRANSITIONS) == set(S)

    def test_the_table_allows_exactly_the_specified_transitions(self) -> None:
        table = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}
        assert table == ALLOWED

    @pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[_pair_id(p) for p in ALL_PAIRS])
    def test_can_transition_answers_per_the_table(self, current: OrderStatus, target: OrderStatus) -> None:
        assert can_transition(current, target) is ((current, target) in ALLOWED)

    @pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[_pair_id(p) for p in ALL_PAIRS])
    def test_an_order_moves_only_where_the_table_allows(self, current: OrderStatus, target: OrderStatus) -> None:
        order = make_order(status=current)

        if (current, target) in ALLOWED:
            event = order.transition_to(target, "test")
            assert order.status is target
            assert (event.previous_status, event.status) == (current, target)
            assert order.pending_events == [event]
        else:
            with pytest.raises(InvalidTransition) as refused:
                order.transition_to(target, "test")
            assert (refused.value.current, refused.value.target) == (current, target)
            assert f"{current} cannot move to {target}" in str(refused.value)
            assert order.status is current
            assert order.pending_events == []

    def test_nothing_moves_to_itself(self) -> None:
        assert not any(can_transition(status, status) for status in S)


class TestTerminalStatuses:
    def test_fulfillment_is_over_once_completed_returned_failed_or_cancelled(self) -> None:
        assert {S.COMPLETED, S.PARTIALLY_RETURNED, S.RETURNED, S.FAILED, S.CANCELLED} == TERMINAL

    @pytest.mark.parametrize("terminal", sorted(TERMINAL))
    def test_a_terminal_status_leads_only_to_a_return_or_a_reopen(self, terminal: OrderStatus) -> None:
        exits = {target for target in S if can_transition(terminal, target)}
        assert exits <= ({S.RECEIVED} if terminal is S.FAILED else {S.PARTIALLY_RETURNED, S.RETURNED})

    def test_returned_statuses_lie_beyond_completion(self) -> None:
        assert has_reached(S.PARTIALLY_RETURNED, S.COMPLETED)
        assert has_reached(S.RETURNED, S.DELIVERED)
        assert not has_reached(S.COMPLETED, S.PARTIALLY_RETURNED)

    @pytest.mark.parametrize("status", sorted(set(S) - TERMINAL))
    def test_every_other_status_leads_somewhere(self, status: OrderStatus) -> None:
        assert any(can_transition(status, target) for target in S)


class TestHappyPath:
    def test_the_path_runs_from_received_to_completed(self) -> None:
        assert FULFILLMENT_PATH[0] is S.RECEIVED
        assert FULFILLMENT_PATH[-1] is S.COMPLETED
        assert len(set(FULFILLMENT_PATH)) == len(FULFILLMENT_PATH) == 9

    def test_an_order_walks_the_whole_path(self) -> None:
        order = make_order(status=S.PENDING_PAYMENT)
        order.transition_to(S.RECEIVED, "paid")
        for target in FULFILLMENT_PATH[1:]:
            order.transition_to(target, f"to {target}")

        assert order.status is S.COMPLETED
        assert [event.status for event in order.pending_events] == list(FULFILLMENT_PATH)
        assert [event.seq for event in order.pending_events] == list(range(1, 10))

    @pytest.mark.parametrize("status", FULFILLMENT_PATH[:-1])
    def test_a_started_order_can_fail(self, status: OrderStatus) -> None:
        assert can_transition(status, S.FAILED)


class TestCancellation:
    @pytest.mark.parametrize(
        "status", [S.PENDING_PAYMENT, S.RECEIVED, S.VALIDATED, S.RESERVED, S.INSPECTED, S.PACKAGED, S.SHIPPED]
    )
    def test_an_order_can_be_cancelled_until_it_is_delivered(self, status: OrderStatus) -> None:
        order = make_order(status=status)
        order.transition_to(S.CANCELLED, "customer changed their mind")
        assert order.status is S.CANCELLED

    @pytest.mark.parametrize("status", [S.DELIVERED, S.PAYMENT_COMPLETED, S.COMPLETED, S.FAILED])
    def test_a_delivered_or_finished_order_cannot_be_cancelled(self, status: OrderStatus) -> None:
        with pytest.raises(InvalidTransition):
            make_order(status=status).transition_to(S.CANCELLED, "too late")


class TestHasReached:
    @pytest.mark.parametrize(
        ("current", "milestone", "reached"),
        [
            (S.RECEIVED, S.RECEIVED, True),
            (S.VALIDATED, S.RECEIVED, True),
            (S.RECEIVED, S.VALIDATED, False),
            (S.SHIPPED, S.PACKAGED, True),
            (S.PACKAGED, S.SHIPPED, False),
            (S.PAYMENT_COMPLETED, S.DELIVERED, True),
            (S.COMPLETED, S.SHIPPED, True),
            (S.DELIVERED, S.COMPLETED, False),
            # off the path, only the status itself counts
            (S.PENDING_PAYMENT, S.RECEIVED, False),
            (S.RECEIVED, S.PENDING_PAYMENT, False),
            (S.PENDING_PAYMENT, S.PENDING_PAYMENT, True),
            (S.FAILED, S.VALIDATED, False),
            (S.FAILED, S.FAILED, True),
            (S.CANCELLED, S.SHIPPED, False),
            (S.COMPLETED, S.FAILED, False),
            (S.COMPLETED, S.CANCELLED, False),
        ],
    )
    def test_reached_means_the_milestone_or_later_on_the_path(
        self, current: OrderStatus, milestone: OrderStatus, reached: bool
    ) -> None:
        assert has_reached(current, milestone) is reached


class TestTimelineSequence:
    def test_a_new_order_starts_at_seq_one(self) -> None:
        order = make_order(paid=False)
        event = order.record_receipt("placed")
        assert (event.seq, event.status, event.previous_status) == (1, S.PENDING_PAYMENT, None)

    def test_a_paid_new_order_is_received_at_once(self) -> None:
        order = make_order(paid=True)
        assert order.record_receipt("placed and paid").status is S.RECEIVED
        assert order.status is S.RECEIVED

    def test_seq_numbers_stay_gapless_across_saves(self) -> None:
        orders = InMemoryOrderRepository()
        order = store_new_order(orders)
        order.transition_to(S.VALIDATED, "checked")
        order.transition_to(S.RESERVED, "reserved")
        orders.save(order)
        orders.save(order)  # a save without events moves the version, not the sequence

        reloaded = orders.get(order.key)
        assert reloaded is not None
        assert reloaded.version == 3
        assert reloaded.transition_to(S.INSPECTED, "inspected").seq == 4
        orders.save(reloaded)
        assert [event.seq for event in orders.timeline(order.key)] == [1, 2, 3, 4]

    def test_events_carry_the_given_time_and_detail(self) -> None:
        at = datetime(2025, 6, 4, 7, 12, 40, tzinfo=UTC)
        order = make_order(status=S.RECEIVED)
        event = order.transition_to(S.VALIDATED, "checked", at=at, lines=1)
        assert (event.at, event.reason, event.detail) == (at, "checked", {"lines": 1})

    def test_events_default_to_now_in_utc(self) -> None:
        before = datetime.now(UTC)
        event = make_order(status=S.RECEIVED).transition_to(S.VALIDATED, "checked")
        assert before <= event.at <= datetime.now(UTC)
        assert event.at.utcoffset() is not None
