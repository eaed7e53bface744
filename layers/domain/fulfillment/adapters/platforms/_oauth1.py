"""OAuth 1.0a request signing (RFC 5849), as Magento verifies integration credentials.

Magento (magento/magento2 ``lib/internal/Magento/Framework/Oauth``): ``Helper/Request::prepareRequest`` takes
the ``oauth_*`` parameters from the ``Authorization: OAuth …`` header plus every query parameter (a JSON body is
not signed; only a form-encoded one would be), ``Oauth::_validateSignature`` accepts ``HMAC-SHA1`` and
``HMAC-SHA256`` (``getSupportedSignatureMethods``), and ``Helper/Signature/Hmac`` normalises the URL (scheme and
host lower-case, default port dropped, query and fragment removed) before building the base string
``METHOD&enc(url)&enc(sorted k=v pairs)`` with the key ``enc(consumer secret)&enc(token secret)``;
``enc`` is RFC 3986 percent-encoding (``rawurlencode``, ``~`` kept), and the pairs are sorted with PHP's
``strnatcmp`` on the encoded names (natural order: digit runs compared as numbers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from functools import cmp_to_key
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

_ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}


@dataclass(frozen=True)
class OAuth1Credentials:
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


def encode(value: str) -> str:
    return quote(value, safe="~")


_RUN = re.compile(r"[0-9]+|[^0-9]")


def _natural_compare(left: str, right: str) -> int:
    """PHP's ``strnatcmp`` for the ASCII names OAuth encoding leaves: digit runs compare as numbers, any other
    character by its code (so ``c%40`` sorts before ``c2``, as ``%`` is below ``2``)."""
    for a, b in zip(_RUN.findall(left), _RUN.findall(right), strict=False):
        if a.isdigit() and b.isdigit():
            if int(a) != int(b):
                return -1 if int(a) < int(b) else 1
        elif a != b:
            return -1 if a < b else 1
    return (len(left) > len(right)) - (len(left) < len(right))


def normalised_url(url: str) -> str:
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def base_string(method: str, url: str, params: dict[str, str]) -> str:
    encoded = {encode(key): encode(value) for key, value in params.items() if key != "oauth_signature"}
    pairs = "&".join(f"{key}={encoded[key]}" for key in sorted(encoded, key=cmp_to_key(_natural_compare)))
    return "&".join([method.upper(), encode(normalised_url(url)), encode(pairs)])


def signature(
    method: str, url: str, params: dict[str, str], consumer_secret: str, token_secret: str, algorithm: str
) -> str:
    key = f"{encode(consumer_secret)}&{encode(token_secret)}".encode()
    digest = hmac.new(key, base_string(method, url, params).encode(), _ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def authorization(
    method: str,
    url: str,
    credentials: OAuth1Credentials,
    *,
    algorithm: str = "HMAC-SHA256",
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The ``Authorization: OAuth …`` header for one request (the URL's query is signed with it)."""
    oauth = {
        "oauth_consumer_key": credentials.consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": algorithm,
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_token": credentials.token,
        "oauth_version": "1.0",
    }
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)) | oauth
    oauth["oauth_signature"] = signature(
        method, url, params, credentials.consumer_secret, credentials.token_secret, algorithm
    )
    return "OAuth " + ", ".join(f'{encode(key)}="{encode(value)}"' for key, value in oauth.items())
