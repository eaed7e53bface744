"""Packing: every unit in exactly one box, no box over its weight limit, nothing sticking out or overlapping."""

from __future__ import annotations

import json
import random
import re
from itertools import combinations, permutations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fulfillment.adapters.catalog import DATA_DIR, default_catalog, load_catalog
from fulfillment.errors import UnpackableItem
from fulfillment.model.packaging import Box, Item, Package, fits, lines_for, pack
from tests.conftest import ROOT
from tests.fakes import make_line, make_order

ITEMS, BOXES = load_catalog()
BY_CODE = {box.code: box for box in BOXES}
MUG, TEE, TORCH = ITEMS["MUG-CC-BLU"], ITEMS["TEE-ORG-M-GRN"], ITEMS["TORCH-CB-01"]


# --- checks every packing must pass ------------------------------------------------------------------------
def assert_valid(packages: list[Package], lines: list[tuple[Item, int]], boxes: list[Box]) -> None:
    by_code = {box.code: box for box in boxes}
    by_sku = {item.sku: item for item, _ in lines}
    wanted: dict[str, int] = {}
    for item, quantity in lines:
        wanted[item.sku] = wanted.get(item.sku, 0) + quantity
    packed: dict[str, int] = {}
    for package in packages:
        box = by_code[package.box_code]
        assert package.units > 0
        for sku, quantity in package.items:
            packed[sku] = packed.get(sku, 0) + quantity
        # the weight on the label is the box and what is in it, and within what the box may carry
        assert package.weight_g == box.tare_g + sum(by_sku[sku].weight_g * qty for sku, qty in package.items)
        assert package.weight_g <= box.max_weight_g
        # one placement per unit, each turned from the item's own sides, inside the box, none overlapping
        assert sorted(p.sku for p in package.placements) == sorted(
            sku for sku, qty in package.items for _ in range(qty)
        )
        for placement in package.placements:
            assert placement.size in set(permutations(by_sku[placement.sku].dims))
            assert all(
                at >= 0 and at + side <= inner
                for at, side, inner in zip(placement.position, placement.size, box.dims, strict=True)
            )
        for a, b in combinations(package.placements, 2):
            apart = any(
                a.position[axis] + a.size[axis] <= b.position[axis]
                or b.position[axis] + b.size[axis] <= a.position[axis]
                for axis in range(3)
            )
            assert apart, f"{a} overlaps {b}"
    assert packed == {sku: qty for sku, qty in wanted.items() if qty}


# --- the catalogue -------------------------------------------------------------------------------------
def skus_in_sample_orders() -> set[str]:
    pattern = re.compile(r'"(?:sku|model)"\s*:\s*"([^"]+)"')
    skus: set[str] = set()
    for path in (ROOT / "events").rglob("*.json"):
        skus.update(pattern.findall(path.read_text(encoding="utf-8")))
    return skus


class TestCatalogue:
    def test_every_sku_of_the_sample_orders_has_dimensions_and_fits_a_box(self) -> None:
        skus = skus_in_sample_orders()
        assert {"MUG-CC-BLU", "TEE-ORG-M-GRN", "TORCH-CB-01"} <= skus
        assert skus <= set(ITEMS)
        for sku in skus:
            assert pack([(ITEMS[sku], 1)], BOXES)

    def test_the_layer_ships_the_one_copy(self) -> None:
        assert DATA_DIR == ROOT / "layers" / "domain" / "fulfillment" / "data"
        assert default_catalog() == (ITEMS, BOXES)
        assert 4 <= len(BOXES) <= 6
        assert not (ROOT / "local" / "catalog.json").exists()

    def test_a_sku_listed_twice_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "boxes.json").write_bytes((DATA_DIR / "boxes.json").read_bytes())
        entry = {"sku": "X", "dims_mm": [1, 2, 3], "weight_g": 4}
        (tmp_path / "catalog.json").write_text(json.dumps({"items": [entry, entry]}))
        with pytest.raises(ValueError, match="listed twice"):
            load_catalog(tmp_path)

    def test_a_malformed_entry_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "boxes.json").write_text(json.dumps({"boxes": [{"code": "B", "inner_dims_mm": [1, 2]}]}))
        (tmp_path / "catalog.json").write_text(json.dumps({"items": []}))
        with pytest.raises(ValidationError):
            load_catalog(tmp_path)

    def test_order_lines_with_the_same_sku_are_packed_together(self) -> None:
        order = make_order(lines=(make_line(), make_line(line_id="302", quantity=3)))
        assert lines_for(order, ITEMS) == [(MUG, 5)]

    def test_an_sku_without_dimensions_is_unpackable(self) -> None:
        order = make_order(lines=(make_line(sku="GIFT-BOX"),))
        with pytest.raises(UnpackableItem, match="GIFT-BOX") as raised:
            lines_for(order, ITEMS)
        assert raised.value.sku == "GIFT-BOX"


