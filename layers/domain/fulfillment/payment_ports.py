"""The payment port: taking, releasing and giving back money for orders we collect ourselves.

Only ``AUTHORIZED`` and ``CASH_ON_DELIVERY`` orders go through it (``model/payment.py``); the store
holds a ``PREPAID`` order's money and refunds it itself.
"""

from __future__ import annotations

from typing import Protocol

from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentResult


class PaymentGateway(Protocol):
    """Every call carries an idempotency key: the same key always gets the first answer (a decline
    included) and never moves money twice. Declines raise ``PaymentDeclined``; a temporary failure
    raises ``TransientError`` and is safe to retry with the same key."""

    def capture(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Capture up to the authorized amount, once: ``captured``, or ``already`` if it was captured before."""

    def void(self, order: Order, idempotency_key: str) -> PaymentResult:
        """Release the payment whatever its state (Adyen's "cancel or refund"): an uncaptured authorization
        is ``voided``; money already captured or collected is refunded in full (``refunded``, the amount
        given back); nothing left to release is ``already``."""

    def refund(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Give back part of what was captured or collected; never more than is left (``PlatformRejected``)."""

    def collect_cash(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        """Record the carrier's cash collection on delivery: ``collected``, or ``already``."""
