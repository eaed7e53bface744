"""A bought label and the rates it was chosen from: what a package carries once it ships.

Kept apart from ``model/shipping.py`` (store settings, the rate policy) so that ``Package`` can hold a label
without importing the order model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fulfillment.model.money import Money


class Rate(BaseModel):
    """One price a carrier offered for a shipment (EasyPost ``Rate``: ``rate`` and ``currency``, ``delivery_days``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    carrier: str  # the carrier that moves the parcel: USPS, DHLExpress, UPS …
    service: str
    cost: Money
    delivery_days: int | None = None


class Label(BaseModel):
    """A bought label: who carries the parcel, how it is tracked, where the label is, and what it cost."""

    model_config = ConfigDict(frozen=True)

    carrier: str
    tracking_number: str
    service: str = ""
    tracking_url: str | None = None
    label_url: str | None = None
    cost: Money | None = None
    rate_id: str = ""
