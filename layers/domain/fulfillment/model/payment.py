"""How an order is paid, when we take the money, and the idempotency keys that make taking it safe.

Who holds the money (``PaymentRecord.method``, read by each platform adapter from the store's own payload):

- ``PREPAID``: paid at checkout on the platform (WooCommerce "processing", Shopify "paid"). Nothing is left to
  take; a cancellation or return is refunded by the platform (``write_back``), not by us.
- ``PLATFORM_AUTHORIZED``: authorized at checkout on the platform (Shopify ``financial_status: authorized``,
  BigCommerce ``payment_status: authorized``, Magento ``processing`` with ``total_due`` left, WooCommerce
  ``on-hold`` with an authorize-only gateway). The order enters fulfillment with a capture obligation: captured
  through the platform at the store's capture point and before the authorization expires.
- ``AUTHORIZED``: authorized outside the platform, at our payment gateway (Stripe), and captured there; the
  order says so with ``platform_refs["payment_method"]`` of ``authorized``.
- ``CASH_ON_DELIVERY``: the carrier collects the cash on delivery, whatever the store's capture
  point; a cancellation (only possible before shipping) has nothing to give back.

An authorization is captured when the order ships or when it is delivered (per store,
``Store.options["capture_on"]``: ``shipment`` or ``delivery``, default ``delivery``).

Every call to the gateway carries an idempotency key derived from the order (and, for refunds, from
the refunded total it leads to), so a retried Lambda or a re-run execution sends the same key and
the gateway answers what it answered the first time instead of charging again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fulfillment.errors import OrderInvalid
from fulfillment.model.lifecycle import OrderStatus
from fulfillment.model.money import Money
from fulfillment.model.order import Order, PaymentRecord
from fulfillment.model.store import Store

PAYMENT_METHOD_REF = "payment_method"  # the ``Order.platform_refs`` entry a platform adapter may set
CAPTURE_ON_OPTION = "capture_on"  # the ``Store.options`` entry


class PaymentMethod(StrEnum):
    PREPAID = "prepaid"  # paid at checkout on the platform
    PLATFORM_AUTHORIZED = "platform_authorized"  # authorized on the platform; captured through the platform
    AUTHORIZED = "authorized"  # authorized outside the platform, at our payment gateway; we capture there
    CASH_ON_DELIVERY = "cash_on_delivery"  # the carrier collects cash on delivery


AUTHORIZATIONS = frozenset({PaymentMethod.PLATFORM_AUTHORIZED, PaymentMethod.AUTHORIZED})  # we capture these


class CapturePoint(StrEnum):
    SHIPMENT = "shipment"
    DELIVERY = "delivery"


class PaymentResult(BaseModel):
    """What the gateway did.

    ``already``: nothing new happened because the effect asked for already holds (captured or
    collected before under another key, or nothing left to void); ``amount`` is what is held.
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["captured", "pending", "collected", "voided", "refunded", "already"]
    amount: Money
    reference: str


# Platform payment method names, normalised to lower-case letters and digits: WooCommerce and
# OpenCart's gateway id "cod", Magento's "cashondelivery", Shopify's "Cash on Delivery (COD)",
# BigCommerce's and Ecwid's "Cash on Delivery", German stores' "Nachnahme". Not a bare "cash": that is Shopify
# POS's gateway for cash taken at the till (paid in the shop), and many offline methods are named "Cash".
_CASH_ON_DELIVERY = frozenset({"cod", "cashondelivery", "cashondeliverycod", "nachnahme"})
# Shopify's financial_status "authorized"; "authonly" / "authorizeonly" are gateway payment actions.
_AUTHORIZED = frozenset({"authorized", "authorised", "authorize", "authorization", "authonly", "authorizeonly"})
_NOT_LETTERS_OR_DIGITS = re.compile(r"[^a-z0-9]")
_METHODS = frozenset(str(method) for method in PaymentMethod)


def _normalised(name: str) -> str:
    return _NOT_LETTERS_OR_DIGITS.sub("", name.lower())


def payment_method(order: Order) -> PaymentMethod:
    """Who holds the order's money. The rule, in order:

    1. ``platform_refs["payment_method"]`` names cash on delivery (``cod``, ``cashondelivery``,
       ``Cash on Delivery (COD)``, …) → ``CASH_ON_DELIVERY``, even where the store already calls the
       order paid (WooCommerce moves COD orders to "processing").
    2. it names an authorization (``authorized``) → ``AUTHORIZED``: taken outside the platform, at our gateway.
    3. the platform adapter's reading of the payload (``order.payment.method``: paid, authorized on the
       platform, cash on delivery).
    4. otherwise (absent, ``prepaid``, or a gateway id such as ``stripe``) the store took the money:
       ``PREPAID`` when the order is paid.
    5. an unpaid order with neither → ``OrderInvalid``: there is nothing we could collect.
    """
    name = _normalised(order.platform_refs.get(PAYMENT_METHOD_REF, ""))
    if name in _CASH_ON_DELIVERY:
        return PaymentMethod.CASH_ON_DELIVERY
    if name in _AUTHORIZED:
        return PaymentMethod.AUTHORIZED
    if order.payment.method in _METHODS:
        return PaymentMethod(order.payment.method)
    if order.paid:
        return PaymentMethod.PREPAID
    raise OrderInvalid(
        f"order {order.key} is not paid and its payment method "
        f"{order.platform_refs.get(PAYMENT_METHOD_REF) or '(none)'!r} is neither cash on delivery nor an authorization"
    )


