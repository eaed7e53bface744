"""Recording a platform's snapshot of an order: the newest snapshot wins, and a paid order starts once."""

from __future__ import annotations

from fulfillment.aggregates import retry_on_conflict
from fulfillment.errors import MalformedPayload, OrderCancelled, PayloadTooLarge, VersionConflict
from fulfillment.intake.result import IntakeResult
from fulfillment.intake.start import needs_start, start_or_queue
from fulfillment.model import Order, OrderStatus
from fulfillment.model.lifecycle import CANCELLABLE, FULFILLED
from fulfillment.model.limits import MAX_ORDER_BYTES, MAX_ORDER_LINES_BYTES, id_too_long
from fulfillment.ports import OrderRepository, RecordDeps, Workflow

# Platform-owned content a newer snapshot may refresh until the order is validated.
_SNAPSHOT_FIELDS = ("number", "customer", "billing_address", "shipping_address", "lines", "totals", "placed_at")


def ensure_storable(incoming: Order) -> None:
    """A snapshot our table can hold: its id fits every key that embeds it, its document an item and its lines
    their chunk items (else 400/413). Checked before anything is logged, kept or written (``receive_webhook``,
    ``fetch_and_record``)."""
    reason = id_too_long(incoming.external_id, "the order id")
    if reason:
        raise MalformedPayload(reason)
    lines = sum(len(line.model_dump_json()) + 1 for line in incoming.lines)
    if lines > MAX_ORDER_LINES_BYTES:
        raise PayloadTooLarge(
            f"the order's {len(incoming.lines)} lines are {lines} bytes as stored; an order's lines are at most "
            f"{MAX_ORDER_LINES_BYTES} (MAX_ORDER_LINES_BYTES)"
        )
    size = len(incoming.model_dump_json(exclude={"lines"})) + sum(
        len(r.model_dump_json()) for r in incoming.reported_returns
    )
    if size > MAX_ORDER_BYTES:
        raise PayloadTooLarge(
            f"the order is {size} bytes as stored without its lines; an order is at most {MAX_ORDER_BYTES} "
            "(MAX_ORDER_BYTES)"
        )


def record_and_start(incoming: Order, deps: RecordDeps) -> IntakeResult:
    """Record the snapshot, then start the order's execution if it needs one (``start.start_or_queue``): once
    the order is recorded the answer is an acceptance, whatever Step Functions says."""
    orders, workflow = deps.orders, deps.workflow
    order, duplicate = record_snapshot(incoming, orders)
    if order.cancel_requested and order.wait.token and not duplicate:
        _fail_waiting_execution(order, orders, workflow)
    if incoming.reported_returns and order.status in FULFILLED:
        # Regardless of snapshot order: a refund delivery is about goods, not the order's fulfillment fields.
        # Imported here: the returns models are a cold start's cost that only a refund delivery needs.
        from fulfillment.intake.store_returns import take_store_returns

        order = take_store_returns(incoming.reported_returns, order, deps)
    started, deferred = start_or_queue(order, workflow, deps.starts) if needs_start(order) else (False, None)
    return IntakeResult(
        outcome="accepted",
        order_key=order.key,
        status=order.status,
        execution_name=order.execution_name() if order.status is not OrderStatus.PENDING_PAYMENT else None,
        fulfillment_started=started and not duplicate,
        duplicate=duplicate,
        start_deferred=deferred,
    )


def _fail_waiting_execution(order: Order, orders: OrderRepository, workflow: Workflow) -> None:
    """The store cancelled while the execution waits (approval, inspection): fail the wait, so it compensates."""
    token = order.wait.token
    order.wait.clear()
    try:
        orders.save(order)
    except VersionConflict:
        return  # someone answered the wait meanwhile; the next step sees cancel_requested
    if token:
        workflow.fail(token, OrderCancelled.__name__, order.cancel_requested or "cancelled in the store")


def record_snapshot(incoming: Order, orders: OrderRepository) -> tuple[Order, bool]:
    """Store a platform's view of an order; the newest snapshot wins. Returns (order, was_duplicate)."""

    def attempt() -> tuple[Order, bool]:
        current = orders.get(incoming.key)
        if current is None:
            return _create(incoming, orders), False  # a concurrent delivery creating it first: VersionConflict
        if not _merge(current, incoming):
            return current, True
        orders.save(current)
        return current, False

    return retry_on_conflict(attempt, f"order {incoming.key}")


def _create(incoming: Order, orders: OrderRepository) -> Order:
    new = incoming.model_copy(deep=True)
    new.record_receipt(
        f"placed on {incoming.platform}" + (" and paid" if incoming.paid else ", awaiting payment"),
        at=incoming.placed_at,
    )
    if new.cancelled:
        new.transition_to(OrderStatus.CANCELLED, f"cancelled on {incoming.platform}")
    orders.create(new)
    return new


def _merge(current: Order, incoming: Order) -> bool:
    """Apply a newer snapshot (or the payment an older one reports) to the stored order; False if it adds nothing."""
    newly_paid = incoming.paid and current.status is OrderStatus.PENDING_PAYMENT
    is_newer = incoming.source_modified_at > current.source_modified_at
    # An unpaid order the store cancels is simply cancelled; a paid one in fulfillment is compensated below.
    newly_cancelled = is_newer and incoming.cancelled and current.status is OrderStatus.PENDING_PAYMENT
    if not is_newer and not newly_paid:
        return False
    if is_newer and current.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.RECEIVED):
        for field in _SNAPSHOT_FIELDS:
            setattr(current, field, getattr(incoming, field))
    if is_newer:
        current.payment.refreshed_from(incoming.payment)  # authorized → paid once captured, …; what we did stays
    current.source_modified_at = max(current.source_modified_at, incoming.source_modified_at)
    current.paid = current.paid or incoming.paid
    current.cancelled = current.cancelled or newly_cancelled
    if newly_cancelled:
        current.transition_to(OrderStatus.CANCELLED, f"cancelled on {incoming.platform}")
    elif is_newer and incoming.cancelled and not current.cancel_requested and current.status in CANCELLABLE:
        # Paid and in fulfillment: the workflow compensates (a running step sees this at its next save).
        current.cancel_requested = f"cancelled on {incoming.platform}"
        current.note(f"cancellation requested by {incoming.platform}")
    elif newly_paid:
        current.transition_to(OrderStatus.RECEIVED, f"payment confirmed by {incoming.platform}")
    return True
