"""How an order's lines are laid out in the table: on the order item while small, in chunk items once large.

A 3,000-line order is about 600 KB as a DynamoDB item, and DynamoDB refuses items over 400 KB. So lines whose
JSON exceeds ``inline_bytes`` leave the order item: their JSON, zlib-compressed (a tenth of the size: fewer write
units, and one binary attribute instead of thousands of maps to marshal), is cut into ``LINES#<nnnn>`` items in
the order's partition, each under ``CHUNK_BYTES``. The order item then holds ``line_chunks`` (how many) and
``lines_digest`` (of the lines); every chunk carries the digest too, so a reader that meets chunks of another
version (a concurrent save between its two reads) sees the mismatch and reads again. Chunks are written in the
same transaction as the order item, and only when the lines changed (a digest other than the one loaded), so the
order's optimistic version covers them and a step's save of a large order writes as little as a small one's.

Shared by ``DynamoOrderRepository`` and the in-memory fake (``tests/fakes.py``), so both store the same items.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

INLINE_LINES_BYTES = 64 * 1024  # lines up to this stay on the order item (every order but the largest)
CHUNK_BYTES = 300 * 1024  # one chunk item's share of the compressed lines: under DynamoDB's 400 KB
LINES_PREFIX = "LINES#"


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
