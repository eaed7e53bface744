"""The store platforms we take webhooks from and write back to: one module each, found by file name, loaded on
first use.

Every module of this package is a platform (exporting ``SPEC``), except ``base``, ``registry`` and private
helpers (``_name.py``). Names are listed from the directory without importing anything, so a cold intake
pays for importing the one platform its first delivery names, not every platform. Adding a platform is
adding its module: nothing here lists them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformAdapters, PlatformSpec
from fulfillment.model.capabilities import NO_PAYMENT_API, PaymentCapabilities

_PACKAGE = __name__.rpartition(".")[0]
_NOT_PLATFORMS = frozenset({"base", "registry"})


@functools.cache
def platform_names() -> tuple[str, ...]:
    """Every platform's name, sorted, from the modules' file names (none is imported)."""
    found = pkgutil.iter_modules([str(Path(__file__).parent)])
    return tuple(
        sorted(
            module.name
            for module in found
            if not module.ispkg and not module.name.startswith("_") and module.name not in _NOT_PLATFORMS
        )
    )


def platform_spec(name: str) -> PlatformSpec:
    """The platform's spec, importing its module if it is not yet; KeyError if there is no such platform."""
    if name not in platform_names():
        raise KeyError(name)
    spec = importlib.import_module(f"{_PACKAGE}.{name}").SPEC
    if not isinstance(spec, PlatformSpec) or spec.name != name:
        raise TypeError(f"{_PACKAGE}.{name}.SPEC is not the PlatformSpec of {name!r}")
    return spec


def payment_capabilities(name: str) -> PaymentCapabilities:
    """What the platform's API can do with an order's money; a platform we do not know can do nothing."""
    try:
        return platform_spec(name).payments
    except KeyError:
        return NO_PAYMENT_API


def platform_specs() -> list[PlatformSpec]:
    """Every platform's spec (imports every platform module: for the CLI, the local tooling and the tests)."""
    return [platform_spec(name) for name in platform_names()]


class PlatformRegistry(Mapping[str, PlatformAdapters]):
    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._built: dict[str, PlatformAdapters] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> PlatformAdapters:
        if name not in platform_names():
            raise KeyError(name)
        with self._lock:
            if name not in self._built:
                self._built[name] = platform_spec(name).build(self._http)
            return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(platform_names())

    def __len__(self) -> int:
        return len(platform_names())


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
