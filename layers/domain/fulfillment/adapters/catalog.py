"""The product and box catalogue, read from JSON files shipped in the domain layer (``fulfillment/data``).

``catalog.json``: ``{"items": [{"sku", "name", "dims_mm": [l, w, h], "weight_g", "hs_code", "origin_country"}]}``
(the last two for customs declarations);
``boxes.json``: ``{"boxes": [{"code", "name", "inner_dims_mm": [l, w, h], "max_weight_g", "tare_g"}]}``.
Millimetres and grams. One copy of the data: the Lambda layer ships it, the local runtime and the
tests read the same files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from fulfillment.model.packaging import Box, Dimensions, Item

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CATALOG_FILE = "catalog.json"
BOXES_FILE = "boxes.json"


class _ItemEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str
    name: str = ""
    dims_mm: Dimensions
    weight_g: int
    hs_code: str = ""
    origin_country: str = ""


class _BoxEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str = ""
    inner_dims_mm: Dimensions
    max_weight_g: int
    tare_g: int


class _CatalogFile(BaseModel):
    description: str = ""
    items: list[_ItemEntry]


class _BoxesFile(BaseModel):
    description: str = ""
    boxes: list[_BoxEntry]


def load_catalog(path: Path | str | None = None) -> tuple[dict[str, Item], list[Box]]:
    """Read ``catalog.json`` and ``boxes.json`` from the folder ``path`` (default: the layer's data).

    Raises ``pydantic.ValidationError`` for a malformed file and ``ValueError`` for a SKU or box code
    listed twice, so a bad catalogue fails at start-up rather than packing wrongly.
    """
    folder = Path(path) if path is not None else DATA_DIR
    catalog = _CatalogFile.model_validate_json((folder / CATALOG_FILE).read_bytes())
    boxes_file = _BoxesFile.model_validate_json((folder / BOXES_FILE).read_bytes())
    items: dict[str, Item] = {}
    for entry in catalog.items:
        if entry.sku in items:
            raise ValueError(f"{folder / CATALOG_FILE}: SKU {entry.sku} is listed twice")
        items[entry.sku] = Item(
            sku=entry.sku,
            name=entry.name,
            dims=entry.dims_mm,
            weight_g=entry.weight_g,
            hs_code=entry.hs_code,
            origin_country=entry.origin_country,
        )
    boxes = [
        Box(
            code=entry.code,
            name=entry.name,
            dims=entry.inner_dims_mm,
            max_weight_g=entry.max_weight_g,
            tare_g=entry.tare_g,
        )
        for entry in boxes_file.boxes
    ]
    codes = [box.code for box in boxes]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ValueError(f"{folder / BOXES_FILE}: box codes listed twice: {', '.join(duplicates)}")
    return items, boxes


@cache
def default_catalog() -> tuple[dict[str, Item], list[Box]]:
    """The layer's catalogue, read once per Lambda container. Callers must not change what it returns."""
    return load_catalog()
