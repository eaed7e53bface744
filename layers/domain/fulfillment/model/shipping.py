"""How a store ships: its carrier account, the warehouse it ships from, which rate it buys, and the shipment
asked of the carrier for one package.

The carrier is a label aggregator (EasyPost): one account per store, many carriers behind it. The API key and
the webhook secret are in the store's secret (``StoreCredentials.easypost``); everything else is a plain store
setting (``Store.shipping``), shown by ``stores list``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.errors import ShipmentRejected
from fulfillment.model.labels import Label, Rate
from fulfillment.model.money import Money
from fulfillment.model.order import Address

LabelFormat = Literal["PDF", "ZPL", "PNG"]


class CarrierCredentials(BaseModel):
    """The store's EasyPost account, as kept in its secret. A test key (``EZTK…``) buys test labels."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    api_key: str
    webhook_secret: str  # the secret given when the tracking webhook was created in EasyPost


class ServiceRule(BaseModel):
    """One line of a service map: parcels to these countries (``*``: any) up to this weight go by this service."""

    model_config = ConfigDict(frozen=True)

    countries: tuple[str, ...] = ("*",)
    max_weight_g: int | None = None
    carrier: str
    service: str


class RatePolicy(BaseModel):
    """Which of the offered rates to buy. ``service_map`` takes the first rule that matches the parcel and is
    offered; a parcel no rule serves falls back to the cheapest rate, so a new destination still ships."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cheapest", "fastest", "service_map"] = "cheapest"
    carriers: tuple[str, ...] = ()  # only these carriers' rates (empty: any the account offers)
    rules: tuple[ServiceRule, ...] = ()


class ShippingProfile(BaseModel):
    """A store's shipping settings (``stores register --shipping-file``)."""

    model_config = ConfigDict(frozen=True)

    ship_from: Address  # the warehouse, with a phone number: carriers print it and call it
    email: str = ""
    carrier_accounts: tuple[str, ...] = ()  # EasyPost carrier account ids (``ca_…``); empty: all of the account's
    rate_policy: RatePolicy = Field(default_factory=RatePolicy)
    label_format: LabelFormat = "PDF"
    label_size: str = "4x6"
    customs_signer: str = ""  # who certifies customs declarations (international parcels)


def choose_rate(rates: Sequence[Rate], policy: RatePolicy, country: str, weight_g: int) -> Rate:
    """The rate the store's policy buys among those offered; ``ShipmentRejected`` when none may be bought."""
    allowed = [rate for rate in rates if not policy.carriers or rate.carrier in policy.carriers]
    if not allowed:
        raise ShipmentRejected(
            f"no rate offered for a {weight_g} g parcel to {country}"
            + (f" by {', '.join(policy.carriers)}" if policy.carriers else "")
        )
    if policy.kind == "service_map":
        for rule in policy.rules:
            if ("*" in rule.countries or country in rule.countries) and (
                rule.max_weight_g is None or weight_g <= rule.max_weight_g
            ):
                offered = [r for r in allowed if (r.carrier, r.service) == (rule.carrier, rule.service)]
                if offered:
                    return offered[0]
    if policy.kind == "fastest":
        return min(allowed, key=lambda r: (_days(r), r.cost.minor, r.carrier, r.service))
    return min(allowed, key=lambda r: (r.cost.minor, _days(r), r.carrier, r.service))  # ties: sooner, then by name


def _days(rate: Rate) -> int:
    return rate.delivery_days if rate.delivery_days is not None else 10**6  # no promise: last among equals


class CustomsLine(BaseModel):
    """One line of a customs declaration: what, how many, how heavy, what it is worth, and its tariff code."""

    model_config = ConfigDict(frozen=True)

    description: str
    quantity: int
    weight_g: int
    value: Money
    hs_code: str = ""
    origin_country: str = ""


class Customs(BaseModel):
    model_config = ConfigDict(frozen=True)

    signer: str
    lines: tuple[CustomsLine, ...]
    contents_type: str = "merchandise"


class ShipmentRequest(BaseModel):
    """What a carrier is asked for one package: from where to where, the parcel, and what a label looks like."""

    model_config = ConfigDict(frozen=True)

    reference: str  # ours: ``<order attempt ref>:p<n>``, so a shipment names its order and package
    ship_to: Address
    ship_to_email: str = ""
    ship_from: Address
    ship_from_email: str = ""
    dims_mm: tuple[int, int, int] | None = None
    weight_g: int
    customs: Customs | None = None
    label_format: LabelFormat = "PDF"
    label_size: str = "4x6"
    carrier_accounts: tuple[str, ...] = ()
    invoice_number: str = ""
    cod_amount: Money | None = None  # cash the carrier collects from the recipient when it hands the parcel over


class Shipment(BaseModel):
    """A carrier's shipment for one parcel: the rates offered, and once bought, its label."""

    model_config = ConfigDict(frozen=True)

    id: str
    rates: tuple[Rate, ...] = ()
    label: Label | None = None
    refund_status: str | None = None
