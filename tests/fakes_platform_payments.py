"""An in-memory ``PlatformPayments``: a store platform holding an order's money, with the contract the platform
adapters keep (each call looks for what it did under the key first, so a repeat moves nothing) and a ledger of
what really moved, so a use case tested against it is checked on money, not on calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fulfillment.errors import PlatformRejected, RefundNotPossible
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentResult
from fulfillment.model.store import Store, StoreCredentials

Kind = Literal["capture", "refund", "void"]


@dataclass(frozen=True)
class Movement:
    kind: Kind
    order_key: str
    amount: int
    key: str


@dataclass
class FakePlatformPayments:
    refunds_online: bool = True  # False: the gateway cannot refund through the API (RefundNotPossible)
    # Captures accepted, not yet settled (BigCommerce's "capture pending"), by order key: the next capture call
    # reads it settled when ``settles``, else pending again; a refund of it is refused, as nothing was taken yet.
    pending: dict[str, int] = field(default_factory=dict)
    settles: bool = True
    ledger: list[Movement] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (action, order key, idempotency key)

    def moved(self, order_key: str, kind: Kind | None = None) -> list[Movement]:
        return [m for m in self.ledger if m.order_key == order_key and (kind is None or m.kind == kind)]

    def _done(self, kind: Kind, key: str) -> Movement | None:
        return next((m for m in self.ledger if m.kind == kind and m.key == key), None)

    def capture(
        self, store: Store, credentials: StoreCredentials, order: Order, amount: Money, idempotency_key: str
    ) -> PaymentResult:
        self.calls.append(("capture", order.key, idempotency_key))
        if self.moved(order.key, "void"):
            raise PlatformRejected(f"order {order.key}: the authorization was voided", 422)
        if order.key in self.pending:
            if not self.settles:
                return PaymentResult(status="pending", amount=amount, reference=idempotency_key)
            self.ledger.append(Movement("capture", order.key, self.pending.pop(order.key), idempotency_key))
        done = next(iter(self.moved(order.key, "capture")), None)
        if done is not None:
            return PaymentResult(
                status="already", amount=Money(minor=done.amount, currency=order.currency), reference=done.key
            )
        self.ledger.append(Movement("capture", order.key, amount.minor, idempotency_key))
        return PaymentResult(status="captured", amount=amount, reference=idempotency_key)

    def refund(
        self,
        store: Store,
        credentials: StoreCredentials,
        order: Order,
        amount: Money,
        idempotency_key: str,
        reason: str,
    ) -> PaymentResult:
        self.calls.append(("refund", order.key, idempotency_key))
        if self._done("refund", idempotency_key) is not None:
            return PaymentResult(status="already", amount=amount, reference=idempotency_key)
        if order.key in self.pending:
            raise PlatformRejected(f"order {order.key}: the capture is still pending", 422)
        if not self.refunds_online:
            raise RefundNotPossible(f"the {order.payment.gateway or 'order'} gateway cannot refund through the API")
        refunded = sum(m.amount for m in self.moved(order.key, "refund"))
        if refunded + amount.minor > order.totals.grand_total.minor:
            raise PlatformRejected(f"order {order.key}: refund over what was paid", 422)
        self.ledger.append(Movement("refund", order.key, amount.minor, idempotency_key))
        return PaymentResult(status="refunded", amount=amount, reference=idempotency_key)

    def void(self, store: Store, credentials: StoreCredentials, order: Order, idempotency_key: str) -> PaymentResult:
        self.calls.append(("void", order.key, idempotency_key))
        held = order.payment.authorized or order.totals.grand_total
        if self.moved(order.key, "void"):
            return PaymentResult(status="already", amount=held, reference=idempotency_key)
        if self.moved(order.key, "capture"):
            raise PlatformRejected(f"order {order.key}: captured, refund it instead", 422)
        self.ledger.append(Movement("void", order.key, held.minor, idempotency_key))
        return PaymentResult(status="voided", amount=held, reference=idempotency_key)
