"""A payment gateway for tests and the local runtime: the API ``HttpPaymentGateway`` speaks, on a real socket.

State per order (authorized amount and card, captured, cash collected, voided, refunds) and an
idempotency-key table: a key seen before gets its first answer back and moves no money. Answers are
kept once the request reached a payment — successes, declines (402) and conflicts (409) — like
Stripe's; a request refused before that (no key, bad body, unknown payment: 400/404) keeps nothing,
so the same key works once it is fixed. The same key with another body is refused (422).

Outcomes are configurable: ``decline_next(order_key)`` declines the next capture or cash collection
of that order once; cards in ``declining_cards`` (Stripe's test numbers by default) and orders in
``declining_orders`` are always declined; transport faults (429 with Retry-After, 5xx, slow answers)
are scripted with ``StubApi.fail_next`` on the route constants below and happen before the ledger
sees the request — except ``Fault.slow``, which delays and then processes it: an answer the client
gave up waiting for, i.e. a lost answer.

Every movement of money is in ``charges``, so tests can assert that something happened exactly once.

Rules: one capture per payment, up to the authorized amount (the rest of the authorization is
released, as Stripe does); one cash collection; refunds never exceed what was captured or collected
less what was refunded; ``void`` is "cancel or refund": it voids an uncaptured authorization and
refunds whatever was taken, and answers ``already`` when nothing is left to release — also for an
order the gateway never saw (cash on delivery cancelled before delivery), which it then marks void so
no cash is collected for it later. A cash-on-delivery payment needs no authorization: it comes into
being with its collection.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from local.stub_api import StubApi, StubRequest

ChargeKind = Literal["capture", "cash", "refund", "void"]

# Stripe's test cards that are always declined, with the decline code Stripe gives them.
DECLINING_CARDS: Mapping[str, str] = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
}
TEST_CARD = "4242424242424242"


@dataclass(frozen=True)
class Charge:
    """One movement of money (or release of an authorization), in minor units."""

    kind: ChargeKind
    order_key: str
    amount: int
    currency: str
    idempotency_key: str
    reference: str


@dataclass
class Payment:
    order_key: str
    currency: str
    authorized: int = 0
    card: str | None = None  # None: cash on delivery
    captured: int = 0
    capture_id: str | None = None
    collected: int = 0
    cash_id: str | None = None
    voided: bool = False
    void_id: str | None = None
    refunds: list[tuple[str, int]] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(amount for _, amount in self.refunds)

    @property
    def refundable(self) -> int:
        return self.captured + self.collected - self.refunded

    def view(self) -> dict[str, Any]:
        return {
            "order_key": self.order_key,
            "currency": self.currency,
            "authorized": self.authorized,
            "method": "card" if self.card else "cash_on_delivery",
            "captured": self.captured,
            "collected": self.collected,
            "refunded": self.refunded,
            "voided": self.voided,
        }


@dataclass(frozen=True)
class _Kept:
    fingerprint: str
    status: int
    body: dict[str, Any]


Answer = tuple[int, dict[str, Any]]
_KEPT_STATUSES = frozenset({200, 201, 402, 409})


class PaymentSimulator(StubApi):
    CAPTURE = r"/payments/(?P<key>[^/]+)/capture"
    VOID = r"/payments/(?P<key>[^/]+)/void"
    REFUNDS = r"/payments/(?P<key>[^/]+)/refunds"
    CASH = r"/payments/(?P<key>[^/]+)/cash"
    PAYMENT = r"/payments/(?P<key>[^/]+)"

    def __init__(
        self,
        port: int = 0,
        *,
        api_key: str | None = None,
        auto_authorize: bool = False,
        declining_cards: Mapping[str, str] | None = None,
        declining_orders: set[str] | None = None,
    ) -> None:
        """``auto_authorize``: a capture for an order never authorized here authorizes its amount first
        (the local runtime, where no checkout authorized anything); otherwise it answers 404."""
        super().__init__(port, name="payment-simulator")
        self.api_key = api_key
        self.auto_authorize = auto_authorize
        self.declining_cards = dict(DECLINING_CARDS if declining_cards is None else declining_cards)
        self.declining_orders = set(declining_orders or ())
        self.payments: dict[str, Payment] = {}
        self.charges: list[Charge] = []
        self.replays = 0  # answers given again for a key seen before
        self._declines: dict[str, list[str]] = {}
        self._kept: dict[str, _Kept] = {}
        self._ids = itertools.count(1)
        self._ledger = threading.RLock()
        self.route("GET", self.PAYMENT, self._show)
        for action, path in (("capture", self.CAPTURE), ("void", self.VOID), ("refund", self.REFUNDS)):
            self.route("POST", path, self._action_answer(action))
        self.route("POST", self.CASH, self._action_answer("cash"))

    # --- set-up and inspection for tests ---------------------------------------------------------------
    def authorize(self, order_key: str, amount: int, currency: str = "EUR", card: str = TEST_CARD) -> None:
        """What the checkout did: an authorization of ``amount`` minor units on ``card``."""
        with self._ledger:
            self.payments[order_key] = Payment(order_key, currency.upper(), authorized=amount, card=card)

    def decline_next(self, order_key: str, code: str = "card_declined") -> None:
        """Decline the next capture or cash collection of this order, once."""
        with self._ledger:
            self._declines.setdefault(order_key, []).append(code)

    def charges_for(self, order_key: str, kind: ChargeKind | None = None) -> list[Charge]:
        with self._ledger:
            return [c for c in self.charges if c.order_key == order_key and (kind is None or c.kind == kind)]

    def payment(self, order_key: str) -> Payment | None:
        with self._ledger:
            return self.payments.get(order_key)

    # --- HTTP ------------------------------------------------------------------------------------------
    def _show(self, request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
        with self._ledger:
            payment = self.payments.get(unquote(match["key"]))
            return (200, payment.view()) if payment else (404, {"error": "no_such_payment"})

    def _action_answer(self, action: str) -> Callable[[StubRequest, re.Match[str]], tuple[int, Any]]:
        def answer(request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
            return self._handle(action, request, unquote(match["key"]))

        return answer

    def _handle(self, action: str, request: StubRequest, order_key: str) -> Answer:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": "unauthorized"}
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            return 400, {"error": "idempotency_key_required", "message": "every POST needs an Idempotency-Key"}
        try:
            body = request.json() or {}
        except ValueError:
            return 400, {"error": "invalid_json"}
        if not isinstance(body, dict):
            return 400, {"error": "invalid_json"}
        fingerprint = json.dumps([request.path, body], sort_keys=True)
        with self._ledger:
            kept = self._kept.get(key)
            if kept is not None:
                if kept.fingerprint != fingerprint:
                    message = f"key {key} was used for another request"
                    return 422, {"error": "idempotency_key_reused", "message": message}
                self.replays += 1
                return kept.status, kept.body
            status, answer = self._apply(action, order_key, body, key)
            if status in _KEPT_STATUSES:
                self._kept[key] = _Kept(fingerprint, status, answer)
            return status, answer

    # --- the ledger (called with the lock held) --------------------------------------------------------
    def _apply(self, action: str, order_key: str, body: dict[str, Any], key: str) -> Answer:
        amount, currency = body.get("amount"), str(body.get("currency", "")).upper()
        if action == "void":
            return self._void(order_key, currency, key)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not currency:
            return 400, {"error": "invalid_amount", "message": "amount must be a positive integer with a currency"}
        payment = self.payments.get(order_key)
        if payment is None and (action == "cash" or (action == "capture" and self.auto_authorize)):
            payment = Payment(order_key, currency, authorized=amount if action == "capture" else 0)
            payment.card = TEST_CARD if action == "capture" else None
            self.payments[order_key] = payment
        if payment is None:
            return 404, {"error": "no_such_payment", "message": f"no payment for order {order_key}"}
        if currency != payment.currency:
            return 400, {"error": "currency_mismatch", "message": f"the payment is in {payment.currency}"}
        if action == "capture":
            return self._capture(payment, amount, key)
        if action == "cash":
            return self._cash(payment, amount, key)
        return self._refund(payment, amount, key)

    def _capture(self, payment: Payment, amount: int, key: str) -> Answer:
        if payment.capture_id is not None:
            return 409, {"error": "already_captured", **self._money(payment, payment.captured, payment.capture_id)}
        if payment.voided:
            return 409, {"error": "payment_voided", "message": "the payment was voided"}
        if payment.card is None:
            return 409, {"error": "not_a_card_payment", "message": "cash on delivery is collected, not captured"}
        if amount > payment.authorized:
            return 400, {"error": "amount_too_large", "message": f"only {payment.authorized} was authorized"}
        code = self._decline_code(payment)
        if code:
            return 402, {"error": "card_declined", "decline_code": code, "message": f"the card was declined ({code})"}
        payment.captured, payment.capture_id = amount, self._record("capture", payment, amount, key, "ch")
        return 200, {"status": "captured", **self._money(payment, amount, payment.capture_id)}

    def _cash(self, payment: Payment, amount: int, key: str) -> Answer:
        if payment.cash_id is not None:
            return 409, {"error": "already_collected", **self._money(payment, payment.collected, payment.cash_id)}
        if payment.voided:
            return 409, {"error": "payment_voided", "message": "the payment was voided"}
        if payment.card is not None:
            return 409, {"error": "not_cash_on_delivery", "message": "a card payment is captured, not collected"}
        code = self._decline_code(payment, default="cash_refused")
        if code:
            return 402, {"error": "cash_refused", "decline_code": code, "message": f"no cash collected ({code})"}
        payment.collected, payment.cash_id = amount, self._record("cash", payment, amount, key, "cash")
        return 201, {"status": "collected", **self._money(payment, amount, payment.cash_id)}

    def _refund(self, payment: Payment, amount: int, key: str) -> Answer:
        if amount > payment.refundable:
            return 400, {
                "error": "amount_too_large",
                "message": f"{amount} exceeds the {payment.refundable} left to refund",
                "refundable": payment.refundable,
            }
        reference = self._record("refund", payment, amount, key, "re")
        payment.refunds.append((reference, amount))
        return 201, {"status": "refunded", **self._money(payment, amount, reference)}

    def _void(self, order_key: str, currency: str, key: str) -> Answer:
        payment = self.payments.get(order_key)
        if payment is None:  # nothing held (cash on delivery before delivery): void it so nothing is taken later
            if not currency:
                return 400, {"error": "invalid_currency", "message": "void names the order's currency"}
            payment = self.payments[order_key] = Payment(order_key, currency)
        if payment.refundable > 0:  # cancel or refund: what was taken goes back in full
            rest = payment.refundable
            reference = self._record("refund", payment, rest, key, "re")
            payment.refunds.append((reference, rest))
            payment.voided = True
            return 200, {"status": "refunded", **self._money(payment, rest, reference)}
        if not payment.voided and payment.capture_id is None and payment.authorized > 0:
            payment.voided = True
            payment.void_id = self._record("void", payment, payment.authorized, key, "void")
            return 200, {"status": "voided", **self._money(payment, payment.authorized, payment.void_id)}
        payment.voided = True  # nothing held: nothing may be taken any more either
        return 200, {"status": "already", **self._money(payment, 0, payment.void_id or "nothing_held")}

    def _decline_code(self, payment: Payment, default: str = "card_declined") -> str | None:
        scripted = self._declines.get(payment.order_key)
        if scripted:
            return scripted.pop(0)
        if payment.order_key in self.declining_orders:
            return default
        if payment.card is not None and payment.card in self.declining_cards:
            return self.declining_cards[payment.card]
        return None

    def _record(self, kind: ChargeKind, payment: Payment, amount: int, key: str, prefix: str) -> str:
        reference = f"{prefix}_{next(self._ids):06d}"
        self.charges.append(Charge(kind, payment.order_key, amount, payment.currency, key, reference))
        return reference

    @staticmethod
    def _money(payment: Payment, amount: int, reference: str) -> dict[str, Any]:
        return {"amount": amount, "currency": payment.currency, "id": reference}
