"""A Stripe-compatible stub for tests and the local runtime: the part of Stripe's API ``StripePaymentGateway`` uses,
as the official SDK sends it (form-encoded bodies, ``Authorization: Bearer sk_…``, ``Idempotency-Key``), answering
Stripe's object shapes (https://docs.stripe.com/api/payment_intents/object, /api/refunds/object) and its error
shape ``{"error": {"type", "code", "message", …}}`` (https://docs.stripe.com/api/errors).

Routes: ``GET /v1/payment_intents/{id}``, ``POST /v1/payment_intents/{id}/capture`` (``amount_to_capture``),
``POST /v1/payment_intents/{id}/cancel``, ``POST /v1/refunds`` (``payment_intent``, ``amount``),
``GET /v1/refunds?payment_intent=``.

Rules, as Stripe documents them:
- capture only a PaymentIntent in ``requires_capture``, up to its ``amount_capturable``; the rest is released and
  the intent ``succeeded`` (https://docs.stripe.com/api/payment_intents/capture). Captured or canceled: 400
  ``payment_intent_unexpected_state`` (https://docs.stripe.com/error-codes#payment-intent-unexpected-state).
- cancel only before it succeeded (https://docs.stripe.com/api/payment_intents/cancel); else the same 400.
- a refund never exceeds what was captured less what was refunded: 400 ``amount_too_large``; no ``amount`` refunds
  the whole remainder; a PaymentIntent not captured cannot be refunded (https://docs.stripe.com/api/refunds/create).
- idempotency (https://docs.stripe.com/api/idempotent_requests): a POST key seen before gets its first answer back
  (status and body, a decline included), moves no money; the same key with other parameters is a 400
  ``idempotency_error``. A request refused before it ran (a bad API key, parameters failing validation) is not kept.
- declines are 402 ``card_error`` with ``code: card_declined`` and a ``decline_code``
  (https://docs.stripe.com/declines/codes); Stripe's always-declining test cards are declined
  (https://docs.stripe.com/testing#declined-payments).

Test knobs (kept from the old simulator): ``authorize(order_key, amount)`` is what the checkout did (a PaymentIntent
in ``requires_capture``; returns its id); ``decline_next(order_key)`` declines that order's next capture once;
``declining_orders`` / ``declining_cards`` always decline; ``auto_authorize``: a capture of a PaymentIntent never
seen here authorizes its amount first (the local runtime, where no checkout ran). Transport faults are scripted
with ``StubApi.fail_next`` on the route constants below. Every movement of money is in ``charges``
(``charges_for(order_key)``), the order being the PaymentIntent's ``metadata[order_key]``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from local.stub_api import Fault, StubApi, StubRequest

ChargeKind = Literal["capture", "refund", "void"]

# Stripe's test cards that are always declined, with the decline code Stripe gives them.
DECLINING_CARDS: Mapping[str, str] = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
}
TEST_CARD = "4242424242424242"


def intent_id_for(order_key: str) -> str:
    """A PaymentIntent id for an order (tests' checkout): ``pi_`` and 24 characters, like Stripe's."""
    return "pi_" + hashlib.sha256(order_key.encode()).hexdigest()[:24]


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
class Intent:
    id: str
    order_key: str
    amount: int
    currency: str  # lower case, as Stripe gives it
    card: str = TEST_CARD
    status: str = "requires_capture"
    amount_received: int = 0
    created: int = field(default_factory=lambda: int(time.time()))
    refunds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refunded(self) -> int:
        return sum(int(refund["amount"]) for refund in self.refunds)

    def view(self) -> dict[str, Any]:
        # The PaymentIntent object: https://docs.stripe.com/api/payment_intents/object
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount if self.status == "requires_capture" else 0,
            "amount_received": self.amount_received,
            "capture_method": "manual",
            "created": self.created,
            "currency": self.currency,
            "latest_charge": f"ch_{self.id[3:]}" if self.amount_received else None,
            "livemode": False,
            "metadata": {"order_key": self.order_key},
            "payment_method": "pm_card_visa",
            "status": self.status,
        }


@dataclass(frozen=True)
class _Kept:
    fingerprint: str
    status: int
    body: dict[str, Any]


Answer = tuple[int, dict[str, Any]]


def _error(status: int, kind: str, code: str, message: str, **extra: Any) -> Answer:
    # https://docs.stripe.com/api/errors: {"error": {"type", "code", "message", "param"?, "decline_code"?}}
    return status, {"error": {"type": kind, "code": code, "message": message, **extra}}


class PaymentSimulator(StubApi):
    INTENT = r"/v1/payment_intents/(?P<id>[^/?]+)"
    CAPTURE = r"/v1/payment_intents/(?P<id>[^/]+)/capture"
    CANCEL = r"/v1/payment_intents/(?P<id>[^/]+)/cancel"
    REFUNDS = r"/v1/refunds"

    def __init__(
        self,
        port: int = 0,
        *,
        api_key: str | None = None,
        auto_authorize: bool = False,
        declining_cards: Mapping[str, str] | None = None,
        declining_orders: set[str] | None = None,
    ) -> None:
        super().__init__(port, name="payment-simulator")
        self.api_key = api_key
        self.auto_authorize = auto_authorize
        self.declining_cards = dict(DECLINING_CARDS if declining_cards is None else declining_cards)
        self.declining_orders = set(declining_orders or ())
        self.intents: dict[str, Intent] = {}
        self.charges: list[Charge] = []
        self.replays = 0  # answers given again for a key seen before
        self._declines: dict[str, list[str]] = {}
        self._kept: dict[str, _Kept] = {}
        self._ids = itertools.count(1)
        self._ledger = threading.RLock()
        self.route("GET", self.INTENT, self._guarded(self._show))
        self.route("GET", self.REFUNDS, self._guarded(self._list_refunds))
        self.route("POST", self.CAPTURE, self._posted(self._capture))
        self.route("POST", self.CANCEL, self._posted(self._cancel))
        self.route("POST", self.REFUNDS, self._posted(self._refund))

    # --- set-up and inspection for tests ---------------------------------------------------------------
    def authorize(self, order_key: str, amount: int, currency: str = "EUR", card: str = TEST_CARD) -> str:
        """What the checkout did: a PaymentIntent in ``requires_capture`` for ``amount`` minor units; its id."""
        with self._ledger:
            intent = Intent(intent_id_for(order_key), order_key, amount, currency.lower(), card)
            self.intents[intent.id] = intent
            return intent.id

    def decline_next(self, order_key: str, code: str = "card_declined") -> None:
        """Decline the next capture of this order, once."""
        with self._ledger:
            self._declines.setdefault(order_key, []).append(code)

    def charges_for(self, order_key: str, kind: ChargeKind | None = None) -> list[Charge]:
        with self._ledger:
            return [c for c in self.charges if c.order_key == order_key and (kind is None or c.kind == kind)]

    def intent_of(self, order_key: str) -> Intent | None:
        with self._ledger:
            return self.intents.get(intent_id_for(order_key))

    def fail_next(self, method: str, path_regex: str, *faults: Fault) -> StubApi:
        """Scripted faults answer in Stripe's error shape unless a test gives a body: 429 is ``rate_limit``
        (https://docs.stripe.com/rate-limits), 5xx an ``api_error`` (https://docs.stripe.com/api/errors)."""
        shaped = [
            fault if fault.body is not None or not fault.status else replace(fault, body=_fault_body(fault.status))
            for fault in faults
        ]
        return super().fail_next(method, path_regex, *shaped)

    # --- HTTP ------------------------------------------------------------------------------------------
    def _authorized(self, request: StubRequest) -> bool:
        # https://docs.stripe.com/api/authentication: Bearer secret key; a wrong key is a 401 authentication_error
        return self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _guarded(self, answer: Callable[[StubRequest, re.Match[str]], Answer]) -> Callable[..., tuple[int, Any]]:
        def guarded(request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
            if not self._authorized(request):
                return _error(401, "invalid_request_error", "api_key_invalid", "Invalid API Key provided")
            with self._ledger:
                return answer(request, match)

        return guarded

    def _posted(
        self, apply: Callable[[dict[str, str], re.Match[str], str], Answer]
    ) -> Callable[[StubRequest, re.Match[str]], tuple[int, Any]]:
        def posted(request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
            if not self._authorized(request):
                return _error(401, "invalid_request_error", "api_key_invalid", "Invalid API Key provided")
            # The SDK sends application/x-www-form-urlencoded, nested keys as metadata[order_key]
            params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
            key = request.headers.get("idempotency-key", "").strip()
            fingerprint = repr((request.path, sorted(params.items())))
            with self._ledger:
                kept = self._kept.get(key) if key else None
                if kept is not None:
                    if kept.fingerprint != fingerprint:
                        message = f"Keys for idempotent requests can only be used with the same parameters ({key})"
                        return _error(400, "idempotency_error", "idempotency_key_in_use", message)
                    self.replays += 1
                    return kept.status, kept.body
                status, body = apply(params, match, key)
                # Only a request that ran is kept ("if incoming parameters failed validation … no idempotent
                # result is saved"): an answer, a decline, a refusal of the payment's state; not a bad amount.
                if key and (status in (200, 402) or "payment_intent" in body.get("error", {})):
                    self._kept[key] = _Kept(fingerprint, status, body)
                return status, body

        return posted

    def _show(self, request: StubRequest, match: re.Match[str]) -> Answer:
        intent = self.intents.get(unquote(match["id"]))
        return (200, intent.view()) if intent else self._no_such("payment_intent", unquote(match["id"]))

    def _list_refunds(self, request: StubRequest, match: re.Match[str]) -> Answer:
        # https://docs.stripe.com/api/refunds/list: a list object, newest first
        intent = self.intents.get(request.query.get("payment_intent", ""))
        data = list(reversed(intent.refunds)) if intent else []
        return 200, {"object": "list", "url": "/v1/refunds", "has_more": False, "data": data}

    # --- the ledger (called with the lock held) --------------------------------------------------------
    def _capture(self, params: dict[str, str], match: re.Match[str], key: str) -> Answer:
        intent_id = unquote(match["id"])
        intent = self.intents.get(intent_id)
        amount = _amount(params.get("amount_to_capture"))
        if intent is None and self.auto_authorize and amount:
            order_key = params.get("metadata[order_key]", intent_id)
            intent = self.intents[intent_id] = Intent(intent_id, order_key, amount, "eur")
        if intent is None:
            return self._no_such("payment_intent", intent_id)
        if intent.status != "requires_capture":
            return self._unexpected_state(intent, "capture")
        amount = intent.amount if amount is None else amount
        if amount <= 0 or amount > intent.amount:
            # https://docs.stripe.com/api/payment_intents/capture: at most amount_capturable
            return _error(400, "invalid_request_error", "amount_too_large", "amount_to_capture is too large")
        code = self._decline_code(intent)
        if code:
            message = "Your card was declined." if code == "card_declined" else f"Your card was declined ({code})."
            return _error(402, "card_error", "card_declined", message, decline_code=code, payment_intent=intent.view())
        intent.status, intent.amount_received = "succeeded", amount
        self._record("capture", intent, amount, key, intent.id)
        return 200, intent.view()

    def _cancel(self, params: dict[str, str], match: re.Match[str], key: str) -> Answer:
        intent = self.intents.get(unquote(match["id"]))
        if intent is None:
            return self._no_such("payment_intent", unquote(match["id"]))
        if intent.status in ("succeeded", "canceled"):
            return self._unexpected_state(intent, "cancel")
        intent.status = "canceled"
        self._record("void", intent, intent.amount, key, intent.id)
        return 200, {**intent.view(), "canceled_at": int(time.time()), "cancellation_reason": None}

    def _refund(self, params: dict[str, str], match: re.Match[str], key: str) -> Answer:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return self._no_such("payment_intent", params.get("payment_intent", ""))
        if intent.status != "succeeded":
            message = f"This PaymentIntent ({intent.id}) does not have a successful charge to refund."
            return _error(400, "invalid_request_error", "charge_not_refundable", message)
        left = intent.amount_received - intent.refunded
        amount = _amount(params.get("amount"))
        amount = left if amount is None else amount
        if amount > left:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            return _error(400, "invalid_request_error", "amount_too_large", message, param="amount")
        if amount <= 0:
            return _error(400, "invalid_request_error", "charge_already_refunded", "Charge has already been refunded.")
        refund_id = f"re_{next(self._ids):024d}"
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": intent.view()["latest_charge"],
            "created": int(time.time()),
            "currency": intent.currency,
            "metadata": {},
            "payment_intent": intent.id,
            "reason": None,
            "status": "succeeded",
        }
        intent.refunds.append(refund)
        self._record("refund", intent, amount, key, refund_id)
        return 200, refund

    def _unexpected_state(self, intent: Intent, action: str) -> Answer:
        message = f"This PaymentIntent's {action} could not be performed because it has a status of {intent.status}."
        return _error(
            400, "invalid_request_error", "payment_intent_unexpected_state", message, payment_intent=intent.view()
        )

    @staticmethod
    def _no_such(kind: str, identifier: str) -> Answer:
        return _error(404, "invalid_request_error", "resource_missing", f"No such {kind}: '{identifier}'", param="id")

    def _decline_code(self, intent: Intent) -> str | None:
        scripted = self._declines.get(intent.order_key)
        if scripted:
            return scripted.pop(0)
        if intent.order_key in self.declining_orders:
            return "card_declined"
        return self.declining_cards.get(intent.card)

    def _record(self, kind: ChargeKind, intent: Intent, amount: int, key: str, reference: str) -> None:
        self.charges.append(Charge(kind, intent.order_key, amount, intent.currency.upper(), key, reference))


def _fault_body(status: int) -> dict[str, Any]:
    if status == 429:
        return _error(429, "invalid_request_error", "rate_limit", "Too many requests hit the API too quickly.")[1]
    return {"error": {"type": "api_error", "message": f"scripted fault ({status})"}}


def _amount(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
