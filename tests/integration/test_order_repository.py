"""DynamoOrderRepository against moto: optimistic locking, atomic timeline, status index."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound
from fulfillment.errors import VersionConflict
from fulfillment.model import OrderStatus
from fulfillment.model.order import WaitTime
from fulfillment.model.packaging import Package
from fulfillment.model.store import Store, WebhookRequest
from tests.integration.conftest import AwsStack


@pytest.fixture
def repo(aws: AwsStack) -> DynamoOrderRepository:
    return DynamoOrderRepository(aws.table_name, aws.dynamodb)


def _order(body: bytes, external_id: str = "4711", store_id: str = "kaffeekontor"):  # type: ignore[no-untyped-def]
    store = Store(store_id="kaffeekontor", platform="woocommerce", secret_ref="unused")
    order = WooCommerceInbound().read(WebhookRequest(body=body), store).order
    assert order is not None
    return order.model_copy(update={"external_id": external_id, "store_id": store_id})


def _received(repo: DynamoOrderRepository, body: bytes, store_id: str, external_id: str) -> str:
    order = _order(body, external_id, store_id)
    order.record_receipt("placed and paid")
    repo.create(order)
    return str(order.key)


def _moved(repo: DynamoOrderRepository, key: str, *statuses: OrderStatus) -> str:
    order = repo.get(key)
    assert order is not None
    for status in statuses:
        order.transition_to(status, f"to {status}")
    repo.save(order)
    return key


@pytest.fixture
def queries(aws: AwsStack) -> Iterator[list[dict[str, Any]]]:
    """Every Query the repository sends, as sent."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    aws.dynamodb.meta.events.register("provide-client-params.dynamodb.Query", record)
    yield sent
    aws.dynamodb.meta.events.unregister("provide-client-params.dynamodb.Query", record)


class TestCreateAndLoad:
    def test_round_trips_an_order_exactly(self, repo: DynamoOrderRepository, woo_paid_body: bytes) -> None:
        order = _order(woo_paid_body)
        order.record_receipt("placed and paid")
        repo.create(order)

        loaded = repo.get(order.key)

        assert loaded is not None
        assert loaded.model_dump(exclude={"version", "events_recorded"}) == order.model_dump(
            exclude={"version", "events_recorded"}
        )
        assert (loaded.version, loaded.events_recorded) == (1, 1)
        assert loaded.totals.grand_total.minor == 12602

    def test_a_second_create_of_the_same_order_conflicts(
        self, repo: DynamoOrderRepository, woo_paid_body: bytes
    ) -> None:
        first, second = _order(woo_paid_body), _order(woo_paid_body)
        first.record_receipt("placed")
        second.record_receipt("placed")
        repo.create(first)

        with pytest.raises(VersionConflict):
            repo.create(second)

        assert len(repo.timeline(first.key)) == 1


class TestOptimisticLocking:
    def test_a_stale_copy_cannot_overwrite_a_newer_save(
        self, repo: DynamoOrderRepository, woo_paid_body: bytes
    ) -> None:
        order = _order(woo_paid_body)
        order.record_receipt("placed and paid")
        repo.create(order)
        mine, theirs = repo.get(order.key), repo.get(order.key)
        assert mine is not None and theirs is not None
        theirs.transition_to(OrderStatus.VALIDATED, "theirs")
        repo.save(theirs)

        mine.transition_to(OrderStatus.CANCELLED, "mine")
        with pytest.raises(VersionConflict):
            repo.save(mine)

        stored = repo.get(order.key)
        assert stored is not None and stored.status is OrderStatus.VALIDATED
        assert [event.reason for event in repo.timeline(order.key)] == ["placed and paid", "theirs"]


