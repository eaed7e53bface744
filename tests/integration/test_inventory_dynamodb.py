"""The inventory contract, against DynamoDB (moto, the table from template.yaml) and the in-memory fake.

Every contract test runs against both (the ``contract`` fixture); the DynamoDB-only tests pin the
item layout, one transaction per reservation and the translation of throttling.

moto's in-process DynamoDB is not thread-safe: raced from threads, its TransactWriteItems checks
conditions and rolls back by restoring a copy of the whole table, so two transactions can both pass
``available >= 1`` (or one undo the other). DynamoDB itself serialises transactions. The race
tests therefore let each *request* run alone (``SerializedClient``), like DynamoDB does, while
whole ``reserve`` calls (a transaction, a read, a second transaction) interleave freely.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fulfillment.adapters.inventory_dynamodb import DynamoInventory
from fulfillment.adapters.platforms.registry import platform_names
from fulfillment.errors import OrderInvalid, OutOfStock, ReservationNotFound, TransientError
from fulfillment.model import Order
from fulfillment.model.inventory import OutOfStockPolicy, ReservationOutcome, ReservedLine, StockLevel
from fulfillment.ports import Inventory
from local.inventory_seed import SEED_FILE, load_seed, seed_inventory
from tests.conftest import ROOT
from tests.fakes import make_line, make_order
from tests.fakes_inventory import InMemoryInventory
from tests.integration.conftest import AwsStack

WAIT, PARTIAL, CANCEL = OutOfStockPolicy.WAIT, OutOfStockPolicy.PARTIAL, OutOfStockPolicy.CANCEL
ROUNDS = 20


class SerializedClient:
    """A boto3 client whose requests run one at a time, as DynamoDB serialises transactions (see above)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
                return attribute(*args, **kwargs)

        return call


@pytest.fixture(params=["dynamodb", "memory"])
def contract(request: pytest.FixtureRequest) -> Inventory:
    """Each contract test runs once against DynamoDB (moto) and once against the in-memory fake."""
    if request.param == "dynamodb":
        aws: AwsStack = request.getfixturevalue("aws")
        return DynamoInventory(aws.table_name, SerializedClient(aws.dynamodb))  # type: ignore[arg-type]
    return InMemoryInventory()


@pytest.fixture
def stack(aws: AwsStack) -> Iterator[tuple[DynamoInventory, SerializedClient, AwsStack]]:
    client = SerializedClient(aws.dynamodb)
    yield DynamoInventory(aws.table_name, client), client, aws  # type: ignore[arg-type]


def order_of(external_id: str, *lines: tuple[str, int]) -> Order:
    """An order with one line per (sku, quantity), line ids 1, 2, …"""
    return make_order(
        external_id=external_id,
        lines=tuple(
            make_line(line_id=str(number), sku=sku, quantity=quantity)
            for number, (sku, quantity) in enumerate(lines, start=1)
        ),
    )


