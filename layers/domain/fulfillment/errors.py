"""Typed domain errors.

A Lambda error reaches Step Functions under its exception class name, so the state
machine's Retry/Catch match these names: keep them stable.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for every failure the domain knows how to name."""

    code = "domain_error"


class InvalidMoney(DomainError):
    code = "invalid_money"


class InvalidTransition(DomainError):
    code = "invalid_transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an order in status {current} cannot move to {target}")
        self.current = current
        self.target = target


class OrderNotFound(DomainError):
    code = "order_not_found"


class OrderInvalid(DomainError):
    """The order cannot be fulfilled as it stands (a business failure, never retried)."""

    code = "order_invalid"


class VersionConflict(DomainError):
    """Someone else saved the order first; reload and try again (retryable)."""

    code = "version_conflict"


class TransientError(DomainError):
    """An outside dependency failed in a way that may succeed on retry (after ``retry_after`` seconds, if known)."""

    code = "transient_error"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = False  # a 429: the request was certainly not processed


class PlatformRejected(DomainError):
    """A store platform's API refused a request for good (4xx other than 408/429): retrying will not help."""

    code = "platform_rejected"

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class StoreMismatch(DomainError):
    """A verified delivery names another store than the one it was sent for."""

    code = "store_mismatch"


class UnknownStore(DomainError):
    code = "unknown_store"


class UnsupportedPlatform(DomainError):
    code = "unsupported_platform"


class InvalidSignature(DomainError):
    code = "invalid_signature"


class MalformedPayload(DomainError):
    code = "malformed_payload"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnknownShipment(DomainError):
    code = "unknown_shipment"


class ShipmentRejected(DomainError):
    """The carrier refused a shipment for good (an address it cannot deliver to, no rate, a refused API key):
    retrying the same request will not help, a person must fix the order or the store's shipping settings."""

    code = "shipment_rejected"


class InspectionFailed(DomainError):
    """Units failed inspection as often as a swap is tried; the order stops."""

    code = "inspection_failed"


class InspectionRejected(DomainError):
    """An operator failed an inspection the warehouse could not settle."""

    code = "inspection_rejected"


class ApprovalRejected(DomainError):
    """An operator rejected an order held for review; the order is cancelled."""

    code = "approval_rejected"


class PaymentDeclined(DomainError):
    """The payment gateway refused a capture or a cash collection for good (a business failure, never retried).

    ``decline_code`` is the gateway's reason (``card_declined``, ``insufficient_funds``, ``cash_refused``).
    """

    code = "payment_declined"

    def __init__(self, message: str, decline_code: str = "") -> None:
        super().__init__(message)
        self.decline_code = decline_code


class RefundNotPossible(DomainError):
    """The platform cannot pay this refund through its API (a gateway or payment method without online refunds): the
    refund is due, for a person to pay out and confirm; nothing moved."""

    code = "refund_not_possible"


class UnpackableItem(DomainError):
    """An item fits no box of the catalogue (by size or by weight), or has no dimensions on record."""

    code = "unpackable_item"

    def __init__(self, message: str, sku: str = "") -> None:
        super().__init__(message)
        self.sku = sku


class OutOfStock(DomainError):
    """An order asks for more than is available (``short``: missing units per SKU); nothing was reserved.

    Raised under the ``wait`` and ``cancel`` out-of-stock policies, and under ``partial`` when nothing
    at all is available. ``policy`` is the policy reserving ran under, so the workflow can tell them apart.
    """

    code = "out_of_stock"

    def __init__(self, short: dict[str, int], policy: str | None = None) -> None:
        missing = ", ".join(f"{sku} ×{quantity}" for sku, quantity in sorted(short.items()))
        suffix = f" (policy {policy})" if policy else ""
        super().__init__(f"out of stock: {missing or 'nothing'} short{suffix}")
        self.short = dict(short)
        self.policy = policy


class ReservationNotFound(DomainError):
    """No reservation is held for the order: never made, or already released (consumed twice is a no-op)."""

    code = "reservation_not_found"


class AwaitingStock(DomainError):
    """Out of stock under the ``wait`` policy: the state machine retries the reservation hourly, then cancels."""

    code = "awaiting_stock"


class OrderCancelled(DomainError):
    """The order was cancelled while a step ran; the state machine compensates."""

    code = "order_cancelled"


class CancellationRefused(DomainError):
    """Too late to cancel (delivered): a return is the way back."""

    code = "cancellation_refused"


class DeliveryFailed(DomainError):
    """The parcel was lost or returned to sender."""

    code = "delivery_failed"


class NothingToDecide(DomainError):
    """An answer for a wait the order is not in (already answered, or never asked)."""

    code = "nothing_to_decide"


class RerunRefused(DomainError):
    """An operator's re-run cannot go ahead (the order is running, done, or its payment was given back)."""

    code = "rerun_refused"


class ReturnInvalid(DomainError):
    """A return request or a warehouse report names lines, orders or RMAs that do not exist."""

    code = "return_invalid"


class ReturnNotAllowed(DomainError):
    """The order cannot take a return now (not delivered and complete yet)."""

    code = "return_not_allowed"


class DeliveryNotFound(DomainError):
    """No stored webhook delivery by that id (never kept, or older than the archive's 30 days)."""

    code = "delivery_not_found"
