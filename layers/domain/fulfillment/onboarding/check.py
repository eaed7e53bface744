"""``fulfillment stores check``: call the store's platform once with its registered credentials and say what is
missing before the first order depends on it (credentials, scopes, platform settings, IP allow-lists)."""

from __future__ import annotations

from pydantic import BaseModel

from fulfillment.adapters.platforms.base import PlatformAdapters
from fulfillment.errors import PlatformRejected, TransientError
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.ports import OrderSource

PROBE_ORDER_ID = "999999999"  # no shop has it: "not found" means the platform let us in and looked


class StoreCheckReport(BaseModel):
    store_id: str
    platform: str
    ok: bool
    findings: list[str]


def check_store(store: Store, credentials: StoreCredentials, adapters: PlatformAdapters) -> StoreCheckReport:
    if adapters.check is not None:
        findings = adapters.check(store, credentials)
    elif adapters.source is not None:
        findings = probe_order_fetch(adapters.source, store, credentials)
    else:
        findings = [f"{store.platform} has no API call to check the connection with"]
    return StoreCheckReport(store_id=store.store_id, platform=store.platform, ok=not findings, findings=findings)


def probe_order_fetch(source: OrderSource, store: Store, credentials: StoreCredentials) -> list[str]:
    """Fetch an order no shop has: a 404 is a working connection; a 401/403 names the refused credentials."""
    try:
        source.fetch_order(store, credentials, PROBE_ORDER_ID)
    except PlatformRejected as refused:
        return [] if refused.status == 404 else [refusal(refused)]
    except TransientError as unreachable:
        return [f"the platform could not be reached: {unreachable}"]
    return []


def refusal(refused: PlatformRejected) -> str:
    if refused.status in (401, 403):
        return f"the platform refused the registered credentials ({refused.status}): {refused}"
    return f"the platform answered {refused.status}: {refused}"