def levels(inventory: Inventory, *skus: str, warehouse: str = "main") -> dict[str, tuple[int, int, int]]:
    """(on_hand, reserved, available) per SKU; (0, 0, 0) for an SKU never stocked."""
    found: dict[str, tuple[int, int, int]] = {}
    for sku in skus:
        level = inventory.level(warehouse, sku) or StockLevel(warehouse=warehouse, sku=sku)
        found[sku] = (level.on_hand, level.reserved, level.available)
    return found


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once from threads; each one's result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # the race reports what each side got
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# --- reserve ------------------------------------------------------------------------------------
class TestReserve:
    def test_holds_every_line_in_one_step(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 10)
        contract.restock("main", "TEE", 5)

        outcome = contract.reserve(order_of("1", ("MUG", 2), ("TEE", 5)), CANCEL)

        assert outcome.complete and outcome.policy_applied is None and outcome.short == {}
        assert outcome.reservation is not None
        assert outcome.reservation.status == "held"
        assert outcome.reservation.lines == (
            ReservedLine(sku="MUG", quantity=2, line_id="1"),
            ReservedLine(sku="TEE", quantity=5, line_id="2"),
        )
        assert levels(contract, "MUG", "TEE") == {"MUG": (10, 2, 8), "TEE": (5, 5, 0)}
        assert contract.reservation(outcome.reservation.order_key) == outcome.reservation

    @pytest.mark.parametrize("second_policy", [WAIT, PARTIAL, CANCEL])
    def test_reserving_twice_takes_stock_once(self, contract: Inventory, second_policy: OutOfStockPolicy) -> None:
        contract.restock("main", "MUG", 3)
        order = order_of("1", ("MUG", 2))

        first = contract.reserve(order, CANCEL)
        again = contract.reserve(order, second_policy)  # a Step Functions retry of a call whose answer was lost

        assert again == first
        assert levels(contract, "MUG") == {"MUG": (3, 2, 1)}

    def test_a_retry_returns_the_reservation_even_when_stock_is_gone_meanwhile(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 2)
        order = order_of("1", ("MUG", 2))
        first = contract.reserve(order, WAIT)

        assert contract.reserve(order, WAIT) == first  # not OutOfStock: the units are this order's
        assert levels(contract, "MUG") == {"MUG": (2, 2, 0)}

    @pytest.mark.parametrize("policy", [WAIT, CANCEL])
    def test_wait_and_cancel_take_nothing_and_report_what_is_short(
        self, contract: Inventory, policy: OutOfStockPolicy
    ) -> None:
        contract.restock("main", "MUG", 1)
        order = order_of("1", ("MUG", 3))

        with pytest.raises(OutOfStock) as raised:
            contract.reserve(order, policy)

        assert raised.value.short == {"MUG": 2}
        assert raised.value.policy == policy.value
        assert contract.reservation(order.key) is None
        assert levels(contract, "MUG") == {"MUG": (1, 0, 1)}

    def test_several_skus_are_all_or_nothing_under_cancel(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 10)
        contract.restock("main", "TEE", 10)
        contract.restock("main", "TORCH", 1)
        order = order_of("1", ("MUG", 2), ("TEE", 3), ("TORCH", 2))

        with pytest.raises(OutOfStock) as raised:
            contract.reserve(order, CANCEL)

        assert raised.value.short == {"TORCH": 1}
        assert levels(contract, "MUG", "TEE", "TORCH") == {
            "MUG": (10, 0, 10),
            "TEE": (10, 0, 10),
            "TORCH": (1, 0, 1),
        }
        assert contract.reservation(order.key) is None

    def test_partial_reserves_what_is_there_and_reports_the_rest_as_short(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 10)
        contract.restock("main", "TORCH", 1)
        order = order_of("1", ("MUG", 2), ("TORCH", 3), ("GONE", 1))

        outcome = contract.reserve(order, PARTIAL)

        assert outcome.short == {"TORCH": 2, "GONE": 1}
        assert outcome.policy_applied is PARTIAL
        assert not outcome.complete
        assert outcome.reservation is not None
        assert outcome.reservation.lines == (
            ReservedLine(sku="MUG", quantity=2, line_id="1"),
            ReservedLine(sku="TORCH", quantity=1, line_id="2"),
        )
        assert outcome.reservation.short == {"TORCH": 2, "GONE": 1}
        assert levels(contract, "MUG", "TORCH", "GONE") == {
            "MUG": (10, 2, 8),
            "TORCH": (1, 1, 0),
            "GONE": (0, 0, 0),
        }

    def test_a_partial_reservation_is_replayed_as_it_was_even_after_a_restock(self, contract: Inventory) -> None:
        contract.restock("main", "TORCH", 1)
        order = order_of("1", ("TORCH", 3))
        first = contract.reserve(order, PARTIAL)
        contract.restock("main", "TORCH", 10)

        again = contract.reserve(order, PARTIAL)

        assert again == first
        assert (again.short, again.policy_applied) == ({"TORCH": 2}, PARTIAL)
        assert levels(contract, "TORCH") == {"TORCH": (11, 1, 10)}

    def test_partial_with_nothing_available_raises_out_of_stock(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 1)
        contract.reserve(order_of("first", ("MUG", 1)), CANCEL)
        order = order_of("1", ("MUG", 2), ("GONE", 1))

        with pytest.raises(OutOfStock) as raised:
            contract.reserve(order, PARTIAL)

        assert (raised.value.short, raised.value.policy) == ({"MUG": 2, "GONE": 1}, "partial")
        assert contract.reservation(order.key) is None

    def test_an_unknown_sku_counts_as_none_available(self, contract: Inventory) -> None:
        with pytest.raises(OutOfStock) as raised:
            contract.reserve(order_of("1", ("NEVER-STOCKED", 4)), WAIT)

        assert raised.value.short == {"NEVER-STOCKED": 4}
        assert contract.level("main", "NEVER-STOCKED") is None  # a failed reservation creates no stock item

    def test_an_sku_on_two_lines_is_reserved_as_one_and_split_first_line_first(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 3)
        order = order_of("1", ("MUG", 2), ("TEE", 1), ("MUG", 2))
        contract.restock("main", "TEE", 1)

        outcome = contract.reserve(order, PARTIAL)

        assert outcome.short == {"MUG": 1}
        assert outcome.reservation is not None
        assert outcome.reservation.lines == (
            ReservedLine(sku="MUG", quantity=2, line_id="1"),
            ReservedLine(sku="TEE", quantity=1, line_id="2"),
            ReservedLine(sku="MUG", quantity=1, line_id="3"),
        )
        assert levels(contract, "MUG") == {"MUG": (3, 3, 0)}

    def test_a_restock_makes_a_waiting_order_reservable(self, contract: Inventory) -> None:
        contract.restock("main", "TORCH", 1)
        order = order_of("1", ("TORCH", 2))
        with pytest.raises(OutOfStock):
            contract.reserve(order, WAIT)

        contract.restock("main", "TORCH", 5)
        outcome = contract.reserve(order, WAIT)

        assert outcome.complete
        assert levels(contract, "TORCH") == {"TORCH": (6, 2, 4)}

    def test_after_a_release_reserving_again_takes_nothing(self, contract: Inventory) -> None:
        """A late retry of the reserve step after compensation must not take the stock back."""
        contract.restock("main", "MUG", 5)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)
        assert contract.release(order.key)

        outcome = contract.reserve(order, CANCEL)

        assert outcome.reservation is not None
        assert outcome.reservation.status == "released"
        assert levels(contract, "MUG") == {"MUG": (5, 0, 5)}

    def test_an_order_without_lines_is_invalid(self, contract: Inventory) -> None:
        with pytest.raises(OrderInvalid):
            contract.reserve(make_order(lines=()), CANCEL)


