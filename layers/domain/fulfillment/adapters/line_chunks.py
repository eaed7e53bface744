"""How an order's lines (and its parcels' contents) are laid out in the table: lines on the order item while
small, in chunk items once large; each parcel's contents as one attribute.

A 3,000-line order is about 600 KB as a DynamoDB item, and DynamoDB refuses items over 400 KB. So lines whose
JSON exceeds ``inline_bytes`` leave the order item: their JSON, zlib-compressed (a tenth of the size: fewer write
units, and one binary attribute instead of thousands of maps to marshal), is cut into ``LINES#<nnnn>`` items in
the order's partition, each under ``CHUNK_BYTES``. The order item then holds ``line_chunks`` (how many) and
``lines_digest`` (of the lines); every chunk carries the digest too, so a reader that meets chunks of another
version (a concurrent save between its two reads) sees the mismatch and reads again. Chunks are written in the
same transaction as the order item, and only when the lines changed (a digest other than the one loaded), so the
order's optimistic version covers them and a step's save of a large order writes as little as a small one's.

A parcel's contents (``Package.items``, (SKU, quantity) pairs) are one compact JSON string each: a 3,000-line
order's ~75 parcels hold ~40 SKUs apiece, which as DynamoDB lists of lists are ~9,000 attribute values on the order
item, marshalled again by every read and write of the order though they never change after packing (the local
runtime's moto took over a second per read of that item, and the parcels' tracker events all read it).

Each parcel's last tracker status is an item of its own, ``PARCEL#<shipment id>`` in the order's partition
(``OrderRepository.record_parcel_status``), read back onto the packages when the order is read: an order's parcels
report independently, and writing their news onto the order item made 75 parcels' events contend with each other
and with the ship step's own save of that item.

Shared by ``DynamoOrderRepository`` and the in-memory fake (``tests/fakes.py``), so both store the same items.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fulfillment.model import Order

INLINE_LINES_BYTES = 64 * 1024  # lines up to this stay on the order item (every order but the largest)
CHUNK_BYTES = 300 * 1024  # one chunk item's share of the compressed lines: under DynamoDB's 400 KB
LINES_PREFIX = "LINES#"
PARCEL_PREFIX = "PARCEL#"


def chunk_sk(index: int) -> str:
    return f"{LINES_PREFIX}{index:04d}"


@dataclass(frozen=True)
class LinesLayout:
    """Where an order's lines go: ``chunks`` is empty when they stay inline (``digest`` is then "")."""

    digest: str
    chunks: tuple[bytes, ...]  # to write; empty when inline or ``unchanged``
    unchanged: int = 0  # the stored chunks (this many) hold these lines already

    @property
    def state(self) -> tuple[str, int] | None:
        """What the loaded order remembers: (digest, chunk count), or None for inline lines."""
        if self.unchanged:
            return (self.digest, self.unchanged)
        return (self.digest, len(self.chunks)) if self.chunks else None


def lay_out(
    lines: list[dict[str, Any]], inline_bytes: int = INLINE_LINES_BYTES, stored: tuple[str, int] | None = None
) -> LinesLayout:
    """Lines as stored (``model_dump(mode="json")``): inline, or compressed and cut into chunks. With ``stored``
    (the loaded order's layout) and unchanged lines, the chunks are not built again: ``chunks`` is then empty and
    ``unchanged`` says the stored ones stand."""
    text = json.dumps(lines, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) <= inline_bytes:
        return LinesLayout("", ())
    digest = hashlib.sha256(text).hexdigest()[:32]
    if stored is not None and stored[0] == digest:
        return LinesLayout(digest, (), unchanged=stored[1])
    packed = zlib.compress(text, 6)
    chunks = tuple(packed[start : start + CHUNK_BYTES] for start in range(0, len(packed), CHUNK_BYTES))
    return LinesLayout(digest, chunks)


def lines_of(chunks: Sequence[bytes]) -> list[dict[str, Any]]:
    """The lines back from their chunks, in order."""
    lines: list[dict[str, Any]] = json.loads(zlib.decompress(b"".join(chunks)))
    return lines


def packed_contents(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored packages (``model_dump(mode="json")``), each one's ``items`` as one JSON string attribute."""
    return [
        {**package, "items": json.dumps(package["items"], separators=(",", ":"), ensure_ascii=False)}
        if isinstance(package.get("items"), list)
        else package
        for package in packages
    ]


def unpacked_contents(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packages back as the model reads them (an item stored before this layout, as lists, passes as it is)."""
    return [
        {**package, "items": json.loads(package["items"])} if isinstance(package.get("items"), str) else package
        for package in packages
    ]


def parcel_sk(shipment_id: str) -> str:
    return f"{PARCEL_PREFIX}{shipment_id}"


def with_parcel_statuses(order: Order, statuses: Mapping[str, str]) -> Order:
    """The order with each package's tracker status as its parcel item says (the parcel item is the truth)."""
    if statuses:
        order.packages = [
            package.model_copy(update={"tracking_status": statuses[package.shipment_id]})
            if package.shipment_id is not None and package.shipment_id in statuses
            else package
            for package in order.packages
        ]
    return order
