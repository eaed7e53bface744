"""DynamoReturnRepository against moto (the table from template.yaml): a return beside its order, its
timeline, the status index, and optimistic locking on the return and, in the same transaction, its order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.adapters.dynamodb_returns import DynamoReturnRepository
from fulfillment.errors import VersionConflict
from fulfillment.model import Order, OrderStatus
from fulfillment.model.returns import Resolution, Return, ReturnLine, ReturnSource, ReturnStatus
from tests.fakes import make_order, money
from tests.integration.conftest import AwsStack

R = ReturnStatus


@pytest.fixture
def orders(aws: AwsStack) -> DynamoOrderRepository:
    return DynamoOrderRepository(aws.table_name, aws.dynamodb)


@pytest.fixture
def returns(aws: AwsStack) -> DynamoReturnRepository:
    return DynamoReturnRepository(aws.table_name, aws.dynamodb)


@pytest.fixture
def order(orders: DynamoOrderRepository) -> Order:
    """A delivered order, stored."""
    placed = make_order(status=OrderStatus.COMPLETED)
    placed.record_receipt("placed for a test", at=placed.placed_at)
    orders.create(placed)
    stored = orders.get(placed.key)
    assert stored is not None
    return stored


def open_return(order: Order, quantity: int = 1) -> Return:
    """What opening a return does to the order and the return, before the save (as ``request_return``)."""
    number = order.returns.opened + 1
    ret = Return(
        order_key=order.key,
        number=number,
        store_id=order.store_id,
        platform=order.platform,
        external_order_id=order.external_id,
        source=ReturnSource.OPERATOR,
        reason="defective",
        resolution=Resolution.REFUND,
        lines=(ReturnLine(line_id="301", sku="MUG-CC-BLU", quantity=quantity, unit_price=money("14.50")),),
        requested_by="cs-anna",
        requested_at=datetime(2025, 6, 20, 9, 30, tzinfo=UTC),
    )
    ret.record_request(f"requested by cs-anna: {quantity} unit(s), defective")
    order.returns.opened = number
    order.note(f"return R{number} requested", return_key=ret.key)
    return ret


def authorize(ret: Return, order: Order) -> None:
    ret.rma = ret.rma_number()
    ret.transition_to(R.AUTHORIZED, "within the return window", rma=ret.rma)
    order.returns.claims = {"301": order.returns.claims.get("301", 0) + ret.lines[0].quantity}
    order.note(f"return R{ret.number} authorized")


class TestCreate:
    def test_a_return_its_request_and_the_orders_counter_are_written_together(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        ret = open_return(order)

        returns.create(ret, order)

        assert (ret.version, ret.events_recorded, ret.pending_events) == (1, 1, [])
        stored = returns.get("kaffeekontor:4711:R1")
        assert stored is not None
        assert stored.model_dump() == ret.model_dump()
        assert [(e.seq, e.status, e.reason) for e in returns.timeline(ret.key)] == [
            (1, R.REQUESTED, "requested by cs-anna: 1 unit(s), defective")
        ]
        on_disk = orders.get(order.key)
        assert on_disk is not None and on_disk.returns.opened == 1 and on_disk.version == order.version == 2
        assert orders.timeline(order.key)[-1].reason == "return R1 requested"

    def test_the_same_return_opened_twice_conflicts_and_the_second_writes_nothing(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        racing = orders.get(order.key)
        assert racing is not None
        returns.create(open_return(order), order)
        second = open_return(racing)  # opened from a copy loaded before the first was saved: also R1

        with pytest.raises(VersionConflict):
            returns.create(second, racing)

        assert [e.reason for e in orders.timeline(order.key)] == ["placed for a test", "return R1 requested"]
        assert len(returns.timeline(second.key)) == 1

    def test_a_stale_order_keeps_the_new_return_from_being_written(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        newer = orders.get(order.key)
        assert newer is not None
        newer.note("customer service called")
        orders.save(newer)
        ret = open_return(order)  # from the copy loaded before that save

        with pytest.raises(VersionConflict):
            returns.create(ret, order)

        assert returns.get(ret.key) is None
        assert returns.timeline(ret.key) == []
        assert returns.for_order(order.key) == []
        stored = orders.get(order.key)
        assert stored is not None and stored.returns.opened == 0
        assert ret.version == 0 and len(ret.pending_events) == 1  # nothing pretended to be saved


class TestSave:
    def test_a_change_that_moves_the_orders_counters_saves_both(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        returns.create(ret := open_return(order, quantity=2), order)
        loaded, its_order = returns.get(ret.key), orders.get(order.key)
        assert loaded is not None and its_order is not None

        authorize(loaded, its_order)
        returns.save(loaded, its_order)

        stored = returns.get(ret.key)
        assert stored is not None and (stored.status, stored.rma, stored.version) == (R.AUTHORIZED, ret.rma_number(), 2)
        assert [e.status for e in returns.timeline(ret.key)] == [R.REQUESTED, R.AUTHORIZED]
        after = orders.get(order.key)
        assert after is not None and after.returns.claims == {"301": 2} and after.version == its_order.version == 3

    def test_a_stale_return_cannot_overwrite_a_newer_save(
        self, returns: DynamoReturnRepository, orders: DynamoOrderRepository, order: Order
    ) -> None:
        returns.create(ret := open_return(order), order)
        mine, theirs = returns.get(ret.key), returns.get(ret.key)
        assert mine is not None and theirs is not None
        theirs.rma = theirs.rma_number()
        theirs.transition_to(R.AUTHORIZED, "theirs")
        returns.save(theirs)

        mine.transition_to(R.REJECTED, "mine")
        with pytest.raises(VersionConflict):
            returns.save(mine)

        stored = returns.get(ret.key)
        assert stored is not None and stored.status is R.AUTHORIZED
        assert [e.reason for e in returns.timeline(ret.key)][1:] == ["theirs"]

    def test_a_stale_order_rolls_back_the_returns_change_too(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        returns.create(ret := open_return(order), order)
        loaded, stale_order = returns.get(ret.key), orders.get(order.key)
        assert loaded is not None and stale_order is not None
        meanwhile = orders.get(order.key)
        assert meanwhile is not None
        meanwhile.note("the store sent an update")
        orders.save(meanwhile)

        authorize(loaded, stale_order)
        with pytest.raises(VersionConflict):
            returns.save(loaded, stale_order)

        stored = returns.get(ret.key)
        assert stored is not None and stored.status is R.REQUESTED and stored.version == 1
        assert [e.status for e in returns.timeline(ret.key)] == [R.REQUESTED]
        after = orders.get(order.key)
        assert after is not None and after.returns.claims == {}


class TestReads:
    def test_an_orders_returns_are_listed_without_their_events(
        self, orders: DynamoOrderRepository, returns: DynamoReturnRepository, order: Order
    ) -> None:
        first = open_return(order)
        returns.create(first, order)
        second = open_return(order)
        returns.create(second, order)
        first.rma = first.rma_number()
        first.transition_to(R.AUTHORIZED, "ok")
        returns.save(first)
        other = make_order(external_id="4712", status=OrderStatus.COMPLETED)
        other.record_receipt("another order")
        orders.create(other)
        returns.create(open_return(other), other)

        listed = returns.for_order(order.key)

        assert [(r.key, r.status) for r in listed] == [
            ("kaffeekontor:4711:R1", R.AUTHORIZED),
            ("kaffeekontor:4711:R2", R.REQUESTED),
        ]
        assert [e.status for e in returns.timeline(first.key)] == [R.REQUESTED, R.AUTHORIZED]
        assert [e.status for e in returns.timeline(second.key)] == [R.REQUESTED]

    def test_the_status_index_follows_each_save_newest_first(
        self, returns: DynamoReturnRepository, order: Order
    ) -> None:
        opened = []
        for _ in range(3):
            returns.create(ret := open_return(order), order)
            opened.append(ret)
        for ret in (opened[2], opened[0]):
            ret.rma = ret.rma_number()
            ret.transition_to(R.AUTHORIZED, "ok")
            returns.save(ret)

        assert [r.number for r in returns.list_by_status(R.AUTHORIZED)] == [1, 3]
        assert [r.number for r in returns.list_by_status(R.REQUESTED)] == [2]
        assert [r.number for r in returns.list_by_status(R.AUTHORIZED, limit=1)] == [1]
        assert returns.list_by_status(R.CLOSED) == []

    @pytest.mark.parametrize("key", ["kaffeekontor:4711:R9", "kaffeekontor:4711", "kaffeekontor:4711:R0", "R1"])
    def test_a_key_that_names_no_stored_return_finds_nothing(
        self, returns: DynamoReturnRepository, order: Order, key: str
    ) -> None:
        returns.create(open_return(order), order)

        assert returns.get(key) is None