MANY = tuple(f"SKU-{number:03d}" for number in range(120))  # more SKUs than one transaction takes (99)


def stocked(inventory: Inventory, units: int = 3, skus: tuple[str, ...] = MANY) -> None:
    for sku in skus:
        inventory.restock("main", sku, units)


class TestOrdersOfManySkus:
    """Reserved in parts (DynamoDB: a transaction per 99 SKUs), with the same contract as one transaction."""

    def test_every_sku_is_held_once_and_released_once(self, contract: Inventory) -> None:
        stocked(contract)
        order = order_of("1", *((sku, 2) for sku in MANY))

        outcome = contract.reserve(order, CANCEL)
        again = contract.reserve(order, CANCEL)

        assert outcome.complete and again == outcome
        assert outcome.reservation is not None and len(outcome.reservation.lines) == len(MANY)
        assert contract.reservation(order.key) == outcome.reservation
        assert set(levels(contract, *MANY).values()) == {(3, 2, 1)}
        assert contract.release(order.key)
        assert not contract.release(order.key)
        assert set(levels(contract, *MANY).values()) == {(3, 0, 3)}

    def test_consumed_once(self, contract: Inventory) -> None:
        stocked(contract)
        order = order_of("1", *((sku, 2) for sku in MANY))
        contract.reserve(order, CANCEL)

        contract.consume(order.key)
        contract.consume(order.key)

        assert set(levels(contract, *MANY).values()) == {(1, 0, 1)}
        assert not contract.release(order.key)

    @pytest.mark.parametrize("policy", [WAIT, CANCEL])
    def test_one_sku_short_takes_nothing(self, contract: Inventory, policy: OutOfStockPolicy) -> None:
        stocked(contract)
        order = order_of("1", *((sku, 5 if sku == MANY[-1] else 1) for sku in MANY))

        with pytest.raises(OutOfStock) as raised:
            contract.reserve(order, policy)

        assert raised.value.short == {MANY[-1]: 2}
        assert set(levels(contract, *MANY).values()) == {(3, 0, 3)}
        assert contract.reservation(order.key) is None

    def test_partial_takes_what_there_is(self, contract: Inventory) -> None:
        stocked(contract, skus=MANY[:-10])  # the last ten never stocked
        order = order_of("1", *((sku, 1) for sku in MANY))

        outcome = contract.reserve(order, PARTIAL)

        assert outcome.short == dict.fromkeys(MANY[-10:], 1)
        assert outcome.reservation is not None and len(outcome.reservation.lines) == len(MANY) - 10
        assert set(levels(contract, *MANY[:-10]).values()) == {(3, 1, 2)}


