"""Adobe Commerce deliveries: Adobe I/O Events (verified and read) and Commerce Webhooks (recognised only).

Adobe I/O Events sign the raw body with RSA-SHA256 twice (``x-adobe-digital-signature-1``/``-2``,
base64); signature N verifies with the public key at ``https://static.adobeioevents.com`` +
``x-adobe-public-keyN-path``. Keys rotate, so either signature suffices; fetched keys are cached per
URL for a day. The registration handshake is ``GET ?challenge=…``, echoed back. There is no signed
timestamp: a replay is caught by ``x-adobe-event-id`` and by snapshot ordering on ``updated_at``.

Commerce Webhooks are synchronous plugin hooks (no retries, may block checkout) and not used for
intake; one that verifies with the configured key is read as ignored.

``cryptography`` is imported on first use only, so stores on Mage-OS never load it at cold start.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import first_error, load_json
from fulfillment.errors import InvalidSignature, MalformedPayload, PlatformRejected, TransientError
from fulfillment.model.inbound import HandshakeReply
from fulfillment.model.store import StoreCredentials, WebhookRequest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ADOBE_KEY_BASE_URL = "https://static.adobeioevents.com"
KEY_TTL_SECONDS = 24 * 3600
_MAX_CACHED_KEYS = 16
# A path on the key host, never anything that could name another host ("@", "\", "..").
_KEY_PATH = re.compile(r"/[A-Za-z0-9_-][A-Za-z0-9._/-]{0,200}\.pem")
_EVENT_TYPE_PREFIX = "com.adobe.commerce."

SIGNATURE_HEADERS = ("x-adobe-digital-signature-1", "x-adobe-digital-signature-2")
COMMERCE_WEBHOOK_HEADER = "x-adobe-commerce-webhook-signature"


def adobe_challenge(request: WebhookRequest) -> HandshakeReply | None:
    """Adobe I/O's registration check: ``GET ?challenge=xyz`` must answer ``{"challenge": "xyz"}``."""
    challenge = request.query.get("challenge")
    if request.method.upper() == "GET" and challenge:
        return HandshakeReply(status=200, body={"challenge": challenge})
    return None


class AdobeKeyCache:
    """Adobe's public keys by URL, fetched through the HttpClient and kept for ``KEY_TTL_SECONDS``."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._keys: dict[str, tuple[RSAPublicKey, float]] = {}

    def get(self, url: str, now: float) -> RSAPublicKey | None:
        """The key at ``url``; None if there is none (a 4xx or not an RSA public key)."""
        cached = self._keys.get(url)
        if cached is not None and 0 <= now - cached[1] < KEY_TTL_SECONDS:
            return cached[0]
        try:
            response = self._http.request("GET", url, headers={"Accept": "application/x-pem-file, */*"})
        except PlatformRejected:
            return None
        key = load_public_key(_pem_text(response.body))
        if key is not None:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                del self._keys[min(self._keys, key=lambda cached_url: self._keys[cached_url][1])]
            self._keys[url] = (key, now)
        return key


def verify_adobe_io(request: WebhookRequest, credentials: StoreCredentials, now: float, keys: AdobeKeyCache) -> None:
    client_id = credentials.extra.get("adobe_client_id")
    if client_id and _recipient(request.body) != client_id:
        raise InvalidSignature("the event's recipient_client_id is not this store's Adobe client id")
    base = credentials.extra.get("adobe_key_base_url", ADOBE_KEY_BASE_URL).rstrip("/")
    unreachable: TransientError | None = None
    for number, signature_header in enumerate(SIGNATURE_HEADERS, start=1):
        signature = request.header(signature_header)
        path = request.header(f"x-adobe-public-key{number}-path")
        if not signature or not path or not _KEY_PATH.fullmatch(path) or ".." in path:
            continue
        try:
            key = keys.get(base + path, now)
        except TransientError as error:
            unreachable = error
            continue
        if key is not None and rsa_sha256_verifies(key, request.body, signature):
            return
    if unreachable is not None:
        raise unreachable  # Adobe retries 5xx, never 4xx: do not refuse what we could not check
    raise InvalidSignature("no x-adobe-digital-signature verifies the body with Adobe's published keys")


def verify_commerce_webhook(request: WebhookRequest, credentials: StoreCredentials) -> None:
    """RSA-SHA256 over base64(body), as Adobe's examples sign it, with the admin-generated public key."""
    pem = credentials.extra.get("commerce_webhooks_public_key")
    if not pem:
        raise InvalidSignature("Commerce Webhooks are not used for intake and no key is configured to verify one")
    key = load_public_key(pem)
    signature = request.header(COMMERCE_WEBHOOK_HEADER) or ""
    if key is None or not rsa_sha256_verifies(key, base64.b64encode(request.body), signature):
        raise InvalidSignature(f"{COMMERCE_WEBHOOK_HEADER} does not match the body")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _EventData(_Lenient):
    value: dict[str, Any]
    source: str | None = None  # "<instance id>.<environment>": the Commerce instance that sent it


class AdobeCloudEvent(_Lenient):
    type: str
    id: str | None = None
    event_id: str | None = None
    data: _EventData

    @property
    def topic(self) -> str:
        return self.type.removeprefix(_EVENT_TYPE_PREFIX)


def read_cloud_event(body: bytes) -> AdobeCloudEvent:
    try:
        return AdobeCloudEvent.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedPayload(f"not an Adobe I/O event: {first_error(exc)}") from exc


def load_public_key(pem: str) -> RSAPublicKey | None:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        return None
    return key if isinstance(key, RSAPublicKey) else None


def rsa_sha256_verifies(key: RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature as BadRsaSignature
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        key.verify(signature, message, PKCS1v15(), SHA256())
    except (binascii.Error, ValueError, BadRsaSignature):
        return False
    return True


def _pem_text(body: bytes) -> str:
    # The key host serves PEM text; a JSON string of it is accepted too (the local StubApi answers JSON only).
    text = body.decode(errors="replace").strip()
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def _recipient(body: bytes) -> str | None:
    """``recipient_client_id``, read before the signature is checked: bounded by ``load_json`` (depth, NaN…)."""
    try:
        document = load_json(body, "the Adobe I/O event")
    except MalformedPayload:
        return None  # no recipient: refused as not this store's, before any key is fetched
    value = document.get("recipient_client_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None
