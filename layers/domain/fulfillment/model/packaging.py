"""Choosing boxes for an order: which boxes, what goes in each, and each parcel's weight for the label.

The heuristic (deterministic: the same lines and boxes always give the same packages):

1. Every unit is packed on its own: a line of quantity 3 is three units. An item that fits no box
   alone — in any of its six axis-aligned orientations, and with the box's tare under its maximum
   gross weight — raises ``UnpackableItem`` before anything is packed.
2. Boxes are tried smallest first (inner volume, then maximum weight, then code).
3. A box is filled by placing units one after the other, each at the first free corner (lowest, then
   rearmost, then leftmost) where one of its orientations fits — preferring the orientation flush
   with the free space along the most axes, then the one leaving the largest free block, then the
   flattest. The free space around a placed unit is cut into three disjoint blocks (guillotine
   cuts), so units never overlap and never stick out of the box; a unit that fits nowhere, or would
   take the box over its weight limit, is left for the next box. Three orders of units are tried,
   largest first by volume, by longest side and by base area (ties: weight, then SKU), and the
   first that takes every unit wins, else the one that takes the most volume.
4. For each parcel, the smallest box that takes every remaining unit is used; when no box takes them
   all, the box that takes the most (by volume) is filled, and the rest goes on to the next parcel.
5. Each parcel is then moved to the smallest box that still takes all of its units.

Weights are grams and include the box's tare: ``Package.weight_g`` is what the label declares.
Dimensions are millimetres, (length, width, height); item dimensions are as packed for shipping
(in the product's own carton). This is a heuristic, not an optimum: it may use a larger or one more
box than a person would, never a box the goods do not fit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fulfillment.errors import UnpackableItem
from fulfillment.model.labels import Label

if TYPE_CHECKING:
    from fulfillment.model.order import Order

Millimetres = Annotated[int, Field(gt=0)]
Dimensions = tuple[Millimetres, Millimetres, Millimetres]  # length, width, height
Code = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: Code
    dims: Dimensions
    weight_g: int = Field(gt=0)
    name: str = ""
    hs_code: str = ""  # customs tariff number (HS), for parcels leaving the ship-from country
    origin_country: str = ""  # ISO 3166-1 alpha-2: where the goods were made

    @property
    def volume(self) -> int:
        return self.dims[0] * self.dims[1] * self.dims[2]


class Box(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: Code
    dims: Dimensions  # inner
    max_weight_g: int = Field(gt=0)  # gross: the box, its filling and its contents
    tare_g: int = Field(ge=0)
    name: str = ""

    @property
    def volume(self) -> int:
        return self.dims[0] * self.dims[1] * self.dims[2]


class Placement(BaseModel):
    """Where one unit goes in its box: the corner nearest the origin, and its size as turned."""

    model_config = ConfigDict(frozen=True)

    sku: str
    position: tuple[int, int, int]
    size: tuple[int, int, int]


# Tracking statuses (EasyPost ``Tracker.status``) before the carrier has the parcel: its label may still be refunded.
NOT_HANDED_OVER = frozenset({None, "unknown", "pre_transit"})


class Package(BaseModel):
    """One parcel. ``placements`` is the packer's instruction sheet; it is not part of the stored record.

    Once it ships: the carrier's shipment id (stored before the label is bought, so a retry finds it and never
    buys a second one), the label, the last tracking status, and a refund's status if the label was voided.
    """

    model_config = ConfigDict(frozen=True)

    box_code: str
    items: tuple[tuple[str, int], ...]  # (sku, quantity), by SKU
    weight_g: int  # gross, with the box's tare: what the label declares
    destination: str | None = None  # the order destination it goes to (``Order.ship_to``); None: shipping address
    dims_mm: tuple[int, int, int] | None = None  # the box's (inner) length, width, height
    placements: tuple[Placement, ...] = Field(default=(), exclude=True)
    shipment_id: str | None = None
    label: Label | None = None
    tracking_status: str | None = None  # EasyPost tracker status: pre_transit, in_transit, delivered, …
    refund_status: str | None = None  # EasyPost refund_status once a refund was asked: submitted, refunded, rejected

    @property
    def units(self) -> int:
        return sum(quantity for _, quantity in self.items)

    @property
    def handed_over(self) -> bool:
        """The carrier has the parcel (a scan after the label was made): its label can no longer be refunded."""
        return self.tracking_status not in NOT_HANDED_OVER


# --- the packer ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Space:
    x: int
    y: int
    z: int
    length: int
    width: int
    height: int


@dataclass(frozen=True)
class _Unit:
    item: Item
    orientations: tuple[tuple[int, int, int], ...]


# Units as runs of identical ones, (unit, how many): a box takes a few dozen units, so filling one costs what it
# places, not what the order holds (a 3,000-unit order packs in linear time; unit by unit it was quadratic).
_Run = tuple[_Unit, int]


@dataclass(frozen=True)
class _Fill:
    box: Box
    placed: tuple[tuple[_Unit, Placement], ...]
    rest: tuple[_Run, ...]

    @property
    def volume(self) -> int:
        return sum(unit.item.volume for unit, _ in self.placed)


def pack(lines: Sequence[tuple[Item, int]], boxes: Sequence[Box]) -> list[Package]:
    """Pack ``(item, quantity)`` lines into boxes from ``boxes`` (see the module docstring for how)."""
    if any(quantity < 0 for _, quantity in lines):
        raise ValueError("quantities cannot be negative")
    catalogue = sorted(boxes, key=lambda box: (box.volume, box.max_weight_g, box.code))
    orientations: dict[tuple[int, int, int], tuple[tuple[int, int, int], ...]] = {}
    runs: list[_Run] = []
    for item, quantity in lines:
        if quantity:
            _ensure_fits_some_box(item, catalogue)
            turns = orientations.setdefault(item.dims, _orientations(item.dims))
            runs.append((_Unit(item, turns), quantity))
    remaining = tuple(runs)

    fills: list[_Fill] = []
    while remaining:
        best: _Fill | None = None
        for box in catalogue:
            fill = _best_fill(box, remaining)
            if not fill.rest:
                best = fill
                break
            if fill.placed and (best is None or (fill.volume, len(fill.placed)) > (best.volume, len(best.placed))):
                best = fill
        assert best is not None and best.placed  # the largest unit fits some box alone
        fills.append(_smallest_box_for(best, catalogue))
        remaining = best.rest
    return [_package(fill) for fill in fills]


def lines_for(order: Order, catalog: Mapping[str, Item]) -> list[tuple[Item, int]]:
    """An order's lines as ``pack`` takes them, a SKU on several lines counted once; unknown SKUs are unpackable."""
    quantities: Counter[str] = Counter()
    for line in order.lines:
        quantities[line.sku] += line.quantity
    missing = sorted(sku for sku in quantities if sku not in catalog)
    if missing:
        raise UnpackableItem(f"no dimensions or weight on record for {', '.join(missing)}", missing[0])
    return [(catalog[sku], quantity) for sku, quantity in quantities.items()]