@contextmanager
def throttled_transaction(aws: AwsStack, nth: int) -> Iterator[None]:
    """The ``nth`` TransactWriteItems from now is throttled (the step fails midway, to be retried)."""
    sent = 0

    def throttle(**_: Any) -> None:
        nonlocal sent
        sent += 1
        if sent == nth:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Transact")

    aws.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", throttle)
    try:
        yield
    finally:
        aws.dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", throttle)


class TestOrdersOfManySkusInDynamoDB:
    def test_a_reserve_that_failed_midway_is_finished_by_its_retry(
        self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]
    ) -> None:
        inventory, _, aws = stack
        stocked(inventory)
        order = order_of("1", *((sku, 2) for sku in MANY))
        with throttled_transaction(aws, 2), pytest.raises(TransientError):
            inventory.reserve(order, CANCEL)
        assert inventory.reservation(order.key) is None  # only the first part was taken

        outcome = inventory.reserve(order, CANCEL)  # the state machine's retry

        assert outcome.complete
        assert set(levels(inventory, *MANY).values()) == {(3, 2, 1)}  # each SKU taken once

    def test_a_consume_that_failed_midway_is_finished_by_its_retry(
        self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]
    ) -> None:
        inventory, _, aws = stack
        stocked(inventory)
        order = order_of("1", *((sku, 2) for sku in MANY))
        inventory.reserve(order, CANCEL)
        with throttled_transaction(aws, 3), pytest.raises(TransientError):
            inventory.consume(order.key)
        assert not inventory.release(order.key)  # decided: consumed, never released

        inventory.consume(order.key)  # the retry

        assert set(levels(inventory, *MANY).values()) == {(1, 0, 1)}


# --- release and consume -------------------------------------------------------------------------
class TestRelease:
    def test_gives_the_units_back_exactly_once(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 5)
        contract.restock("main", "TEE", 5)
        order = order_of("1", ("MUG", 2), ("TEE", 1))
        contract.reserve(order, CANCEL)

        assert contract.release(order.key) is True
        assert contract.release(order.key) is False  # the compensation step retried

        assert levels(contract, "MUG", "TEE") == {"MUG": (5, 0, 5), "TEE": (5, 0, 5)}
        reservation = contract.reservation(order.key)
        assert reservation is not None
        assert reservation.status == "released"

    def test_nothing_to_release_is_false(self, contract: Inventory) -> None:
        assert contract.release("kaffeekontor:never") is False

    def test_a_consumed_reservation_is_not_released(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 5)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)
        contract.consume(order.key)

        assert contract.release(order.key) is False
        assert levels(contract, "MUG") == {"MUG": (3, 0, 3)}

    def test_releases_into_the_reservations_own_warehouse(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 2)
        contract.restock("east", "MUG", 2)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)

        contract.release(order.key)

        assert levels(contract, "MUG") == {"MUG": (2, 0, 2)}
        assert levels(contract, "MUG", warehouse="east") == {"MUG": (2, 0, 2)}


class TestConsume:
    def test_takes_the_units_out_of_on_hand_and_reserved(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 5)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)

        contract.consume(order.key)

        assert levels(contract, "MUG") == {"MUG": (3, 0, 3)}  # available unchanged by shipping
        reservation = contract.reservation(order.key)
        assert reservation is not None
        assert reservation.status == "consumed"

    def test_consuming_twice_changes_stock_once(self, contract: Inventory) -> None:
        contract.restock("main", "MUG", 5)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)

        contract.consume(order.key)
        contract.consume(order.key)

        assert levels(contract, "MUG") == {"MUG": (3, 0, 3)}

    def test_after_a_release_is_refused(self, contract: Inventory) -> None:
        """Its units may be someone else's by now: shipping it must stop, not pass unnoticed."""
        contract.restock("main", "MUG", 5)
        order = order_of("1", ("MUG", 2))
        contract.reserve(order, CANCEL)
        contract.release(order.key)

        with pytest.raises(ReservationNotFound):
            contract.consume(order.key)

        assert levels(contract, "MUG") == {"MUG": (5, 0, 5)}

    def test_without_a_reservation_is_refused(self, contract: Inventory) -> None:
        with pytest.raises(ReservationNotFound):
            contract.consume("kaffeekontor:never")


