"""How an order is paid, when we take the money, and the idempotency keys that make taking it safe.

Three ways an order reaches us:

- ``PREPAID``: the store captured the money at checkout (WooCommerce "processing", Shopify "paid").
  Nothing is left to take; a cancellation is refunded by the store (a write-back), not by us.
- ``AUTHORIZED``: the card was authorized at checkout and we capture it, when the order ships or
  when it is delivered (per store, ``Store.options["capture_on"]``: ``shipment`` or ``delivery``,
  default ``delivery``). A cancellation voids the authorization.
- ``CASH_ON_DELIVERY``: the carrier collects the cash on delivery, whatever the store's capture
  point; a cancellation (only possible before shipping) has nothing to give back.

Every call to the gateway carries an idempotency key derived from the order (and, for refunds, from
the refunded total it leads to), so a retried Lambda or a re-run execution sends the same key and
the gateway answers what it answered the first time instead of charging again.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fulfillment.errors import OrderInvalid
from fulfillment.model.lifecycle import OrderStatus
from fulfillment.model.money import Money
from fulfillment.model.order import Order
from fulfillment.model.store import Store

PAYMENT_METHOD_REF = "payment_method"  # the ``Order.platform_refs`` entry a platform adapter may set
CAPTURE_ON_OPTION = "capture_on"  # the ``Store.options`` entry


class PaymentMethod(StrEnum):
    PREPAID = "prepaid"  # captured by the store at checkout
    AUTHORIZED = "authorized"  # authorized at checkout; we capture
    CASH_ON_DELIVERY = "cash_on_delivery"  # the carrier collects cash on delivery


class CapturePoint(StrEnum):
    SHIPMENT = "shipment"
    DELIVERY = "delivery"


class PaymentResult(BaseModel):
    """What the gateway did.

    ``already``: nothing new happened because the effect asked for already holds (captured or
    collected before under another key, or nothing left to void); ``amount`` is what is held.
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["captured", "collected", "voided", "refunded", "already"]
    amount: Money
    reference: str


# Platform payment method names, normalised to lower-case letters and digits: WooCommerce and
# OpenCart's gateway id "cod", Magento's "cashondelivery", Shopify's "Cash on Delivery (COD)",
# BigCommerce's and Ecwid's "Cash on Delivery", German stores' "Nachnahme".
_CASH_ON_DELIVERY = frozenset({"cod", "cash", "cashondelivery", "cashondeliverycod", "nachnahme"})
# Shopify's financial_status "authorized"; "authonly" / "authorizeonly" are gateway payment actions.
_AUTHORIZED = frozenset({"authorized", "authorised", "authorize", "authorization", "authonly", "authorizeonly"})
_NOT_LETTERS_OR_DIGITS = re.compile(r"[^a-z0-9]")


def _normalised(name: str) -> str:
    return _NOT_LETTERS_OR_DIGITS.sub("", name.lower())


def payment_method(order: Order) -> PaymentMethod:
    """The order's payment method. The rule, in order:

    1. ``platform_refs["payment_method"]`` names cash on delivery (``cod``, ``cashondelivery``,
       ``Cash on Delivery (COD)``, …) → ``CASH_ON_DELIVERY``, even where the store already calls the
       order paid (WooCommerce moves COD orders to "processing").
    2. it names an authorization (``authorized``, Shopify's financial status) → ``AUTHORIZED``.
    3. otherwise (absent, ``prepaid``, or a gateway id such as ``stripe``) the store took the money:
       ``PREPAID`` when the order is paid.
    4. an unpaid order with neither → ``OrderInvalid``: there is nothing we could collect.
    """
    name = _normalised(order.platform_refs.get(PAYMENT_METHOD_REF, ""))
    if name in _CASH_ON_DELIVERY:
        return PaymentMethod.CASH_ON_DELIVERY
    if name in _AUTHORIZED:
        return PaymentMethod.AUTHORIZED
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
    if method is PaymentMethod.AUTHORIZED and point is CapturePoint.SHIPMENT:
        return OrderStatus.SHIPPED
    return OrderStatus.DELIVERED  # authorized with capture on delivery, and cash on delivery always


def amount_to_collect(order: Order) -> Money:
    """The grand total less what the store has refunded already (a goodwill discount before delivery)."""
    refunded = order.refunded or Money.zero(order.currency)
    return Money(minor=max(0, order.totals.grand_total.minor - refunded.minor), currency=order.currency)


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
