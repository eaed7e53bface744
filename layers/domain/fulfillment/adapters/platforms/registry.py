"""The store platforms we take webhooks from and write back to, one module each, loaded on first use.

A cold intake pays for importing the one platform its first delivery names, not all six.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformAdapters

PLATFORMS = ("woocommerce", "bigcommerce", "ecwid", "magento", "opencart", "shopify")


class PlatformRegistry(Mapping[str, PlatformAdapters]):
    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._built: dict[str, PlatformAdapters] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> PlatformAdapters:
        if name not in PLATFORMS:
            raise KeyError(name)
        with self._lock:
            if name not in self._built:
                module = importlib.import_module(f"fulfillment.adapters.platforms.{name}")
                self._built[name] = module.build(self._http)
            return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(PLATFORMS)

    def __len__(self) -> int:
        return len(PLATFORMS)


class Projection[T](Mapping[str, T]):
    """One part of each platform's adapters (its inbound reader, its write-back …), still loaded lazily."""

    def __init__(self, registry: Mapping[str, PlatformAdapters], part: Callable[[PlatformAdapters], T | None]) -> None:
        self._registry = registry
        self._part = part

    def __getitem__(self, name: str) -> T:
        value = self._part(self._registry[name])
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._registry if self.get(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def build_platforms(http: HttpClient) -> PlatformRegistry:
    return PlatformRegistry(http)
