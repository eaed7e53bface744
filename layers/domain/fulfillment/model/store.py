"""Stores registered with the pipeline, and what a webhook delivery looks like to the domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.model.labels import Label
from fulfillment.model.order import StoreId
from fulfillment.model.shipping import CarrierCredentials, ShippingProfile

__all__ = ["Label", "Store", "StoreCredentials", "WebhookRequest"]


class Store(BaseModel):
    """A store registry entry. ``secret_ref`` names a secret; the secret itself is never stored here."""

    model_config = ConfigDict(frozen=True)

    store_id: StoreId
    platform: str
    secret_ref: str
    name: str = ""
    site_url: str | None = None
    platform_store_id: str | None = None  # store hash, Ecwid store id, shop domain …
    # Per-store settings that are not secret, e.g. OpenCart's {"paid_status_ids": "2,3,5,15"}.
    options: dict[str, str] = Field(default_factory=dict)
    # Where and how the store's parcels ship (warehouse address, rate policy, label format); None: not set up,
    # and the ship step refuses to buy labels (``ShipmentRejected``) rather than guess a sender.
    shipping: ShippingProfile | None = None


class StoreCredentials(BaseModel):
    """What a store's secret holds: the webhook signing key and, where we call its API, API credentials.

    Stored as one SSM SecureString: either the bare webhook secret or a JSON object of these fields. During a
    rotation (``fulfillment stores rotate-secret``) it also holds the previous webhook secret and when that
    stops being accepted, so deliveries the platform signed (or keeps retrying) with the old one still pass.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    webhook_secret: str
    previous_webhook_secret: str | None = None
    previous_valid_until: datetime | None = None  # aware; without it a previous secret is not accepted
    api_base_url: str | None = None  # the platform API for this store (self-hosted shops; local stubs)
    api_token: str | None = None  # BigCommerce X-Auth-Token, Ecwid secret_ token, Shopify access token, Magento bearer
    api_key: str | None = None  # WooCommerce consumer key, OpenCart API username
    api_secret: str | None = None  # WooCommerce consumer secret, OpenCart API key
    extra: dict[str, str] = Field(default_factory=dict)
    easypost: CarrierCredentials | None = None  # the store's own EasyPost account: API key, webhook secret

    @classmethod
    def from_secret(cls, value: str) -> StoreCredentials:
        text = value.strip()
        if text.startswith("{"):
            return cls.model_validate_json(text)
        return cls(webhook_secret=value)

    def previous(self, at: float) -> StoreCredentials | None:
        """These credentials signing with the previous webhook secret, if it is still accepted at ``at`` (epoch)."""
        until = self.previous_valid_until
        if not self.previous_webhook_secret or until is None or at >= until.timestamp():
            return None
        return self.model_copy(update={"webhook_secret": self.previous_webhook_secret})


class WebhookRequest(BaseModel):
    """A delivery as received: exact body bytes (signatures cover them) and lower-cased headers."""

    model_config = ConfigDict(frozen=True)

    body: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    method: str = "POST"
    query: dict[str, str] = Field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()
