"""What every platform module provides, and small helpers they share.

A platform module ``fulfillment/adapters/platforms/<name>.py`` exposes ``build(http) -> PlatformAdapters``:
its inbound webhook reader, its REST order source (only where deliveries are thin or untrusted),
and its write-back client. ``registry.py`` lists the modules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from fulfillment.errors import InvalidSignature
from fulfillment.ports import InboundPlatform, OrderSource, StoreWriteBack


@dataclass(frozen=True)
class PlatformAdapters:
    inbound: InboundPlatform
    write_back: StoreWriteBack | None = None
    source: OrderSource | None = None


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