class TestRestockAndLevel:
    def test_restock_creates_and_adds(self, contract: Inventory) -> None:
        assert contract.level("main", "MUG") is None

        first = contract.restock("main", "MUG", 4)
        second = contract.restock("main", "MUG", 6)

        assert (first.on_hand, first.reserved, first.available) == (4, 0, 4)
        assert (second.on_hand, second.reserved, second.available) == (10, 0, 10)
        assert contract.level("main", "MUG") == second

    @pytest.mark.parametrize("quantity", [0, -3])
    def test_restock_takes_only_positive_quantities(self, contract: Inventory, quantity: int) -> None:
        with pytest.raises(ValueError, match="positive"):
            contract.restock("main", "MUG", quantity)
        assert contract.level("main", "MUG") is None

    def test_restock_refuses_a_warehouse_id_that_would_break_the_key(self, contract: Inventory) -> None:
        with pytest.raises(ValueError, match="warehouse"):
            contract.restock("main#2", "MUG", 1)

    def test_warehouses_are_separate(self, contract: Inventory) -> None:
        contract.restock("east", "MUG", 5)

        with pytest.raises(OutOfStock):
            contract.reserve(order_of("1", ("MUG", 1)), CANCEL)  # reserves from "main"

        assert levels(contract, "MUG", warehouse="east") == {"MUG": (5, 0, 5)}


# --- races ---------------------------------------------------------------------------------------
class TestRaces:
    @pytest.mark.parametrize("policy", [WAIT, PARTIAL, CANCEL])
    def test_two_orders_never_take_the_same_last_unit(self, contract: Inventory, policy: OutOfStockPolicy) -> None:
        for round_ in range(ROUNDS):
            sku = f"LAST-{round_}"
            contract.restock("main", sku, 1)
            orders = [order_of(f"{round_}-{side}", (sku, 1)) for side in ("a", "b")]

            results = race(*(lambda order=order: contract.reserve(order, policy) for order in orders))

            won = [result for result in results if isinstance(result, ReservationOutcome)]
            lost = [result for result in results if isinstance(result, OutOfStock)]
            assert (len(won), len(lost)) == (1, 1), f"round {round_}: {results}"
            assert won[0].complete
            assert lost[0].short == {sku: 1}
            assert levels(contract, sku) == {sku: (1, 1, 0)}
            held = [contract.reservation(order.key) for order in orders]
            assert sum(reservation is not None for reservation in held) == 1

    def test_partial_orders_racing_share_out_what_there_is_and_no_more(self, contract: Inventory) -> None:
        for round_ in range(ROUNDS):
            sku = f"THREE-{round_}"
            contract.restock("main", sku, 3)
            orders = [order_of(f"{round_}-{side}", (sku, 2)) for side in ("a", "b")]

            results = race(*(lambda order=order: contract.reserve(order, PARTIAL) for order in orders))

            assert all(isinstance(result, ReservationOutcome) for result in results), results
            taken = sorted(result.reservation.quantities()[sku] for result in results)
            assert taken == [1, 2], f"round {round_}: {results}"
            assert sorted(sum(result.short.values()) for result in results) == [0, 1]
            assert levels(contract, sku) == {sku: (3, 3, 0)}

    def test_the_same_order_reserved_twice_at_once_takes_stock_once(self, contract: Inventory) -> None:
        for round_ in range(ROUNDS):
            sku = f"TWICE-{round_}"
            contract.restock("main", sku, 2)
            order = order_of(str(round_), (sku, 2))

            first, second = race(
                lambda order=order: contract.reserve(order, CANCEL), lambda order=order: contract.reserve(order, CANCEL)
            )

            assert isinstance(first, ReservationOutcome) and first == second, (first, second)
            assert levels(contract, sku) == {sku: (2, 2, 0)}

    def test_a_release_and_a_consume_at_once_settle_the_reservation_once(self, contract: Inventory) -> None:
        for round_ in range(ROUNDS):
            sku = f"SETTLE-{round_}"
            contract.restock("main", sku, 5)
            order = order_of(str(round_), (sku, 2))
            contract.reserve(order, CANCEL)

            key = order.key
            released, consumed = race(lambda key=key: contract.release(key), lambda key=key: contract.consume(key))

            reservation = contract.reservation(order.key)
            assert reservation is not None
            if released is True:
                assert isinstance(consumed, ReservationNotFound)
                assert (reservation.status, levels(contract, sku)) == ("released", {sku: (5, 0, 5)})
            else:
                assert (released, consumed) == (False, None)
                assert (reservation.status, levels(contract, sku)) == ("consumed", {sku: (3, 0, 3)})


