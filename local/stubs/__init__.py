"""Local stand-ins for the store platforms' APIs, one module per platform, named as the platform.

Each module provides ``install(api)`` (its routes on a ``StubApi``; it answers the shop object that holds their
state, kept as ``api.shop``) and two checks the
end-to-end tests ask of every platform: ``wrote_shipment(request, tracking_number)`` — the request is
the shipment write-back carrying that tracking number — and ``wrote_completion(request)``. The modules are
found by file name, like the platforms themselves.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from local.stub_api import StubApi, StubRequest


class PlatformStub(Protocol):
    def install(self, api: StubApi) -> object: ...

    def wrote_shipment(self, request: StubRequest, tracking_number: str) -> bool: ...

    def wrote_completion(self, request: StubRequest) -> bool: ...


def stub_names() -> tuple[str, ...]:
    """The platforms that have a stub here, sorted."""
    return tuple(sorted(module.name for module in pkgutil.iter_modules([str(Path(__file__).parent)])))


def platform_stub(name: str) -> PlatformStub:
    if name not in stub_names():
        raise KeyError(name)
    return cast("PlatformStub", importlib.import_module(f"{__name__}.{name}"))