class TestAtomicTimeline:
    def test_a_status_change_and_its_event_are_written_together_or_not_at_all(
        self, aws: AwsStack, repo: DynamoOrderRepository, woo_paid_body: bytes
    ) -> None:
        order = _order(woo_paid_body)
        order.record_receipt("placed and paid")
        repo.create(order)
        loaded = repo.get(order.key)
        assert loaded is not None
        # GIVEN an event item already occupying the slot the next event would take
        aws.dynamodb.put_item(
            TableName=aws.table_name,
            Item={
                "PK": {"S": f"ORDER#{order.key}"},
                "SK": {"S": "EVENT#00000002"},
                "seq": {"N": "2"},
            },
        )
        loaded.transition_to(OrderStatus.VALIDATED, "checked")

        with pytest.raises(VersionConflict):
            repo.save(loaded)

        # THEN the order's status did not move without its event
        stored = repo.get(order.key)
        assert stored is not None and stored.status is OrderStatus.RECEIVED and stored.version == 1

    def test_timeline_lists_events_in_order(self, repo: DynamoOrderRepository, woo_paid_body: bytes) -> None:
        order = _order(woo_paid_body)
        order.record_receipt("placed and paid")
        repo.create(order)
        for status in (OrderStatus.VALIDATED, OrderStatus.RESERVED, OrderStatus.INSPECTED):
            loaded = repo.get(order.key)
            assert loaded is not None
            loaded.transition_to(status, f"to {status}")
            repo.save(loaded)

        timeline = repo.timeline(order.key)

        assert [event.seq for event in timeline] == [1, 2, 3, 4]
        assert [event.status for event in timeline][-1] is OrderStatus.INSPECTED
        assert timeline[1].previous_status is OrderStatus.RECEIVED


class TestStatusIndex:
    def test_lists_orders_by_their_current_status(self, repo: DynamoOrderRepository, woo_paid_body: bytes) -> None:
        for external_id in ("1", "2", "3"):
            order = _order(woo_paid_body, external_id)
            order.record_receipt("placed and paid")
            repo.create(order)
        moved = repo.get("kaffeekontor:2")
        assert moved is not None
        moved.transition_to(OrderStatus.VALIDATED, "checked")
        repo.save(moved)

        received = {order.external_id for order in repo.list_by_status(OrderStatus.RECEIVED)}
        validated = {order.external_id for order in repo.list_by_status(OrderStatus.VALIDATED)}

        assert (received, validated) == ({"1", "3"}, {"2"})

    def test_a_store_whose_orders_are_older_than_fifty_others_is_listed_in_full(
        self, repo: DynamoOrderRepository, woo_paid_body: bytes, queries: list[dict[str, Any]]
    ) -> None:
        quiet = [_received(repo, woo_paid_body, "quiet-shop", str(n)) for n in (1, 2, 3)]
        for n in range(60):
            _received(repo, woo_paid_body, f"busy-shop-{n % 6}", str(100 + n))
        queries.clear()

        listed = repo.list_by_status(OrderStatus.RECEIVED, store_id="quiet-shop")
        newest_two = repo.list_by_status(OrderStatus.RECEIVED, limit=2, store_id="quiet-shop")

        assert [order.key for order in listed] == quiet[::-1]
        assert [order.key for order in newest_two] == quiet[:0:-1]
        assert all(query["FilterExpression"] == "store_id = :store" for query in queries)  # filtered by DynamoDB

    def test_a_store_filter_pages_through_the_index_until_the_limit_is_met(
        self, aws: AwsStack, woo_paid_body: bytes, queries: list[dict[str, Any]]
    ) -> None:
        repo = DynamoOrderRepository(aws.table_name, aws.dynamodb, filtered_page_size=2)
        mine = []
        for n in range(12):  # every third order is the quiet store's: 4 of 12
            store = "quiet-shop" if n % 3 == 0 else "busy-shop"
            key = _received(repo, woo_paid_body, store, str(n))
            if store == "quiet-shop":
                mine.append(key)
        queries.clear()

        every = repo.list_by_status(OrderStatus.RECEIVED, store_id="quiet-shop")
        pages_for_every = len(queries)
        queries.clear()
        newest_two = repo.list_by_status(OrderStatus.RECEIVED, limit=2, store_id="quiet-shop")

        assert [order.key for order in every] == mine[::-1]
        assert pages_for_every >= 6  # 12 index items, 2 a page (DynamoDB may need one more, empty, to see the end)
        assert all("ExclusiveStartKey" in query for query in queries[1:]) and queries[0]["Limit"] == 2
        assert [order.key for order in newest_two] == mine[:1:-1]
        assert len(queries) == 3  # stops once two matched (items 11, 10 | 9 ✓, 8 | 7, 6 ✓)

    def test_without_a_status_it_lists_the_newest_orders_of_every_status(
        self, aws: AwsStack, woo_paid_body: bytes
    ) -> None:
        repo = DynamoOrderRepository(aws.table_name, aws.dynamodb, filtered_page_size=1)
        first = _received(repo, woo_paid_body, "kaffeekontor", "1")
        other = _received(repo, woo_paid_body, "other-shop", "2")
        second = _received(repo, woo_paid_body, "kaffeekontor", "3")
        _moved(repo, first, OrderStatus.VALIDATED)
        third = _received(repo, woo_paid_body, "kaffeekontor", "4")
        _moved(repo, second, OrderStatus.VALIDATED, OrderStatus.FAILED)

        everything = repo.list_by_status()
        mine = repo.list_by_status(store_id="kaffeekontor")
        newest_two = repo.list_by_status(limit=2, store_id="kaffeekontor")

        assert [order.key for order in everything] == [second, third, first, other]  # by last change
        assert [(order.key, order.status) for order in mine] == [
            (second, OrderStatus.FAILED),
            (third, OrderStatus.RECEIVED),
            (first, OrderStatus.VALIDATED),
        ]
        assert [order.key for order in newest_two] == [second, third]