# --- DynamoDB specifics --------------------------------------------------------------------------
class TestDynamoItems:
    def test_item_layout(self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]) -> None:
        inventory, _, aws = stack
        inventory.restock("main", "MUG-CC-BLU", 10)
        order = order_of("4711", ("MUG-CC-BLU", 2))
        inventory.reserve(order, CANCEL)

        items = {item["PK"]["S"]: item for item in aws.items()}

        assert items["STOCK#main#MUG-CC-BLU"] == {
            "PK": {"S": "STOCK#main#MUG-CC-BLU"},
            "SK": {"S": "STOCK"},
            "warehouse": {"S": "main"},
            "sku": {"S": "MUG-CC-BLU"},
            "on_hand": {"N": "10"},
            "reserved": {"N": "2"},
            "available": {"N": "8"},
        }
        assert items["RESERVATION#kaffeekontor:4711"] == {
            "PK": {"S": "RESERVATION#kaffeekontor:4711"},
            "SK": {"S": "RESERVATION"},
            "order_key": {"S": "kaffeekontor:4711"},
            "warehouse": {"S": "main"},
            "lines": {"L": [{"M": {"sku": {"S": "MUG-CC-BLU"}, "quantity": {"N": "2"}, "line_id": {"S": "1"}}}]},
            "status": {"S": "held"},
            "short": {"M": {}},
        }

    def test_the_stored_available_always_equals_on_hand_less_reserved(
        self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]
    ) -> None:
        inventory, _, aws = stack
        inventory.restock("main", "A", 5)
        inventory.restock("main", "B", 1)
        first, second = order_of("1", ("A", 2), ("B", 1)), order_of("2", ("A", 2), ("B", 1))

        def check() -> None:
            for item in aws.items():
                if item["PK"]["S"].startswith("STOCK#"):
                    on_hand, reserved = int(item["on_hand"]["N"]), int(item["reserved"]["N"])
                    assert int(item["available"]["N"]) == on_hand - reserved >= 0, item

        for step in (
            lambda: inventory.reserve(first, CANCEL),
            lambda: inventory.reserve(second, PARTIAL),
            lambda: inventory.consume(first.key),
            lambda: inventory.release(second.key),
            lambda: inventory.restock("main", "B", 3),
        ):
            step()
            check()

    def test_a_reservation_is_one_transaction_and_a_retry_writes_nothing(
        self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]
    ) -> None:
        inventory, client, _ = stack
        inventory.restock("main", "A", 5)
        inventory.restock("main", "B", 5)
        order = order_of("1", ("A", 2), ("B", 1), ("A", 1))

        inventory.reserve(order, CANCEL)
        assert client.calls["transact_write_items"] == 1

        inventory.reserve(order, CANCEL)
        assert client.calls["transact_write_items"] == 2  # refused by the reservation's condition: no stock moved
        assert levels(inventory, "A", "B") == {"A": (5, 3, 2), "B": (5, 1, 4)}

    def test_partial_needs_a_second_transaction_only_when_something_is_short(
        self, stack: tuple[DynamoInventory, SerializedClient, AwsStack]
    ) -> None:
        inventory, client, _ = stack
        inventory.restock("main", "A", 1)

        inventory.reserve(order_of("1", ("A", 3)), PARTIAL)

        assert client.calls["transact_write_items"] == 2
        assert client.calls["batch_get_item"] == 1

    def test_refuses_a_warehouse_id_that_would_break_the_key(self, aws: AwsStack) -> None:
        with pytest.raises(ValueError, match="warehouse"):
            DynamoInventory(aws.table_name, aws.dynamodb, warehouse="a#b")


