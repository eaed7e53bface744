"""Stock for the local runtime: every SKU the sample orders of every platform ask for (``local/inventory.json``).

Seeding tops each SKU up to at least its ``on_hand``, so seeding again (a restart, a second
``make local``) adds nothing, and stock taken by earlier orders is put back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from fulfillment.model.inventory import DEFAULT_WAREHOUSE, StockLevel, WarehouseId
from fulfillment.model.order import Sku
from fulfillment.ports import Inventory

SEED_FILE = Path(__file__).resolve().parent / "inventory.json"


class StockSeed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse: WarehouseId = DEFAULT_WAREHOUSE
    sku: Sku
    on_hand: int = Field(ge=0)


_SEEDS = TypeAdapter(list[StockSeed])


def load_seed(path: Path | str = SEED_FILE) -> list[StockSeed]:
    return _SEEDS.validate_json(Path(path).read_bytes())


def seed_inventory(inventory: Inventory, path: Path | str = SEED_FILE) -> list[StockLevel]:
    """Restock every seeded SKU whose ``on_hand`` is below the seed's; the levels after seeding, in file order."""
    levels: list[StockLevel] = []
    for seed in load_seed(path):
        current = inventory.level(seed.warehouse, seed.sku)
        missing = seed.on_hand - (current.on_hand if current is not None else 0)
        if missing > 0:
            current = inventory.restock(seed.warehouse, seed.sku, missing)
        levels.append(current or StockLevel(warehouse=seed.warehouse, sku=seed.sku))
    return levels
