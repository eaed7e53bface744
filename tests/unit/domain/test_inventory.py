"""Inventory models, the arithmetic the adapters share, and a store's out-of-stock policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fulfillment.errors import DomainError, OutOfStock, ReservationNotFound
from fulfillment.model.inventory import (
    OutOfStockPolicy,
    Reservation,
    ReservationOutcome,
    ReservedLine,
    StockLevel,
    allocate,
    out_of_stock_policy,
    reducible_to,
    requested_quantities,
    shortfall,
)
from tests.fakes import make_line, make_order, woo_store


def _store_with(**options: str):  # type: ignore[no-untyped-def]
    return woo_store().model_copy(update={"options": options})


def _reservation(**overrides: object) -> Reservation:
    fields: dict[str, object] = {
        "order_key": "kaffeekontor:4711",
        "warehouse": "main",
        "lines": (ReservedLine(sku="MUG-CC-BLU", quantity=2, line_id="301"),),
    }
    return Reservation.model_validate(fields | overrides)


class TestStockLevel:
    def test_available_is_on_hand_less_reserved(self) -> None:
        level = StockLevel(warehouse="main", sku="MUG-CC-BLU", on_hand=10, reserved=3)

        assert level.available == 7

    def test_a_new_level_holds_nothing(self) -> None:
        assert StockLevel(warehouse="main", sku="X").available == 0

    @pytest.mark.parametrize("warehouse", ["", "a#b", "main/2", "x" * 65, "lager süd"])
    def test_warehouse_ids_cannot_break_the_stock_key(self, warehouse: str) -> None:
        with pytest.raises(ValidationError):
            StockLevel(warehouse=warehouse, sku="MUG-CC-BLU")

    def test_is_immutable(self) -> None:
        level = StockLevel(warehouse="main", sku="X", on_hand=1)

        with pytest.raises(ValidationError):
            level.on_hand = 2  # type: ignore[misc]


class TestReservation:
    def test_defaults_to_held_and_complete(self) -> None:
        reservation = _reservation()

        assert (reservation.status, reservation.short) == ("held", {})

    def test_quantities_sum_an_sku_over_its_lines(self) -> None:
        reservation = _reservation(
            lines=(
                ReservedLine(sku="A", quantity=2, line_id="1"),
                ReservedLine(sku="B", quantity=1, line_id="2"),
                ReservedLine(sku="A", quantity=3, line_id="3"),
            )
        )

        assert reservation.quantities() == {"A": 5, "B": 1}

    def test_needs_a_line(self) -> None:
        with pytest.raises(ValidationError):
            _reservation(lines=())

    @pytest.mark.parametrize("quantity", [0, -1])
    def test_a_reserved_line_holds_at_least_one_unit(self, quantity: int) -> None:
        with pytest.raises(ValidationError):
            ReservedLine(sku="A", quantity=quantity, line_id="1")

    def test_status_is_one_of_held_released_consumed(self) -> None:
        for status in ("held", "released", "consumed"):
            assert _reservation(status=status).status == status
        with pytest.raises(ValidationError):
            _reservation(status="cancelled")

    def test_round_trips_through_json(self) -> None:
        reservation = _reservation(short={"TORCH-CB-01": 1})

        assert Reservation.model_validate_json(reservation.model_dump_json()) == reservation


class TestReservationOutcome:
    def test_a_full_reservation_applied_no_policy(self) -> None:
        outcome = ReservationOutcome.of(_reservation())

        assert (outcome.short, outcome.policy_applied, outcome.complete) == ({}, None, True)

    def test_a_partial_reservation_reports_short_and_partial(self) -> None:
        outcome = ReservationOutcome.of(_reservation(short={"TORCH-CB-01": 1}))

        assert outcome.short == {"TORCH-CB-01": 1}
        assert outcome.policy_applied is OutOfStockPolicy.PARTIAL
        assert not outcome.complete

    def test_dumps_to_json_for_a_step_result(self) -> None:
        dumped = ReservationOutcome.of(_reservation(short={"X": 2})).model_dump(mode="json")

        assert dumped["policy_applied"] == "partial"
        assert dumped["reservation"]["lines"] == [{"sku": "MUG-CC-BLU", "quantity": 2, "line_id": "301"}]


class TestOutOfStockPolicy:
    def test_values_are_the_option_values(self) -> None:
        assert [policy.value for policy in OutOfStockPolicy] == ["wait", "partial", "cancel"]

    def test_a_store_without_the_option_waits(self) -> None:
        assert out_of_stock_policy(woo_store()) is OutOfStockPolicy.WAIT
        assert out_of_stock_policy(_store_with(out_of_stock="")) is OutOfStockPolicy.WAIT

    @pytest.mark.parametrize(
        ("raw", "policy"),
        [
            ("wait", OutOfStockPolicy.WAIT),
            ("partial", OutOfStockPolicy.PARTIAL),
            ("cancel", OutOfStockPolicy.CANCEL),
            (" Partial ", OutOfStockPolicy.PARTIAL),
            ("CANCEL", OutOfStockPolicy.CANCEL),
        ],
    )
    def test_reads_the_store_option(self, raw: str, policy: OutOfStockPolicy) -> None:
        assert out_of_stock_policy(_store_with(out_of_stock=raw)) is policy

    @pytest.mark.parametrize("raw", ["backorder", "partially", "0"])
    def test_refuses_an_unknown_value_instead_of_guessing(self, raw: str) -> None:
        with pytest.raises(ValueError, match=r"kaffeekontor.*out_of_stock.*wait, partial, cancel"):
            out_of_stock_policy(_store_with(out_of_stock=raw))


class TestArithmetic:
    def test_requested_quantities_sum_an_sku_in_first_appearance_order(self) -> None:
        order = make_order(
            lines=(
                make_line(line_id="1", sku="B", quantity=1),
                make_line(line_id="2", sku="A", quantity=2),
                make_line(line_id="3", sku="B", quantity=4),
            )
        )

        assert list(requested_quantities(order).items()) == [("B", 5), ("A", 2)]

    def test_shortfall_counts_unknown_and_negative_as_none_available(self) -> None:
        wanted = {"A": 3, "B": 2, "C": 1, "D": 4}

        assert shortfall(wanted, {"A": 5, "B": 1, "D": -2}) == {"B": 1, "C": 1, "D": 4}
        assert shortfall(wanted, wanted) == {}

    def test_reducible_to_takes_what_there_is_and_leaves_out_the_rest(self) -> None:
        assert reducible_to({"A": 3, "B": 2, "C": 1}, {"A": 5, "B": 1, "C": 0}) == {"A": 3, "B": 1}
        assert reducible_to({"A": 3}, {}) == {}

    def test_allocate_fills_lines_first_line_first(self) -> None:
        order = make_order(
            lines=(
                make_line(line_id="1", sku="A", quantity=2),
                make_line(line_id="2", sku="B", quantity=1),
                make_line(line_id="3", sku="A", quantity=2),
            )
        )

        assert allocate(order, {"A": 3}) == (
            ReservedLine(sku="A", quantity=2, line_id="1"),
            ReservedLine(sku="A", quantity=1, line_id="3"),
        )
        assert allocate(order, {"A": 4, "B": 1}) == tuple(
            ReservedLine(sku=line.sku, quantity=line.quantity, line_id=line.line_id) for line in order.lines
        )


class TestErrors:
    def test_out_of_stock_carries_short_and_the_policy(self) -> None:
        short = {"TORCH-CB-01": 1, "MUG-CC-BLU": 2}
        error = OutOfStock(short, "wait")
        short["MUG-CC-BLU"] = 99

        assert isinstance(error, DomainError)
        assert error.short == {"TORCH-CB-01": 1, "MUG-CC-BLU": 2}
        assert (error.policy, error.code) == ("wait", "out_of_stock")
        assert str(error) == "out of stock: MUG-CC-BLU ×2, TORCH-CB-01 ×1 short (policy wait)"

    def test_names_are_what_the_state_machine_catches(self) -> None:
        assert OutOfStock.__name__ == "OutOfStock"
        assert ReservationNotFound.__name__ == "ReservationNotFound"
        assert ReservationNotFound("x").code == "reservation_not_found"