class _FailingClient:
    """Answers every call with one DynamoDB error."""

    def __init__(self, code: str, reasons: list[str] | None = None) -> None:
        response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
        if reasons is not None:
            response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
        self.error = ClientError(response, "Operation")  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(**_: Any) -> Any:
            raise self.error

        return fail


class TestDynamoErrors:
    @pytest.mark.parametrize(
        ("code", "reasons"),
        [
            ("ThrottlingException", None),
            ("ProvisionedThroughputExceededException", None),
            ("TransactionCanceledException", ["None", "TransactionConflict"]),
            ("TransactionInProgressException", None),
        ],
    )
    def test_throttling_and_conflicts_are_transient(self, code: str, reasons: list[str] | None) -> None:
        inventory = DynamoInventory("FulfillmentTable", _FailingClient(code, reasons))  # type: ignore[arg-type]

        with pytest.raises(TransientError):
            inventory.reserve(order_of("1", ("A", 1)), CANCEL)
        with pytest.raises(TransientError):
            inventory.release("kaffeekontor:1")
        with pytest.raises(TransientError):
            inventory.consume("kaffeekontor:1")
        with pytest.raises(TransientError):
            inventory.restock("main", "A", 1)
        with pytest.raises(TransientError):
            inventory.level("main", "A")

    def test_other_errors_are_not_disguised(self) -> None:
        inventory = DynamoInventory("FulfillmentTable", _FailingClient("ResourceNotFoundException"))  # type: ignore[arg-type]

        with pytest.raises(ClientError):
            inventory.reserve(order_of("1", ("A", 1)), CANCEL)


# --- local seed ----------------------------------------------------------------------------------
def _sample_skus() -> set[str]:
    """Every SKU the platform samples name (OpenCart's products carry their SKU as ``model``; no other
    platform's samples have a ``model``)."""
    skus: set[str] = set()

    def walk(value: Any, sku_keys: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in sku_keys and isinstance(inner, str) and inner:
                    skus.add(inner)
                walk(inner, sku_keys)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, sku_keys)

    for platform in platform_names():
        for path in sorted((ROOT / "events" / platform).glob("*.json")):
            if not path.name.endswith(".headers.json"):
                walk(json.loads(path.read_text(encoding="utf-8")), ("sku", "model"))
    return skus


class TestSeed:
    def test_the_seed_stocks_every_sku_of_every_platform_sample(self) -> None:
        seeded = {seed.sku for seed in load_seed()}

        assert _sample_skus() >= {"MUG-CC-BLU", "TEE-ORG-M-GRN", "TORCH-CB-01"}
        assert _sample_skus() <= seeded
        assert all(seed.on_hand >= 100 and seed.warehouse == "main" for seed in load_seed())

    def test_seeding_stocks_and_seeding_again_adds_nothing(self, contract: Inventory) -> None:
        first = seed_inventory(contract)
        second = seed_inventory(contract, SEED_FILE)

        assert first == second
        assert [(level.sku, level.on_hand, level.reserved) for level in second] == [
            (seed.sku, seed.on_hand, 0) for seed in load_seed()
        ]

    def test_seeding_tops_up_what_orders_took(self, contract: Inventory, tmp_path: Path) -> None:
        seed = tmp_path / "inventory.json"
        seed.write_text(json.dumps([{"warehouse": "main", "sku": "MUG", "on_hand": 10}, {"sku": "TEE", "on_hand": 0}]))
        seed_inventory(contract, seed)
        order = order_of("1", ("MUG", 4))
        contract.reserve(order, CANCEL)
        contract.consume(order.key)

        levels_after = seed_inventory(contract, seed)

        assert [(level.sku, level.on_hand, level.reserved) for level in levels_after] == [("MUG", 10, 0), ("TEE", 0, 0)]
        assert contract.level("main", "TEE") is None  # nothing to stock: no item

    def test_a_bad_seed_file_is_refused(self, tmp_path: Path) -> None:
        seed = tmp_path / "inventory.json"
        seed.write_text(json.dumps([{"sku": "MUG", "on_hand": -1}]))

        with pytest.raises(ValueError, match="on_hand"):
            seed_inventory(InMemoryInventory(), seed)