# --- concrete cases ------------------------------------------------------------------------------------------
class TestChoosingBoxes:
    @pytest.mark.parametrize(("item", "box"), [(TEE, "POLY-M"), (TORCH, "MAILER-S"), (MUG, "BOX-S")])
    def test_one_small_item_goes_in_the_smallest_box_it_fits(self, item: Item, box: str) -> None:
        [package] = pack([(item, 1)], BOXES)
        assert package.box_code == box
        assert package.items == ((item.sku, 1),)
        assert package.weight_g == BY_CODE[box].tare_g + item.weight_g

    def test_the_sample_order_fits_one_box(self) -> None:
        lines = [(MUG, 2), (TEE, 1), (TORCH, 1)]
        packages = pack(lines, BOXES)
        assert [p.box_code for p in packages] == ["BOX-M"]
        assert packages[0].items == (("MUG-CC-BLU", 2), ("TEE-ORG-M-GRN", 1), ("TORCH-CB-01", 1))
        assert packages[0].weight_g == 300 + 2 * 460 + 190 + 420
        assert_valid(packages, lines, BOXES)

    def test_many_units_take_several_boxes_the_last_one_no_larger_than_needed(self) -> None:
        lines = [(MUG, 90), (TORCH, 7)]
        packages = pack(lines, BOXES)
        assert len(packages) > 1
        assert_valid(packages, lines, BOXES)
        *full, last = packages
        assert {p.box_code for p in full} == {"BOX-XL"}
        assert BY_CODE[last.box_code].dims <= BY_CODE["BOX-XL"].dims

    def test_the_weight_limit_splits_what_would_fit_by_size(self) -> None:
        ingot = Item(sku="INGOT", dims=(100, 50, 40), weight_g=4_000)
        box = Box(code="SMALL-STRONG", dims=(300, 300, 300), max_weight_g=10_000, tare_g=500)
        packages = pack([(ingot, 5)], [box])
        assert [p.items for p in packages] == [(("INGOT", 2),), (("INGOT", 2),), (("INGOT", 1),)]
        assert [p.weight_g for p in packages] == [8_500, 8_500, 4_500]

    def test_units_are_turned_to_fit(self) -> None:
        # Four 150×200×50 boards in a 300×200×100 box: two side by side, two layers, once turned right.
        board = Item(sku="BOARD", dims=(200, 150, 50), weight_g=100)
        box = Box(code="FLAT", dims=(300, 200, 100), max_weight_g=5_000, tare_g=0)
        [package] = pack([(board, 4)], [box])
        assert package.items == (("BOARD", 4),)
        assert_valid([package], [(board, 4)], [box])

    def test_an_item_larger_than_every_box_is_unpackable(self) -> None:
        paddle = Item(sku="SUP-PADDLE", dims=(2100, 200, 40), weight_g=900)
        with pytest.raises(UnpackableItem, match="larger than every box") as raised:
            pack([(MUG, 1), (paddle, 1)], BOXES)
        assert raised.value.sku == "SUP-PADDLE"

    def test_an_item_heavier_than_every_box_may_carry_is_unpackable(self) -> None:
        anvil = Item(sku="ANVIL", dims=(300, 150, 200), weight_g=40_000)
        with pytest.raises(UnpackableItem, match="heavier"):
            pack([(anvil, 1)], BOXES)

    def test_no_boxes_nothing_packs_and_no_lines_no_packages(self) -> None:
        with pytest.raises(UnpackableItem):
            pack([(MUG, 1)], [])
        assert pack([], BOXES) == []
        assert pack([(MUG, 0)], BOXES) == []

    def test_the_instruction_sheet_is_not_part_of_the_stored_record(self) -> None:
        [package] = pack([(MUG, 1)], BOXES)
        assert package.placements
        assert package.model_dump(mode="json") == {
            "box_code": "BOX-S",
            "items": [["MUG-CC-BLU", 1]],
            "weight_g": 620,
            "destination": None,
            "dims_mm": [250, 175, 125],  # the box's: the parcel's size on the label
            "shipment_id": None,
            "label": None,
            "tracking_status": None,
            "refund_status": None,
        }