def fits(dims: tuple[int, int, int], space: tuple[int, int, int]) -> bool:
    """True when a cuboid fits in another turned some axis-aligned way (compare sorted sides)."""
    return all(a <= b for a, b in zip(sorted(dims), sorted(space), strict=True))


def _orientations(dims: tuple[int, int, int]) -> tuple[tuple[int, int, int], ...]:
    a, b, c = dims
    return tuple(sorted({(x, y, z) for x, y, z in permutations((a, b, c))}))


def _ensure_fits_some_box(item: Item, boxes: Sequence[Box]) -> None:
    if not boxes:
        raise UnpackableItem(f"{item.sku}: there are no boxes to pack into", item.sku)
    if any(fits(item.dims, box.dims) and box.tare_g + item.weight_g <= box.max_weight_g for box in boxes):
        return
    if not any(fits(item.dims, box.dims) for box in boxes):
        largest = max(boxes, key=lambda box: box.volume)
        raise UnpackableItem(
            f"{item.sku} ({'×'.join(map(str, item.dims))} mm) is larger than every box "
            f"(the largest, {largest.code}, is {'×'.join(map(str, largest.dims))} mm inside)",
            item.sku,
        )
    raise UnpackableItem(f"{item.sku} ({item.weight_g} g) is heavier than every box it fits may carry", item.sku)


def _volume_first(unit: _Unit) -> tuple[int, int, str]:
    return (-unit.item.volume, -unit.item.weight_g, unit.item.sku)


def _longest_side_first(unit: _Unit) -> tuple[int, int, int, str]:
    return (-max(unit.item.dims), *_volume_first(unit))


def _base_area_first(unit: _Unit) -> tuple[int, int, int, str]:
    _, middle, longest = sorted(unit.item.dims)
    return (-middle * longest, *_volume_first(unit))


_ORDERS = (_volume_first, _longest_side_first, _base_area_first)


def _best_fill(box: Box, runs: Sequence[_Run]) -> _Fill:
    best: _Fill | None = None
    for order in _ORDERS:
        fill = _fill(box, _merged(sorted(runs, key=lambda run: order(run[0]))))  # stable, as unit by unit
        if not fill.rest:
            return fill
        if best is None or (fill.volume, len(fill.placed)) > (best.volume, len(best.placed)):
            best = fill
    assert best is not None
    return best


