"""The write-back worker: tell the order's store what happened, idempotently."""

from __future__ import annotations

from fulfillment.errors import OrderNotFound, UnknownStore
from fulfillment.model import Money, Order
from fulfillment.model.order import REPLACES_REF
from fulfillment.model.store import StoreCredentials
from fulfillment.model.writeback import StoreUpdate, UpdateKind, WriteBackRequest, WriteBackResult
from fulfillment.ports import WriteBackDeps


def write_back(request: WriteBackRequest, deps: WriteBackDeps) -> WriteBackResult:
    """The write-back worker: tell the order's store what happened, idempotently."""
    order = deps.orders.get(request.order_key)
    if order is None:
        raise OrderNotFound(f"no order {request.order_key}")
    store = deps.stores.get(order.store_id)
    if store is None:
        raise UnknownStore(f"store {order.store_id!r} is no longer registered")
    client = deps.write_backs.get(order.platform)
    if client is None:
        return WriteBackResult(done=False, reference=f"no write-back client for {order.platform}")
    amount = None if request.amount_minor is None else Money(minor=request.amount_minor, currency=order.currency)
    update = StoreUpdate(
        kind=request.kind,
        order=order,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        # The first parcel's tracking page (EasyPost's public tracker URL); one update per package is the
        # partial-shipment write-back's, which reads each package's label.
        tracking_url=next((p.label.tracking_url for p in order.packages if p.label and p.label.tracking_url), None),
        amount=amount,
        reason=request.reason,
        reference=request.reference,
    )
    if order.platform_refs.get(REPLACES_REF):
        update = _replacement_note(update, order, deps)
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    return client.apply(store, credentials, update)


def _replacement_note(update: StoreUpdate, replacement: Order, deps: WriteBackDeps) -> StoreUpdate:
    """A replacement order exists only here, not in the store: what happens to it is told as a note on the
    store's original order (one per replacement and kind, found by its marker on a retry)."""
    original = deps.orders.get(replacement.platform_refs[REPLACES_REF])
    if original is None:
        raise OrderNotFound(
            f"replacement {replacement.key}: no original order {replacement.platform_refs[REPLACES_REF]}"
        )
    if update.kind is UpdateKind.REFUNDED:  # a return of the replacement: the money was paid on the original
        return update.model_copy(update={"order": original, "reference": update.reference or replacement.key})
    shipment = f" with {replacement.carrier} {replacement.tracking_number}" if replacement.tracking_number else ""
    what = {
        UpdateKind.SHIPPED: f"shipped{shipment}",
        UpdateKind.COMPLETED: "delivered",
        UpdateKind.CANCELLED: f"cancelled: {update.reason}",
    }.get(update.kind, str(update.kind))
    return StoreUpdate(
        kind=UpdateKind.RETURNED,
        order=original,
        reason=f"Replacement order {replacement.number} {what}",
        reference=f"{replacement.key}:{update.kind}",
    )