# --- properties ------------------------------------------------------------------------------------------
sides = st.integers(min_value=10, max_value=300)
dims = st.tuples(sides, sides, sides)


@st.composite
def boxes_strategy(draw: st.DrawFn) -> list[Box]:
    count = draw(st.integers(min_value=1, max_value=5))
    boxes = []
    for index in range(count):
        inner = draw(st.tuples(*[st.integers(min_value=60, max_value=600)] * 3))
        tare = draw(st.integers(min_value=0, max_value=800))
        limit = draw(st.integers(min_value=tare + 1_000, max_value=tare + 30_000))
        boxes.append(Box(code=f"B{index}", dims=inner, max_weight_g=limit, tare_g=tare))
    return boxes


@st.composite
def lines_strategy(draw: st.DrawFn) -> list[tuple[Item, int]]:
    count = draw(st.integers(min_value=1, max_value=4))
    return [
        (
            Item(sku=f"SKU-{index}", dims=draw(dims), weight_g=draw(st.integers(min_value=1, max_value=4_000))),
            draw(st.integers(min_value=1, max_value=6)),
        )
        for index in range(count)
    ]


def fits_some_box_alone(item: Item, boxes: list[Box]) -> bool:
    return any(fits(item.dims, box.dims) and box.tare_g + item.weight_g <= box.max_weight_g for box in boxes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy(), boxes=boxes_strategy(), seed=st.integers(min_value=0, max_value=2**16))
def test_every_unit_is_packed_exactly_once_within_weight_and_inside_its_box(
    lines: list[tuple[Item, int]], boxes: list[Box], seed: int
) -> None:
    unpackable = [item.sku for item, _ in lines if not fits_some_box_alone(item, boxes)]
    if unpackable:
        with pytest.raises(UnpackableItem) as raised:
            pack(lines, boxes)
        assert raised.value.sku in unpackable
        return

    packages = pack(lines, boxes)

    assert_valid(packages, lines, boxes)
    shuffled_lines, shuffled_boxes = list(lines), list(boxes)
    random.Random(seed).shuffle(shuffled_lines)
    random.Random(seed + 1).shuffle(shuffled_boxes)
    assert pack(shuffled_lines, shuffled_boxes) == packages  # deterministic, whatever the input order


@settings(max_examples=100, deadline=None)
@given(lines=lines_strategy())
def test_the_real_catalogue_boxes_take_whatever_fits_them(lines: list[tuple[Item, int]]) -> None:
    small = [(item.model_copy(update={"weight_g": min(item.weight_g, 5_000)}), qty) for item, qty in lines]
    if all(fits_some_box_alone(item, BOXES) for item, _ in small):
        assert_valid(pack(small, BOXES), small, BOXES)


class TestLargeOrders:
    def test_packing_work_grows_with_the_parcels_not_with_units_times_parcels(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Units are packed as runs of identical ones: ten times the units is about ten times the work (unit by
        unit, each parcel re-sorted every unit left: a hundred times, and minutes for a 3,000-line order)."""
        from fulfillment.model import packaging

        catalog, boxes = default_catalog()
        calls = 0

        def counted(order):  # type: ignore[no-untyped-def]
            def key(unit):  # type: ignore[no-untyped-def]
                nonlocal calls
                calls += 1
                return order(unit)

            return key

        monkeypatch.setattr(packaging, "_ORDERS", tuple(counted(order) for order in packaging._ORDERS))

        def work(units: int) -> tuple[int, int]:
            nonlocal calls
            calls = 0
            lines = [(catalog[sku], units // 3) for sku in ("MUG-CC-BLU", "TEE-ORG-M-GRN", "TORCH-CB-01")]
            packages = pack(lines, boxes)
            assert_valid(packages, lines, boxes)
            return calls, len(packages)

        small, small_parcels = work(300)
        large, large_parcels = work(3_000)

        assert large_parcels >= 7 * small_parcels
        assert large <= 2 * (large_parcels / small_parcels) * small
