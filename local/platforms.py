"""The store platforms as the local tooling sees them: each one's spec (from the platform registry), its
sample deliveries in events/<platform>/, its demo store in local/stores.json and its stub API in
local/stubs/<platform>.py. Nothing here lists platforms: every list is derived from the registry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fulfillment.adapters.platforms.base import PlatformSpec
from fulfillment.adapters.platforms.registry import platform_names, platform_spec

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
STORES_FILE = ROOT / "local" / "stores.json"

__all__ = [
    "EVENTS",
    "STORES_FILE",
    "demo_store",
    "demo_stores",
    "paid_sample",
    "platform_names",
    "platform_spec",
    "sample_headers",
]


def paid_sample(platform: str) -> Path:
    """The platform's recorded 'order paid' delivery."""
    spec: PlatformSpec = platform_spec(platform)
    return EVENTS / spec.name / spec.paid_sample


def sample_headers(sample: Path) -> dict[str, str]:
    """The headers recorded with a sample delivery (``<stem>.headers.json``), or just its content type."""
    path = sample.with_name(sample.name.removesuffix(".json") + ".headers.json")
    if not path.exists():
        return {"Content-Type": "application/json"}
    headers: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return headers


def demo_stores(stores_file: Path = STORES_FILE) -> dict[str, dict[str, Any]]:
    """Platform → its first demo store's registration entry in local/stores.json."""
    found: dict[str, dict[str, Any]] = {}
    for entry in json.loads(stores_file.read_text(encoding="utf-8")):
        found.setdefault(entry["platform"], entry)
    return found


def demo_store(platform: str) -> str:
    """The store id of the platform's demo store (KeyError if local/stores.json has none)."""
    return str(demo_stores()[platform]["store_id"])
