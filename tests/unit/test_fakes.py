"""The fakes keep the real adapters' contracts; if these fail, every service test is suspect."""

from __future__ import annotations

import pytest

from fulfillment.errors import ShipmentRejected, VersionConflict
from fulfillment.model import OrderStatus
from fulfillment.model.packaging import Package
from fulfillment.model.shipping import ShipmentRequest
from tests.fakes import (
    WAREHOUSE,
    FakeCarrier,
    InMemoryOrderRepository,
    RecordingWorkflow,
    make_address,
    make_order,
    store_new_order,
)


class TestInMemoryOrderRepository:
    def test_create_stores_the_order_with_version_one_and_its_receipt_event(self) -> None:
        orders = InMemoryOrderRepository()
        order = make_order()
        order.record_receipt("placed")

        orders.create(order)

        stored = orders.get(order.key)
        assert stored is not None
        assert (stored.version, stored.events_recorded, stored.pending_events) == (1, 1, [])
        assert (order.version, order.events_recorded, order.pending_events) == (1, 1, [])
        assert [event.seq for event in orders.timeline(order.key)] == [1]

    def test_refuses_to_create_an_order_that_exists(self) -> None:
        orders = InMemoryOrderRepository()
        store_new_order(orders)

        with pytest.raises(VersionConflict):
            orders.create(make_order())
        assert len(orders) == 1

    def test_save_bumps_the_version_and_appends_pending_events(self) -> None:
        orders = InMemoryOrderRepository()
        order = store_new_order(orders)
        order.transition_to(OrderStatus.VALIDATED, "checked")
        order.transition_to(OrderStatus.RESERVED, "reserved")

        orders.save(order)

        assert (order.version, order.events_recorded, order.pending_events) == (2, 3, [])
        stored = orders.get(order.key)
        assert stored is not None
        assert (stored.status, stored.version, stored.events_recorded) == (OrderStatus.RESERVED, 2, 3)

    def test_refuses_a_save_from_a_stale_copy(self) -> None:
        orders = InMemoryOrderRepository()
        first = store_new_order(orders)
        second = orders.get(first.key)
        assert second is not None
        first.transition_to(OrderStatus.VALIDATED, "checked")
        orders.save(first)

        second.transition_to(OrderStatus.FAILED, "gave up")
        with pytest.raises(VersionConflict):
            orders.save(second)
        stored = orders.get(first.key)
        assert stored is not None
        assert stored.status is OrderStatus.VALIDATED
        assert [event.status for event in orders.timeline(first.key)] == [OrderStatus.RECEIVED, OrderStatus.VALIDATED]

    def test_refuses_to_save_an_order_that_was_never_created(self) -> None:
        with pytest.raises(VersionConflict):
            InMemoryOrderRepository().save(make_order())

    def test_callers_cannot_change_stored_state_without_saving(self) -> None:
        orders = InMemoryOrderRepository()
        order = store_new_order(orders)
        order.shipping_address = make_address(city="Hamburg")
        loaded = orders.get(order.key)
        assert loaded is not None
        loaded.status = OrderStatus.CANCELLED

        again = orders.get(order.key)
        assert again is not None
        assert (again.status, again.shipping_address.city) == (OrderStatus.RECEIVED, "Berlin")

    def test_timeline_is_in_seq_order(self) -> None:
        orders = InMemoryOrderRepository()
        order = store_new_order(orders)
        for status in (OrderStatus.VALIDATED, OrderStatus.RESERVED, OrderStatus.INSPECTED):
            order.transition_to(status, "step")
            orders.save(order)

        assert [event.seq for event in orders.timeline(order.key)] == [1, 2, 3, 4]
        assert orders.timeline("kaffeekontor:nope") == []

    def test_finds_an_order_by_a_carrier_shipment_once_it_is_recorded(self) -> None:
        orders = InMemoryOrderRepository()
        order = store_new_order(orders)
        order.packages = [Package(box_code="S", items=(("MUG-CC-BLU", 2),), weight_g=900)]
        orders.save(order)
        assert orders.find_by_tracking("easypost", "shp_1") is None

        order.record_shipment(0, "easypost", "shp_1")
        orders.save(order)

        assert orders.find_by_tracking("easypost", "shp_1") == order.key
        assert orders.find_by_tracking("othercarrier", "shp_1") is None

    def test_lists_orders_by_status_most_recently_saved_first(self) -> None:
        orders = InMemoryOrderRepository()
        first = store_new_order(orders, external_id="1")
        store_new_order(orders, external_id="2")
        store_new_order(orders, external_id="3", paid=False)
        first.transition_to(OrderStatus.VALIDATED, "checked")
        first.transition_to(OrderStatus.FAILED, "x")
        orders.save(first)
        store_new_order(orders, external_id="4")

        received = orders.list_by_status(OrderStatus.RECEIVED)
        assert [order.external_id for order in received] == ["4", "2"]
        assert [order.external_id for order in orders.list_by_status(OrderStatus.RECEIVED, limit=1)] == ["4"]

    def test_lists_one_stores_orders_and_without_a_status_every_status(self) -> None:
        orders = InMemoryOrderRepository()
        first = store_new_order(orders, external_id="1")
        store_new_order(orders, external_id="2", store_id="other-shop")
        store_new_order(orders, external_id="3")
        first.transition_to(OrderStatus.VALIDATED, "checked")
        orders.save(first)

        mine = orders.list_by_status(OrderStatus.RECEIVED, store_id="kaffeekontor")
        everything = orders.list_by_status()

        assert [order.external_id for order in mine] == ["3"]
        assert [order.external_id for order in everything] == ["1", "3", "2"]
        assert [order.external_id for order in orders.list_by_status(limit=1, store_id="other-shop")] == ["2"]


