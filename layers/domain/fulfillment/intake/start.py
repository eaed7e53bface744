"""Starting a paid order's execution durably: at once if Step Functions takes it, else from the start queue.

The order is recorded ``RECEIVED`` before any start is tried; that item (on ``GSI1`` under ``STATUS#RECEIVED``)
is the pending start. A start that fails for any reason — throttled, a timeout, a lost connection — is put on
the start queue, whose consumer retries it with backoff; an order the queue never got is found by the sweep
(``sweep.py``). The execution name is derived from the order, so a start repeated by any of these paths is
``ExecutionAlreadyExists``: done.
"""

from __future__ import annotations

from fulfillment.backoff import full_jitter
from fulfillment.model import Order, OrderStatus
from fulfillment.model.inbound import StartRequest
from fulfillment.ports import OrderRepository, StartQueue, Workflow


def needs_start(order: Order) -> bool:
    """An order paid and recorded but not yet taken by its execution (whose first step validates it).

    A reopened order (``attempt`` > 0) is started by the operator's ``orders rerun`` under its own name.
    A store's cancellation does not stop the start: the execution's first step sees ``cancel_requested``
    and compensates, so the order ends ``CANCELLED`` instead of waiting in ``RECEIVED`` forever."""
    return order.status is OrderStatus.RECEIVED and order.attempt == 0


def start_or_queue(order: Order, workflow: Workflow, starts: StartQueue) -> tuple[bool, str | None]:
    """(started, why the start was deferred): the caller's answer never depends on Step Functions' mood."""
    try:
        return workflow.start(order), None
    except Exception as error:
        deferred = f"StartExecution failed ({type(error).__name__}: {error}); queued"
    try:
        starts.request(StartRequest(order_key=order.key))
    except Exception as error:
        return False, f"{deferred}, but the start queue failed too ({type(error).__name__}); left to the sweep"
    return False, deferred


def start_pending(request: StartRequest, orders: OrderRepository, workflow: Workflow) -> bool:
    """The start queue's consumer: start the order's execution if it still needs one.

    True if this call started it; False if there is nothing to do (an execution of that name exists, the
    order moved on or is gone). Any failure raises: the message comes back after a backoff."""
    order = orders.get(request.order_key)
    if order is None or not needs_start(order):
        return False
    return workflow.start(order)


MAX_START_BACKOFF_SECONDS = 900


def start_backoff(receive_count: int) -> float:
    """Seconds a failed start waits before its next try: exponential with full jitter (1 s, then up to 2, 4, …
    900 s), so a backlog spreads out under Step Functions' StartExecution token bucket instead of refilling it
    in lockstep."""
    return full_jitter(1.0, receive_count, cap=MAX_START_BACKOFF_SECONDS, floor=1.0)
