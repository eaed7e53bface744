"""The store platforms we take webhooks from and write back to, one module each."""

from __future__ import annotations

import importlib

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformAdapters

PLATFORMS = ("woocommerce", "bigcommerce", "ecwid", "magento", "opencart", "shopify")


def build_platforms(http: HttpClient) -> dict[str, PlatformAdapters]:
    adapters: dict[str, PlatformAdapters] = {}
    for name in PLATFORMS:
        try:
            module = importlib.import_module(f"fulfillment.adapters.platforms.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"fulfillment.adapters.platforms.{name}":
                raise
            continue  # not built yet
        adapters[name] = module.build(http)
    return adapters