class TestRecordingWorkflow:
    def test_starts_an_execution_name_once(self) -> None:
        workflow = RecordingWorkflow()
        assert workflow.start(make_order()) is True
        assert workflow.start(make_order()) is False
        assert workflow.started == ["kaffeekontor_4711"]

    def test_a_task_token_answers_once(self) -> None:
        workflow = RecordingWorkflow()
        assert workflow.heartbeat("t1") is True
        assert workflow.resume("t1", {"order_key": "k"}) is True
        assert workflow.resume("t1", {"order_key": "k"}) is False
        assert workflow.heartbeat("t1") is False
        assert workflow.resumed == [("t1", {"order_key": "k"})]


class TestFakeCarrier:
    def test_one_label_per_shipment_and_only_for_its_own_account(self) -> None:
        carrier = FakeCarrier()
        request = ShipmentRequest(
            reference="kaffeekontor:1:p1", ship_to=make_address(), ship_from=WAREHOUSE, weight_g=900
        )
        created = carrier.create_shipment("EZTKa", request)
        cheapest = min(created.rates, key=lambda rate: rate.cost.minor)

        bought = carrier.buy("EZTKa", created.id, cheapest.id)

        assert bought.label is not None and carrier.shipment("EZTKa", created.id) == bought
        with pytest.raises(ShipmentRejected):
            carrier.buy("EZTKa", created.id, cheapest.id)
        with pytest.raises(ShipmentRejected):
            carrier.shipment("EZTKother", created.id)
        assert carrier.purchases == [created.id]


class TestWhatAwsWouldRefuse:
    """The fakes refuse what DynamoDB and Step Functions would answer with a ValidationException (a 500)."""

    def test_an_order_key_over_dynamodbs_partition_key_limit(self) -> None:
        from tests.fakes import AwsWouldRefuse

        orders = InMemoryOrderRepository()
        order = make_order(external_id="9" * 3_000)
        order.record_receipt("placed")

        with pytest.raises(AwsWouldRefuse, match="2048"):
            orders.create(order)
        with pytest.raises(AwsWouldRefuse):
            orders.get(order.key)
        assert len(orders) == 0

    def test_a_number_over_38_digits(self) -> None:
        from tests.fakes import AwsWouldRefuse

        orders = InMemoryOrderRepository()
        order = make_order()
        order.record_receipt("placed")
        order.inspection_attempts = 10**40

        with pytest.raises(AwsWouldRefuse, match="38 significant digits"):
            orders.create(order)

    def test_an_item_over_400_kb(self) -> None:
        from tests.fakes import AwsWouldRefuse

        orders = InMemoryOrderRepository()
        order = make_order(number="N" * 500_000)
        order.record_receipt("placed")

        with pytest.raises(AwsWouldRefuse, match="409600"):
            orders.create(order)

    def test_an_execution_name_step_functions_would_not_take(self) -> None:
        from tests.fakes import AwsWouldRefuse

        with pytest.raises(AwsWouldRefuse):
            RecordingWorkflow().start_named(make_order(), "x" * 81)
        assert RecordingWorkflow().start(make_order(external_id="9" * 3_000))  # hashed down to 80
