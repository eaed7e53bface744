"""What each store platform can do with an order's money through its API, so nothing has to assume it.

Every platform module declares one ``PaymentCapabilities`` on its ``PlatformSpec`` (``SPEC.payments``); the
registry exposes it (``registry.payment_capabilities``), README's capability table is checked against it, and the
capture, refund, void and cancellation paths consult it before they call anything: what a platform cannot do is
an operator task (capture) or a refund due (refund), never a silent success.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Capture(StrEnum):
    NONE = "none"  # the API cannot capture an authorization: an operator captures in the platform's admin
    WHOLE = "whole"  # one capture of the whole authorized amount
    PARTIAL = "partial"  # any amount up to the authorization


class Refund(StrEnum):
    NONE = "none"  # the API moves no money: a refund is due, paid out by a person and confirmed by them
    ONLINE = "online"  # to the original payment method, through the platform's gateway
    # Online where the order's payment method refunds online, else only recorded (a refund due): Magento's
    # credit memo, WooCommerce's api_refund, both decided by the gateway.
    ONLINE_IF_GATEWAY = "online_if_gateway"


class PaymentCapabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    capture: Capture = Capture.NONE
    capture_async: bool = False  # accepted first, settled later: the capture stays pending until the platform says
    refund: Refund = Refund.NONE
    cancel_with_refund: bool = False  # one call cancels the order and pays the money back (or voids it)
    void: bool = False  # an uncaptured authorization can be released through the API
    # Captured before the goods leave, whatever the store's capture point (Magento invoices before it ships).
    capture_before_shipment: bool = False
    # Gateway ids that capture when the order's status changes (WooCommerce: the status is the capture call).
    captures_on_status: frozenset[str] = frozenset()
    how: str = ""  # one line for README's table: the calls behind the capabilities

    @property
    def can_capture(self) -> bool:
        return self.capture is not Capture.NONE

    @property
    def refunds_online(self) -> bool:
        return self.refund is not Refund.NONE


NO_PAYMENT_API = PaymentCapabilities(how="no payment calls: capture, refund and void are operator tasks")
