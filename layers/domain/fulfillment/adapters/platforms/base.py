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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import from_json

from fulfillment.errors import InvalidSignature, MalformedPayload
from fulfillment.model.capabilities import NO_PAYMENT_API, PaymentCapabilities
from fulfillment.model.limits import MAX_JSON_DEPTH
from fulfillment.ports import InboundPlatform, OrderSource, PlatformPayments, StoreWriteBack

if TYPE_CHECKING:
    from fulfillment.adapters.http_client import HttpClient
    from fulfillment.model.store import Store, StoreCredentials


@dataclass(frozen=True)
class PlatformAdapters:
    inbound: InboundPlatform
    write_back: StoreWriteBack | None = None
    source: OrderSource | None = None
    payments: PlatformPayments | None = None  # capture (and later refund, void) through the platform's API
    # Onboarding (``fulfillment stores check``): one call to the platform with the store's credentials; what is
    # missing, in words a merchant can act on (nothing: ready). Without it the order fetch is probed.
    check: Callable[[Store, StoreCredentials], list[str]] | None = None
    # Onboarding (``fulfillment stores subscribe``): the platform's webhook subscriptions for our URL, created where
    # missing (one per topic we take); answers a line per topic, "created" or "already there".
    subscribe: Callable[[Store, StoreCredentials, str], list[str]] | None = None


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
    # How old that signed time may be: the platform's own retry window where its retries keep the original time
    # (Ecwid), otherwise the ±5 minutes of clock skew. Replays inside it are the delivery log's to catch.
    max_age_seconds: int = 300
    # What the platform's API can do with the order's money (``model/capabilities.py``); everything consults it.
    payments: PaymentCapabilities = NO_PAYMENT_API


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same_signature(expected: str, received: str | None) -> bool:
    """Constant-time comparison; a missing signature never matches."""
    return bool(received) and hmac.compare_digest(expected.encode(), (received or "").strip().encode())


# Unix seconds in ASCII digits: str.isdigit() also takes "²" or "١", which int() refuses or misreads.
_UNIX_SECONDS = re.compile(r"-?[0-9]{1,12}")


def require_fresh(
    timestamp: str | None, now: float | None, tolerance_seconds: int = 300, max_age_seconds: int | None = None
) -> None:
    """Refuse a signed timestamp more than ``tolerance_seconds`` ahead of now (clock skew) or more than
    ``max_age_seconds`` (default: the same tolerance) behind it (replay protection)."""
    if not timestamp or not _UNIX_SECONDS.fullmatch(timestamp.strip()):
        raise InvalidSignature("missing or malformed signature timestamp")
    moment = now if now is not None else time.time()
    age = moment - int(timestamp)
    oldest = tolerance_seconds if max_age_seconds is None else max_age_seconds
    if age > oldest or -age > tolerance_seconds:
        raise InvalidSignature(
            f"signature timestamp is more than {oldest if age > 0 else tolerance_seconds} s away from now"
        )


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


_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` deep, read off the raw bytes.

    Strings are cut out, every other byte but brackets dropped; then each pass removes the innermost
    ``[]`` pairs, one level of every branch, so a balanced text is gone after as many passes as it is deep.
    Unbalanced text is not JSON at all: the parser refuses it (at worst with a RecursionError, caught).
    Costs a regex and at most ``limit`` ``bytes.replace`` passes, all in C.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(_AS_SQUARE, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:
        return True
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"")
        if not shorter or len(shorter) == len(brackets):
            return False
        brackets = shorter
    return True


def load_json(body: bytes, what: str) -> Any:
    """The body as JSON, bounded; MalformedPayload naming ``what`` (and the limit) otherwise.

    At most ``MAX_JSON_DEPTH`` deep (checked on the raw bytes first). Parsed by pydantic-core's parser (already
    loaded with pydantic), which unlike ``json.loads`` refuses NaN and Infinity, lone surrogates (``"\\ud800"``,
    which no UTF-8 encoder can write back: DynamoDB, a signature over the text) and numbers over 4300 digits,
    and never recurses in Python. A number too large for a float (``1e400``) is read as ``inf``: callers check
    the numbers they use.
    """
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise MalformedPayload(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)")
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedPayload(f"{what}: body is not JSON ({exc})") from exc


def from_unix(seconds: float) -> datetime:
    """A platform's Unix time as a UTC datetime; ValueError (never OverflowError or OSError) if it names none."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"{seconds!r} is not a Unix time") from exc
