"""An in-memory ``PaymentGateway`` with the contract of ``StripePaymentGateway`` + ``local/payment_simulator.py``.

Cash on delivery, which Stripe has no part in, is kept in the same ledger here (``cash`` charges) so the steps' tests
can see a collection once; as with Stripe, cash cannot be refunded through the gateway (``RefundNotPossible``).

Same rules, same controls (``authorize``, ``decline_next``, ``declining_orders``, ``charges_for``), so a
use case tested against it behaves the same against the simulator over HTTP;
``tests/integration/test_payment_gateway.py`` runs one contract suite against both.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from fulfillment.errors import PaymentDeclined, PlatformRejected, RefundNotPossible
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentResult

ChargeKind = Literal["capture", "cash", "refund", "void"]
_Fingerprint = tuple[str, str, int | None]
_Outcome = PaymentResult | PaymentDeclined | PlatformRejected


@dataclass(frozen=True)
class FakeCharge:
    kind: ChargeKind
    order_key: str
    amount: int
    currency: str
    idempotency_key: str
    reference: str


@dataclass
class _Payment:
    currency: str
    authorized: int = 0
    card: bool = True
    captured: int = 0
    capture_ref: str | None = None
    collected: int = 0
    cash_ref: str | None = None
    voided: bool = False
    void_ref: str | None = None
    refunded: int = 0

    @property
    def refundable(self) -> int:
        return self.captured + self.collected - self.refunded


class FakePaymentGateway:
    """``auto_authorize`` (on by default here): a capture for an order never authorized authorizes its amount."""

    def __init__(self, *, auto_authorize: bool = True) -> None:
        self.auto_authorize = auto_authorize
        self.declining_orders: set[str] = set()
        self.charges: list[FakeCharge] = []
        self.calls: list[tuple[str, str, str]] = []  # (action, order key, idempotency key), replays included
        self.replays = 0
        self._payments: dict[str, _Payment] = {}
        self._declines: dict[str, list[str]] = {}
        self._kept: dict[str, tuple[_Fingerprint, _Outcome]] = {}
        self._ids = itertools.count(1)

    # --- controls, as on the simulator -----------------------------------------------------------------
    def authorize(self, order_key: str, amount: int, currency: str = "EUR", card: str = "4242424242424242") -> None:
        self._payments[order_key] = _Payment(currency.upper(), authorized=amount, card=bool(card))

    def decline_next(self, order_key: str, code: str = "card_declined") -> None:
        self._declines.setdefault(order_key, []).append(code)

    def charges_for(self, order_key: str, kind: ChargeKind | None = None) -> list[FakeCharge]:
        return [c for c in self.charges if c.order_key == order_key and (kind is None or c.kind == kind)]

    # --- the port --------------------------------------------------------------------------------------
    def capture(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._once("capture", order, amount, idempotency_key)

    def void(self, order: Order, idempotency_key: str) -> PaymentResult:
        return self._once("void", order, None, idempotency_key)

    def refund(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._once("refund", order, amount, idempotency_key)

    def collect_cash(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._once("cash", order, amount, idempotency_key)

    # --- the ledger ------------------------------------------------------------------------------------
    def _once(self, action: str, order: Order, amount: Money | None, key: str) -> PaymentResult:
        self.calls.append((action, order.key, key))
        fingerprint = (action, order.key, amount.minor if amount else None)
        if key in self._kept:
            kept_fingerprint, outcome = self._kept[key]
            if kept_fingerprint != fingerprint:
                raise PlatformRejected(f"idempotency key {key} was used for another request", status=422)
            self.replays += 1
            if isinstance(outcome, PaymentResult):
                return outcome
            raise outcome
        try:
            result = self._apply(action, order, amount, key)
        except (PaymentDeclined, PlatformRejected) as error:
            if isinstance(error, PaymentDeclined) or error.status == 409:
                self._kept[key] = (fingerprint, error)
            raise
        self._kept[key] = (fingerprint, result)
        return result

    def _apply(self, action: str, order: Order, amount: Money | None, key: str) -> PaymentResult:
        payment = self._payments.get(order.key)
        if action == "void":
            if payment is None:
                payment = self._payments[order.key] = _Payment(order.currency, card=False)
            return self._void(order, payment, key)
        assert amount is not None
        if amount.minor <= 0:
            raise PlatformRejected("amount must be positive", status=400)
        if payment is None and (action == "cash" or (action == "capture" and self.auto_authorize)):
            authorized = amount.minor if action == "capture" else 0
            payment = self._payments[order.key] = _Payment(amount.currency, authorized, card=action == "capture")
        if payment is None:
            raise PlatformRejected(f"no payment for order {order.key}", status=404)
        if amount.currency != payment.currency:
            raise PlatformRejected(f"the payment is in {payment.currency}", status=400)
        if action == "capture":
            return self._capture(order, payment, amount, key)
        if action == "cash":
            return self._cash(order, payment, amount, key)
        return self._refund(order, payment, amount, key)

    def _capture(self, order: Order, payment: _Payment, amount: Money, key: str) -> PaymentResult:
        if payment.capture_ref is not None:
            return self._result("already", payment, payment.captured, payment.capture_ref)
        if payment.voided or not payment.card:
            raise PlatformRejected(f"order {order.key}: nothing to capture", status=409)
        if amount.minor > payment.authorized:
            raise PlatformRejected(f"only {payment.authorized} was authorized", status=400)
        self._maybe_decline(order, "card_declined")
        payment.captured, payment.capture_ref = amount.minor, self._record("capture", order, payment, amount.minor, key)
        return self._result("captured", payment, amount.minor, payment.capture_ref)

    def _cash(self, order: Order, payment: _Payment, amount: Money, key: str) -> PaymentResult:
        if payment.cash_ref is not None:
            return self._result("already", payment, payment.collected, payment.cash_ref)
        if payment.voided or payment.card:
            raise PlatformRejected(f"order {order.key}: no cash to collect", status=409)
        self._maybe_decline(order, "cash_refused")
        payment.collected, payment.cash_ref = amount.minor, self._record("cash", order, payment, amount.minor, key)
        return self._result("collected", payment, amount.minor, payment.cash_ref)

    def _refund(self, order: Order, payment: _Payment, amount: Money, key: str) -> PaymentResult:
        if not payment.card:
            raise RefundNotPossible(f"order {order.key} was paid in cash on delivery: Stripe cannot refund it")
        if amount.minor > payment.refundable:
            raise PlatformRejected(f"{amount} exceeds the {payment.refundable} left to refund", status=400)
        payment.refunded += amount.minor
        reference = self._record("refund", order, payment, amount.minor, key)
        return self._result("refunded", payment, amount.minor, reference)

    def _void(self, order: Order, payment: _Payment, key: str) -> PaymentResult:
        if payment.refundable > 0:
            rest = payment.refundable
            payment.refunded += rest
            payment.voided = True
            return self._result("refunded", payment, rest, self._record("refund", order, payment, rest, key))
        if not payment.voided and payment.capture_ref is None and payment.authorized > 0:
            payment.voided = True
            payment.void_ref = self._record("void", order, payment, payment.authorized, key)
            return self._result("voided", payment, payment.authorized, payment.void_ref)
        payment.voided = True
        return self._result("already", payment, 0, payment.void_ref or "nothing_held")

    def _maybe_decline(self, order: Order, default: str) -> None:
        scripted = self._declines.get(order.key)
        code = scripted.pop(0) if scripted else (default if order.key in self.declining_orders else None)
        if code:
            raise PaymentDeclined(f"order {order.key} declined: {code}", code)

    def _record(self, kind: ChargeKind, order: Order, payment: _Payment, amount: int, key: str) -> str:
        reference = f"fake_{kind}_{next(self._ids):06d}"
        self.charges.append(FakeCharge(kind, order.key, amount, payment.currency, key, reference))
        return reference

    @staticmethod
    def _result(status: str, payment: _Payment, amount: int, reference: str) -> PaymentResult:
        return PaymentResult.model_validate(
            {"status": status, "amount": Money(minor=amount, currency=payment.currency), "reference": reference}
        )
