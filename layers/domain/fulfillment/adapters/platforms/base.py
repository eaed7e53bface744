"""What every platform module provides, and small helpers they share.

A platform module ``fulfillment/adapters/platforms/<name>.py`` exports ``SPEC``, a ``PlatformSpec``: its
name, ``build(http) -> PlatformAdapters`` (its inbound webhook reader, its REST order source where
deliveries are thin or untrusted, its write-back client), the key a store registration names the store by,
and how its sample 'order paid' delivery is found and signed. ``registry.py`` finds the modules by their
file names and imports one only when it is first asked for; a module whose name starts with ``_`` is a
helper of a platform, not one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from fulfillment.errors import InvalidSignature
from fulfillment.ports import InboundPlatform, OrderSource, StoreWriteBack

if TYPE_CHECKING:
    from fulfillment.adapters.http_client import HttpClient


@dataclass(frozen=True)
class PlatformAdapters:
    inbound: InboundPlatform
    write_back: StoreWriteBack | None = None
    source: OrderSource | None = None


# (sample body, its recorded headers, the store's webhook secret, now as Unix time) → (body, headers) as the
# platform would send them now: signed, and re-stamped where the scheme signs a time.
SampleSigner = Callable[[bytes, dict[str, str], str, float], tuple[bytes, dict[str, str]]]


@dataclass(frozen=True)
class PlatformSpec:
    """One store platform: every list of platforms in the project (the intake's, the CLI's, the local
    runtime's, the demo's, the tests') is derived from these."""

    name: str  # the {platform} of the webhook URL, Store.platform, and the module's own name
    title: str  # as people write it (README's platform tables)
    build: Callable[[HttpClient], PlatformAdapters]
    # The key a registration (local/stores.json) names the store on the platform by: "site_url" is kept as
    # Store.site_url, any other (store_hash, shop_domain, …) as Store.platform_store_id. Deliveries must match it.
    identity_key: str
    paid_sample: str  # events/<name>/<paid_sample>: an 'order paid' delivery, headers in <stem>.headers.json
    sign_sample: SampleSigner
    signs_timestamp: bool = False  # the signature covers a time: a delivery older than the window is refused


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_signature(expected: str, received: str | None) -> bool:
    """Constant-time comparison; a missing signature never matches."""
    return bool(received) and hmac.compare_digest(expected.encode(), (received or "").strip().encode())


def require_fresh(timestamp: str | None, now: float | None, tolerance_seconds: int = 300) -> None:
    """Refuse a signed timestamp outside ±tolerance (replay protection)."""
    if not timestamp or not timestamp.strip().lstrip("-").isdigit():
        raise InvalidSignature("missing or malformed signature timestamp")
    moment = now if now is not None else time.time()
    if abs(moment - int(timestamp)) > tolerance_seconds:
        raise InvalidSignature(f"signature timestamp is more than {tolerance_seconds} s away from now")


def as_utc(value: datetime) -> datetime:
    """Platforms that send zone-less timestamps mean UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def first_error(exc: Exception) -> str:
    """A one-line, human reason from a pydantic error (or any other)."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return f"{where}: {error['msg']}"
    return str(exc)
