"""The fetch worker: a thin delivery's order read from the platform's API, then recorded as intake would."""

from __future__ import annotations

from fulfillment.errors import UnknownStore, UnsupportedPlatform
from fulfillment.intake.result import IntakeResult
from fulfillment.intake.snapshots import ensure_storable, record_and_start
from fulfillment.model.inbound import FetchRequest
from fulfillment.model.store import StoreCredentials
from fulfillment.ports import FetchDeps


def fetch_and_record(request: FetchRequest, deps: FetchDeps) -> IntakeResult:
    """The fetch worker: read a thin delivery's order from the platform API, then as intake would."""
    store = deps.stores.get(request.store_id)
    if store is None:
        raise UnknownStore(f"store {request.store_id!r} is no longer registered")
    source = deps.order_sources.get(request.platform)
    if source is None:
        raise UnsupportedPlatform(f"no order source for platform {request.platform!r}")
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    incoming = source.fetch_order(store, credentials, request.external_order_id)
    ensure_storable(incoming)
    return record_and_start(incoming, deps)