def capture_point(store: Store) -> CapturePoint:
    """When the store wants authorized payments captured: ``options["capture_on"]``, default delivery."""
    value = store.options.get(CAPTURE_ON_OPTION, "").strip().lower()
    if not value:
        return CapturePoint.DELIVERY
    try:
        return CapturePoint(value)
    except ValueError:
        allowed = ", ".join(point.value for point in CapturePoint)
        raise ValueError(f"store {store.store_id}: capture_on is {value!r}; expected one of {allowed}") from None


def payment_due_at(method: PaymentMethod, point: CapturePoint) -> OrderStatus | None:
    """The status at which we take the money; None when the store already has it."""
    if method is PaymentMethod.PREPAID:
        return None
    if method in AUTHORIZATIONS and point is CapturePoint.SHIPMENT:
        return OrderStatus.SHIPPED
    return OrderStatus.DELIVERED  # authorized with capture on delivery, and cash on delivery always


def amount_to_collect(order: Order) -> Money:
    """The grand total less what the store has refunded already (a goodwill discount before delivery); for cash on
    delivery with part paid at checkout, what is still due on delivery (``payment.due_on_delivery``), less that."""
    refunded = order.refunded or Money.zero(order.currency)
    owed = order.payment.due_on_delivery or order.totals.grand_total
    return Money(minor=max(0, owed.minor - refunded.minor), currency=order.currency)


# --- idempotency keys: one per effect, stable across retries and re-runs ----------------------------
def capture_key(order: Order) -> str:
    return f"capture:{order.attempt_ref()}"


def cash_key(order: Order) -> str:
    return f"cash:{order.attempt_ref()}"


def void_key(order: Order) -> str:
    return f"void:{order.attempt_ref()}"


def refund_key(return_key: str) -> str:
    """One refund per return: two returns of equal value are two refunds, a retry or re-run of either is the
    same one (the gateway answers a repeated key with its first answer)."""
    return f"refund:{return_key}"


def is_cash_on_delivery(name: str) -> bool:
    """Whether a platform's payment method or gateway name is cash on delivery (``cod``, ``Cash on Delivery``, …)."""
    return _normalised(name) in _CASH_ON_DELIVERY


def platform_payment(
    *,
    paid: bool,
    gateway: str = "",
    authorized: Money | None = None,
    authorization_ids: tuple[str, ...] = (),
    expires_at: datetime | None = None,
) -> PaymentRecord:
    """Who holds the money, as a platform's payload tells it: cash on delivery by its gateway name, an
    authorization left to capture on the platform, paid at checkout, or (none of them) not paid yet."""
    if is_cash_on_delivery(gateway):
        return PaymentRecord(method=PaymentMethod.CASH_ON_DELIVERY, gateway=gateway)
    if authorized is not None and authorized.minor > 0:
        return PaymentRecord(
            method=PaymentMethod.PLATFORM_AUTHORIZED,
            gateway=gateway,
            authorized=authorized,
            authorization_ids=[i for i in authorization_ids if i],
            authorization_expires_at=expires_at,
        )
    # Authorized at our payment gateway (Stripe): the checkout's PaymentIntent is the authorization we capture.
    ours = [i for i in authorization_ids if i] if _normalised(gateway) in _AUTHORIZED else []
    return PaymentRecord(method=PaymentMethod.PREPAID if paid else None, gateway=gateway, authorization_ids=ours)


def enters_fulfillment(payment: PaymentRecord, paid_by_status: bool) -> bool:
    """Paid, authorized (capture-later is what the authorization is for) or cash on delivery: worth fulfilling."""
    return paid_by_status or payment.method in (PaymentMethod.PLATFORM_AUTHORIZED, PaymentMethod.CASH_ON_DELIVERY)


# --- when an authorization lapses ----------------------------------------------------------------------------
# Card authorizations hold about 7 days (Stripe: https://docs.stripe.com/payments/place-a-hold-on-a-payment-method;
# Shopify Payments likewise). A platform that says when its authorization expires is believed; otherwise the
# store's ``authorization_days`` option (``stores register --option authorization_days=7``) sets the deadline.
AUTHORIZATION_DAYS_OPTION = "authorization_days"  # the ``Store.options`` entry
CAPTURE_MARGIN = timedelta(days=2)  # capture at shipment, not delivery, when the deadline is this close


def capture_deadline(order: Order, store: Store | None) -> datetime | None:
    """When the order's authorization lapses, where that is known; None for an order with nothing to capture."""
    if payment_method(order) not in AUTHORIZATIONS:
        return None
    if order.payment.authorization_expires_at is not None:
        return order.payment.authorization_expires_at
    days = (store.options.get(AUTHORIZATION_DAYS_OPTION, "") if store else "").strip()
    return order.placed_at + timedelta(days=int(days)) if days.isdigit() else None