def _merged(runs: Sequence[_Run]) -> list[_Run]:
    """Adjacent runs of the same unit as one (the same sequence of units)."""
    merged: list[_Run] = []
    for unit, count in runs:
        if merged and merged[-1][0] == unit:
            merged[-1] = (unit, merged[-1][1] + count)
        else:
            merged.append((unit, count))
    return merged


def _fill(box: Box, runs: Sequence[_Run]) -> _Fill:
    # A box takes at most ``_capacity`` units of an item, so a run longer than that fills it as any such run
    # does: the placements are computed once per box and sequence of (capped) runs, and each parcel of a large
    # order after the first reuses them.
    capped = tuple((unit, min(count, _capacity(box, unit) + 1)) for unit, count in runs)
    placed, taken = _placements(box, capped)
    rest = tuple((unit, count - took) for (unit, count), took in zip(runs, taken, strict=True) if count > took)
    return _Fill(box, placed, rest)


def _capacity(box: Box, unit: _Unit) -> int:
    """At most how many units of this item the box could take, by volume and by weight."""
    return min(box.volume // unit.item.volume, max(box.max_weight_g - box.tare_g, 0) // unit.item.weight_g)


@lru_cache(maxsize=1024)  # a pure function of its arguments: the memo changes no result
def _placements(box: Box, runs: tuple[_Run, ...]) -> tuple[tuple[tuple[_Unit, Placement], ...], tuple[int, ...]]:
    """Where each unit goes, placed one after the other, and how many of each run were placed."""
    spaces = [_Space(0, 0, 0, *box.dims)]
    weight = box.tare_g
    placed: list[tuple[_Unit, Placement]] = []
    taken: list[int] = []
    failed: set[tuple[tuple[int, int, int], int]] = set()  # free space only shrinks: a twin fails too
    for unit, count in runs:
        twin = (unit.item.dims, unit.item.weight_g)
        took = 0
        while took < count:  # one unit after the other, until one fits no more: the rest of the run stays
            spot = None
            if twin not in failed and weight + unit.item.weight_g <= box.max_weight_g:
                spot = _find_spot(spaces, unit.orientations)
            if spot is None:
                failed.add(twin)
                break
            space, size = spot
            spaces.remove(space)
            spaces.extend(_cut(space, size))
            spaces.sort(key=lambda s: (s.z, s.y, s.x, s.length, s.width, s.height))
            weight += unit.item.weight_g
            placed.append((unit, Placement(sku=unit.item.sku, position=(space.x, space.y, space.z), size=size)))
            took += 1
        taken.append(took)
    return tuple(placed), tuple(taken)


def _find_spot(
    spaces: Sequence[_Space], orientations: Sequence[tuple[int, int, int]]
) -> tuple[_Space, tuple[int, int, int]] | None:
    for space in spaces:
        room = (space.length, space.width, space.height)
        fitting = [size for size in orientations if all(a <= b for a, b in zip(size, room, strict=True))]
        if fitting:
            return space, min(fitting, key=lambda size: _preference(space, size))
    return None


def _preference(space: _Space, size: tuple[int, int, int]) -> tuple[int, ...]:
    """Lower is better: the most sides flush with the free space, then the largest free block left, then
    the flattest; the size itself breaks ties, so the choice never depends on anything else."""
    room = (space.length, space.width, space.height)
    flush = sum(a == b for a, b in zip(size, room, strict=True))
    largest_left = max((piece.length * piece.width * piece.height for piece in _cut(space, size)), default=0)
    return (-flush, -largest_left, size[2], *size)


def _cut(space: _Space, size: tuple[int, int, int]) -> list[_Space]:
    """The free space around a unit placed in the corner of ``space``: beside it, behind it, above it."""
    length, width, height = size
    pieces = [
        _Space(space.x + length, space.y, space.z, space.length - length, space.width, space.height),
        _Space(space.x, space.y + width, space.z, length, space.width - width, space.height),
        _Space(space.x, space.y, space.z + height, length, width, space.height - height),
    ]
    return [piece for piece in pieces if piece.length and piece.width and piece.height]


def _smallest_box_for(fill: _Fill, boxes: Sequence[Box]) -> _Fill:
    units = _merged([(unit, 1) for unit, _ in fill.placed])
    for box in boxes:  # smallest first
        if box == fill.box:
            break
        smaller = _best_fill(box, units)
        if not smaller.rest:
            return smaller
    return fill


def _package(fill: _Fill) -> Package:
    counts = Counter(unit.item.sku for unit, _ in fill.placed)
    return Package(
        box_code=fill.box.code,
        items=tuple(sorted(counts.items())),
        weight_g=fill.box.tare_g + sum(unit.item.weight_g for unit, _ in fill.placed),
        dims_mm=fill.box.dims,
        placements=tuple(placement for _, placement in fill.placed),
    )
