"""``PaymentGateway`` for payments taken outside the store platform: Stripe, through its official Python SDK.

Locally (tests, the local runtime) the SDK is pointed at ``local/payment_simulator.py`` by its base-address
option (``StripeClient(base_addresses={"api": ...})``); nothing else differs.

The payment is the checkout's PaymentIntent, whose id the order carries as its authorization id
(``order.payment.authorization_ids[0]``, e.g. WooCommerce's ``transaction_id`` / ``_stripe_intent_id``).

- capture: ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture`` in minor units; the rest of the
  authorization is released (https://docs.stripe.com/api/payment_intents/capture).
- void (cancel or refund): a PaymentIntent still ``requires_capture`` is cancelled
  (``POST /v1/payment_intents/{id}/cancel``, https://docs.stripe.com/api/payment_intents/cancel); one that
  ``succeeded`` is refunded for what is left (``POST /v1/refunds`` with ``payment_intent``; no ``amount`` is the
  whole remainder, https://docs.stripe.com/api/refunds/create); one already ``canceled`` is ``already``.
- refund: ``POST /v1/refunds`` with ``payment_intent`` and ``amount``.
- collect_cash: cash on delivery is collected by the carrier, not by Stripe. Nothing is sent; the collection is
  recorded on the order by the caller (``collected``), keyed by the idempotency key. A refund of cash is not
  something Stripe can pay: ``RefundNotPossible``.

Every POST carries our ``idempotency_key`` in its request options: Stripe answers a repeated key with the first
answer and moves no money (https://docs.stripe.com/api/idempotent_requests), so the SDK's own network retries
(``max_network_retries``: connection errors, 409, 429, 5xx) and the caller's retries (Step Functions) are safe.
Errors (https://docs.stripe.com/api/errors): ``CardError`` is a decline (``PaymentDeclined`` with Stripe's
``decline_code``); ``RateLimitError``, ``APIConnectionError`` and 5xx are ``TransientError``; any other refusal
(``InvalidRequestError``: a refund over what was captured, a capture after a cancel, an unknown PaymentIntent) is
``PlatformRejected`` with Stripe's code, and moved nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import stripe

from fulfillment.errors import PaymentDeclined, PlatformRejected, RefundNotPossible, TransientError
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentResult

_T = TypeVar("_T")
TIMEOUT_SECONDS = 4.0
NETWORK_RETRIES = 2
_UNEXPECTED_STATE = "payment_intent_unexpected_state"  # https://docs.stripe.com/error-codes


class StripePaymentGateway:
    def __init__(self, base_url: str, api_key: str, *, client: stripe.StripeClient | None = None) -> None:
        self._api_key = api_key
        # No base URL: Stripe's own (https://api.stripe.com); locally the stub's.
        self._stripe = client or stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url.rstrip("/")} if base_url else None,
            max_network_retries=NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    def capture(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        intent_id = _intent_id(order)
        if intent_id is None:
            raise PlatformRejected(
                f"Stripe capture for order {order.key}: the order names no PaymentIntent", status=400
            )
        try:
            intent = self._call(
                "capture",
                order,
                lambda: self._stripe.v1.payment_intents.capture(
                    intent_id,
                    {"amount_to_capture": amount.minor, "metadata": {"order_key": order.key}},
                    {"idempotency_key": idempotency_key},
                ),
            )
        except PlatformRejected as refused:
            # Captured before under another key: Stripe refuses (payment_intent_unexpected_state); the port's
            # answer is "already", with what was taken.
            if _code(refused) != _UNEXPECTED_STATE:
                raise
            held = self._intent(intent_id, order)
            if held.status != "succeeded":
                raise
            return _result("already", held.amount_received, held.currency, held.id)
        return _result("captured", intent.amount_received, intent.currency, intent.id)

    def void(self, order: Order, idempotency_key: str) -> PaymentResult:
        intent_id = _intent_id(order)
        if intent_id is None:  # cash on delivery cancelled before delivery: Stripe holds nothing
            return PaymentResult(status="already", amount=Money(minor=0, currency=order.currency), reference="")
        intent = self._intent(intent_id, order)
        if intent.status == "succeeded":  # captured: refund what is left (no amount: the whole remainder)
            try:
                refund = self._call(
                    "void",
                    order,
                    lambda: self._stripe.v1.refunds.create(
                        {"payment_intent": intent_id, "metadata": {"order_key": order.key}},
                        {"idempotency_key": idempotency_key},
                    ),
                )
            except PlatformRejected as refused:  # charge_already_refunded: nothing left to give back
                if _code(refused) != "charge_already_refunded" or intent.amount_received > sum(
                    refund.amount for refund in self._refunds_of(intent_id, order)
                ):
                    raise
                return _result("already", 0, intent.currency, intent.id)
            return _result("refunded", refund.amount, refund.currency, refund.id)
        try:  # also when already canceled: the same key replays the first answer, another is refused
            cancelled = self._call(
                "void",
                order,
                lambda: self._stripe.v1.payment_intents.cancel(intent_id, options={"idempotency_key": idempotency_key}),
            )
        except PlatformRejected as refused:  # payment_intent_unexpected_state: canceled before, under another key
            if _code(refused) != _UNEXPECTED_STATE or self._intent(intent_id, order).status != "canceled":
                raise
            return _result("already", 0, intent.currency, intent.id)
        return _result("voided", cancelled.amount, cancelled.currency, cancelled.id)

    def refund(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        intent_id = _intent_id(order)
        if intent_id is None:
            raise RefundNotPossible(f"order {order.key} was paid in cash on delivery: Stripe cannot refund it")
        refund = self._call(
            "refund",
            order,
            lambda: self._stripe.v1.refunds.create(
                {"payment_intent": intent_id, "amount": amount.minor, "metadata": {"order_key": order.key}},
                {"idempotency_key": idempotency_key},
            ),
        )
        return _result("refunded", refund.amount, refund.currency, refund.id)

    def collect_cash(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        # Record only: the carrier took the cash; Stripe has no part in it (see the module docstring).
        return PaymentResult(status="collected", amount=amount, reference=f"cash:{idempotency_key}")

    # Reads are GETs, idempotent by definition: Stripe takes idempotency keys on POSTs only
    # (https://docs.stripe.com/api/idempotent_requests).
    def _intent(self, intent_id: str, order: Order) -> stripe.PaymentIntent:
        return self._call("read", order, lambda: self._stripe.v1.payment_intents.retrieve(intent_id))

    def _refunds_of(self, intent_id: str, order: Order) -> list[stripe.Refund]:
        # GET /v1/refunds?payment_intent=… (https://docs.stripe.com/api/refunds/list)
        listed = self._call(
            "read", order, lambda: self._stripe.v1.refunds.list({"payment_intent": intent_id, "limit": 100})
        )
        return [refund for refund in listed.data if refund.status != "failed"]

    @staticmethod
    def _call(action: str, order: Order, call: Callable[[], _T]) -> _T:
        what = f"Stripe {action} for order {order.key}"
        try:
            return call()
        except stripe.CardError as declined:
            reason = (declined.error.decline_code if declined.error else None) or declined.code or "card_declined"
            raise PaymentDeclined(f"{what} declined: {declined.user_message or reason}", reason) from declined
        except (stripe.RateLimitError, stripe.APIConnectionError) as transient:
            raise TransientError(f"{what}: {transient.user_message or transient}") from transient
        except stripe.StripeError as refused:
            status = refused.http_status or 0
            if status >= 500 or isinstance(refused, stripe.APIError):
                raise TransientError(f"{what}: Stripe answered {status}") from refused
            raise PlatformRejected(
                f"{what} refused ({refused.code or type(refused).__name__}): {refused.user_message or refused}",
                status=status,
                body=str(refused.json_body or ""),
            ) from refused


def _code(refused: PlatformRejected) -> str | None:
    """Stripe's error code behind a refusal (https://docs.stripe.com/error-codes)."""
    cause = refused.__cause__
    return cause.code if isinstance(cause, stripe.StripeError) else None


def _intent_id(order: Order) -> str | None:
    return next(iter(order.payment.authorization_ids), None)


def _result(status: str, amount: int, currency: str, reference: str) -> PaymentResult:
    # Stripe gives currencies in lower case (https://docs.stripe.com/currencies); ours are ISO upper case.
    return PaymentResult.model_validate(
        {"status": status, "amount": Money(minor=amount, currency=currency.upper()), "reference": reference}
    )
