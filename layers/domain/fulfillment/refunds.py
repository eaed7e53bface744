"""Giving money back: the one path for every cancellation of a paid order and every refunded return.

Where the money is decides how (``model.payment.PaymentMethod``), and the platform's ``PaymentCapabilities`` what
can be asked of it:

- at our payment gateway (``AUTHORIZED``, ``CASH_ON_DELIVERY``): the gateway voids or refunds (``PaymentGateway``);
- on the platform, nothing captured (``PLATFORM_AUTHORIZED``): the authorization is voided through the platform;
- on the platform, captured (``PREPAID``, or captured by us): refunded through the platform to the original method.

What the platform cannot pay through its API (Ecwid, OpenCart; a gateway or method without online refunds) is a
refund **due**: recorded on the order (``PaymentRecord.refunds_due``) with an alert naming amount and order, told
to the store as a note, paid out by a person and confirmed with ``fulfillment orders confirm-refund``; never
reported as refunded before that. Every call carries the refund's key, and each platform adapter looks for a
refund with that key before it makes one, so a retry or re-run pays nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fulfillment.adapters.platforms.registry import payment_capabilities
from fulfillment.aggregates import load_order, update_order, update_return
from fulfillment.errors import OrderInvalid, PlatformRejected, RefundNotPossible
from fulfillment.model import Money, Order
from fulfillment.model.order import RefundDue
from fulfillment.model.payment import PaymentMethod, amount_to_collect, capture_key, payment_method
from fulfillment.model.returns import Return, ReturnStatus
from fulfillment.model.store import Store, StoreCredentials
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.ports import PlatformPayments, ReturnDeps, StepDeps

_NOT_ALLOWED = frozenset({0, 401, 403})  # PlatformRejected without an HTTP status is a configuration problem
REFUND_DUE_ALERT = "refund_due"  # the alert (and metric dimension) of money owed back that nobody has paid yet


class GivenBack(BaseModel):
    """What giving money back did: ``refunded`` / ``voided`` (money moved, or an authorization released),
    ``due`` (owed, for a person to pay out), ``nothing`` (nothing was held)."""

    model_config = ConfigDict(frozen=True)

    status: Literal["refunded", "voided", "due", "nothing"]
    amount: Money
    reference: str = ""
    why: str = ""  # for ``due``: why the platform could not pay it
    settled: Money | None = None  # a pending capture found settled on the way: what the platform took

    def describe(self) -> str:
        if self.status == "due":
            return f"refund due ({self.amount}): {self.why}"
        return f"payment {self.status} ({self.amount})"


def refundable(order: Order) -> Money:
    """What the customer paid and has not had back: captured or collected, else the total, less refunds so far."""
    paid = order.payment.captured or order.payment.collected or order.totals.grand_total
    back = (order.refunded.minor if order.refunded else 0) + (
        order.payment.refunded.minor if order.payment.refunded else 0
    )
    return Money(minor=max(0, paid.minor - back), currency=order.currency)


def give_back(order: Order, amount: Money | None, key: str, reason: str, deps: StepDeps) -> GivenBack:
    """Give ``amount`` back (None: everything held, as a cancellation does), once per ``key``. Moves money, never
    saves the order: the caller records the outcome with ``record``."""
    method = payment_method(order)
    if method in (PaymentMethod.AUTHORIZED, PaymentMethod.CASH_ON_DELIVERY):
        # amount None is cancel-or-refund: voids an authorization, refunds what was captured or collected
        try:
            result = deps.payments.void(order, key) if amount is None else deps.payments.refund(order, amount, key)
        except RefundNotPossible as cannot:  # cash on delivery: Stripe never held it, a person pays it back
            return GivenBack(status="due", amount=amount or refundable(order), why=str(cannot))
        if result.status == "already" and amount is None:
            return GivenBack(status="nothing", amount=result.amount, reference=result.reference)
        status: Literal["refunded", "voided"] = "voided" if result.status == "voided" else "refunded"
        return GivenBack(status=status, amount=result.amount, reference=result.reference)
    capabilities = payment_capabilities(order.platform)
    client = deps.platform_payments.get(order.platform)
    store = deps.stores.get(order.store_id)
    current = _with_capture_settled(order, client, store, deps)
    if isinstance(current, GivenBack):
        return current
    settled = current.payment.captured if current is not order else None
    order = current
    captured = method is PaymentMethod.PREPAID or order.payment.captured is not None or order.payment.capture_pending
    if not captured:  # authorized on the platform, nothing taken: release the authorization
        held = order.payment.authorized or order.totals.grand_total
        if amount is not None:
            raise OrderInvalid(f"order {order.key}: nothing was captured, so nothing can be refunded")
        if capabilities.void and client is not None and store is not None:
            credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
            voided = client.void(store, credentials, order, key)
            return GivenBack(status="voided", amount=held, reference=voided.reference)
        return GivenBack(status="nothing", amount=held, why="the authorization lapses unused")
    left = refundable(order)
    # Never more than was paid and not yet given back (lines' value can exceed it: an order-level discount).
    owed = left if amount is None or amount.minor > left.minor else amount
    if owed.minor <= 0:
        return GivenBack(status="nothing", amount=owed, settled=settled)
    if not capabilities.refunds_online or client is None or store is None:
        return GivenBack(status="due", amount=owed, why=f"{order.platform}'s API cannot refund", settled=settled)
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    try:
        refunded = client.refund(store, credentials, order, owed, key, reason)
    except RefundNotPossible as cannot:
        return GivenBack(status="due", amount=owed, why=str(cannot), settled=settled)
    except PlatformRejected as refused:
        if refused.status not in _NOT_ALLOWED:
            raise
        # No API credentials, or a token without the scope or permission to refund: the merchant's configuration,
        # which no retry fixes. Owed, with the reason, until someone pays it out (or fixes it and confirms).
        why = f"{order.platform} refused the refund: {refused}"[:300]
        return GivenBack(status="due", amount=owed, why=why, settled=settled)
    return GivenBack(status="refunded", amount=refunded.amount, reference=refunded.reference, settled=settled)


def _with_capture_settled(
    order: Order, client: PlatformPayments | None, store: Store | None, deps: StepDeps
) -> Order | GivenBack:
    """A capture asked for and not yet settled can be neither refunded (a gateway refunds only what it took) nor
    voided (BigCommerce refuses a void once a capture was asked): ask where it stands — the capture call reads the
    transactions first and captures nothing twice. Settled: the order as it now is (captured). Still pending: the
    money is owed, for a person to refund once it settles."""
    if not order.payment.capture_pending or order.payment.captured is not None or client is None or store is None:
        return order
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref))
    asked = order.payment.authorized or amount_to_collect(order)  # what the capture asked for (steps/payment.py)
    now = client.capture(store, credentials, order, asked, capture_key(order))
    if now.status == "pending":
        why = f"{order.platform} has not settled the capture of {now.amount} yet: refund it once it has"
        return GivenBack(status="due", amount=refundable(order), why=why)
    settled = order.model_copy(deep=True)
    settled.payment.captured, settled.payment.capture_pending = now.amount, False
    return settled


def record(order: Order, given: GivenBack, key: str, reason: str, *, at: datetime | None = None) -> None:
    """Write what ``give_back`` did on the order (inside the caller's save): refunded, voided, or a refund due with
    its alert, once per key."""
    if given.settled is not None:  # the capture that was pending has settled: the money was taken, then given back
        order.payment.captured, order.payment.capture_pending = given.settled, False
    if given.status == "refunded":
        previous = order.payment.refunded.minor if order.payment.refunded else 0
        order.payment.refunded = Money(minor=previous + given.amount.minor, currency=order.currency)
    elif given.status == "voided":
        order.payment.voided = True
    elif given.status == "due" and order.payment.refund_due(key) is None:
        due = RefundDue(key=key, amount=given.amount, reason=reason, since=at or datetime.now(UTC))
        order.payment.refunds_due.append(due)
        order.note(
            f"alert: refund of {given.amount} due for order {order.number} on {order.platform}: {given.why}; "
            "pay it out and confirm with `fulfillment orders confirm-refund`",
            alert=REFUND_DUE_ALERT,
            amount=str(given.amount),
            refund_key=key,
        )


def tell_store_refund_due(order: Order, given: GivenBack, key: str, deps: StepDeps) -> None:
    """The store hears of a refund due as a note (so whoever looks at the order there sees it): deduped per key."""
    if given.status != "due":
        return
    deps.notifier.notify(
        WriteBackRequest(
            order_key=order.key,
            kind=UpdateKind.RETURNED,
            reason=f"Refund of {given.amount} due, not yet paid: {given.why}. Pay it out, then confirm it.",
            reference=f"refund-due:{key}",
        )
    )


def confirm_refund(
    order_key: str, deps: ReturnDeps, *, by: str, reference: str, refund_key: str | None = None
) -> Order:
    """A person paid out a refund that was due (in the platform's admin, the provider's dashboard, a transfer):
    recorded on the order with who and the payout's reference, and a return waiting on it is refunded and closed.
    ``ValueError`` (nothing changes) when nothing is due, or ``refund_key`` names none of the order's dues."""
    order = load_order(deps.orders, order_key)
    outstanding = order.payment.outstanding_refunds
    if refund_key is not None:
        outstanding = [due for due in outstanding if due.key == refund_key]
    if not outstanding:
        raise ValueError(f"order {order_key} has no refund due" + (f" under {refund_key}" if refund_key else ""))
    if len(outstanding) > 1:
        keys = ", ".join(due.key for due in outstanding)
        raise ValueError(f"order {order_key} has several refunds due ({keys}): name one with --refund")
    due = outstanding[0]
    now = datetime.now(UTC)

    def pay(current: Order) -> Order:
        entry = current.payment.refund_due(due.key)
        if entry is None or entry.paid_out_at is not None:
            return current  # confirmed meanwhile: nothing more
        entry.paid_out_at, entry.paid_out_by, entry.reference = now, by, reference
        previous = current.payment.refunded.minor if current.payment.refunded else 0
        current.payment.refunded = Money(minor=previous + entry.amount.minor, currency=current.currency)
        current.note(f"refund of {entry.amount} paid out by {by} ({reference})", refund_key=entry.key)
        return current

    update_order(deps.orders, order_key, pay)
    return_key = due.key.removeprefix("refund:")
    ret = deps.returns.get(return_key) if due.key.startswith("refund:") else None
    if ret is not None and ret.status is ReturnStatus.REFUND_DUE:

        def refunded(current: Return, _: Order) -> None:
            if current.status is not ReturnStatus.REFUND_DUE:
                return
            current.refund, current.refund_reference = due.amount, reference
            current.transition_to(
                ReturnStatus.REFUNDED, f"refund of {due.amount} paid out by {by}", reference=reference
            )
            current.transition_to(ReturnStatus.CLOSED, "closed")

        update_return(deps, return_key, refunded)
    return load_order(deps.orders, order_key)