class TestTrackingLookup:
    def test_finds_the_order_of_a_carrier_shipment_once_it_is_recorded(
        self, repo: DynamoOrderRepository, woo_paid_body: bytes
    ) -> None:
        order = _order(woo_paid_body)
        order.record_receipt("placed and paid")
        order.packages = [Package(box_code="S", items=(("MUG-CC-BLU", 1),), weight_g=620)]
        repo.create(order)
        loaded = repo.get(order.key)
        assert loaded is not None
        assert repo.find_by_tracking("easypost", "shp_1") is None

        loaded.record_shipment(0, "easypost", "shp_1")
        repo.save(loaded)

        assert repo.find_by_tracking("easypost", "shp_1") == order.key
        assert repo.find_by_tracking("easypost", "shp_2") is None
        stored = repo.get(order.key)
        assert stored is not None and stored.packages[0].shipment_id == "shp_1"


def test_a_timed_wait_round_trips(repo: DynamoOrderRepository, woo_paid_body: bytes) -> None:
    """``wait.since`` and ``wait.last`` (CallbackWaitSeconds) are stored as DynamoDB takes them: no floats."""
    from datetime import UTC, datetime

    order = _order(woo_paid_body)
    order.record_receipt("placed and paid")
    order.wait.since = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    order.wait.last = WaitTime(kind="approval", seconds=Decimal("90.250"))
    repo.create(order)

    stored = repo.get(order.key)
    assert stored is not None and (stored.wait.since, stored.wait.last) == (order.wait.since, order.wait.last)


class TestParcelsAndContents:
    """A parcel's tracker status in its own item beside the order; a parcel's contents as one attribute."""

    FINAL = frozenset({"delivered", "failure"})

    def _shipped(self, repo: DynamoOrderRepository, body: bytes) -> str:
        order = _order(body, "4790")
        order.packages = [
            Package(box_code="BOX-M", items=(("MUG-CC-BLU", 2), ("TORCH-CB-01", 1)), weight_g=900, shipment_id="shp_1"),
            Package(box_code="BOX-S", items=(("TEE-ORG-M-GRN", 1),), weight_g=300, shipment_id="shp_2"),
        ]
        order.record_receipt("placed and paid")
        repo.create(order)
        return str(order.key)

    def test_statuses_are_read_back_onto_the_packages_and_a_final_one_stands(
        self, repo: DynamoOrderRepository, aws: AwsStack, woo_paid_body: bytes
    ) -> None:
        key = self._shipped(repo, woo_paid_body)

        assert repo.record_parcel_status(key, "shp_1", "in_transit", unless=self.FINAL)
        assert repo.record_parcel_status(key, "shp_1", "delivered", unless=self.FINAL)
        assert not repo.record_parcel_status(key, "shp_1", "in_transit", unless=self.FINAL)  # a late scan
        assert repo.record_parcel_status(key, "shp_2", "out_for_delivery", unless=self.FINAL)

        order = repo.get(key)
        assert order is not None
        assert [p.tracking_status for p in order.packages] == ["delivered", "out_for_delivery"]
        assert order.version == 1  # the order item was never written
        stored = aws.dynamodb.get_item(
            TableName=aws.table_name, Key={"PK": {"S": f"ORDER#{key}"}, "SK": {"S": "ORDER"}}
        )
        assert stored["Item"]["packages"]["L"][0]["M"]["items"] == {"S": '[["MUG-CC-BLU",2],["TORCH-CB-01",1]]'}
        assert order.packages[0].items == (("MUG-CC-BLU", 2), ("TORCH-CB-01", 1))

    def test_an_order_with_no_shipment_is_read_with_one_get_and_no_query(
        self, repo: DynamoOrderRepository, queries: list[dict[str, Any]], woo_paid_body: bytes
    ) -> None:
        key = _received(repo, woo_paid_body, "kaffeekontor", "4791")

        assert repo.get(key) is not None
        assert queries == []
