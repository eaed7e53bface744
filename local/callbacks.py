"""One way for the local simulators and partner stubs to call our public routes back, as the real partners do:
a signed POST retried with backoff until it gets an answer.

Partners retry an undelivered webhook (a timeout, a refused or reset connection, a 5xx, a 429) for hours; a
simulator thread that died on the first socket timeout left an order waiting for a callback that never came,
and the wait's scaled timeout cancelled it. Retries are bounded (a simulator never loops forever) and safe: our
routes take a repeated event once (the event id, the inspection attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

Signer = Callable[[bytes], dict[str, str]]

ATTEMPTS = 8
# Per attempt. Our API under local load can take minutes to answer (bench/load.py at 200 orders), and an attempt
# given up on is still served: a short timeout only doubled the work of a saturated runtime with retries.
TIMEOUT_SECONDS = 120.0
FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0


def timestamped_hmac(secret: str, prefix: str) -> Signer:
    """The signature our carrier and warehouse callbacks carry: hex HMAC-SHA256 over ``{timestamp}.{body}`` in
    ``X-{prefix}-Signature: sha256=…``, with the timestamp in ``X-{prefix}-Timestamp`` (fresh on every attempt)."""

    def sign(body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {f"X-{prefix}-Timestamp": timestamp, f"X-{prefix}-Signature": f"sha256={signature}"}

    return sign


def _retryable(code: int) -> bool:
    return code in {0, 429} or code >= 500


def post_callback(
    url: str,
    payload: dict[str, Any] | bytes,
    sign: Signer | None = None,
    *,
    attempts: int = ATTEMPTS,
    timeout: float = TIMEOUT_SECONDS,
    first_delay: float = FIRST_DELAY_SECONDS,
    max_delay: float = MAX_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` (JSON) to ``url``, signed by ``sign`` on every attempt; retry on a timeout, a connection
    error, a 429 or a 5xx with exponential backoff (``first_delay`` doubling up to ``max_delay``), at most
    ``attempts`` times. Returns the last HTTP status, 0 if no attempt got one."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    code = 0
    for attempt in range(attempts):
        headers = {"Content-Type": "application/json", **(sign(body) if sign else {})}
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                code = response.status
        except urllib.error.HTTPError as error:
            code = error.code
        except (OSError, http.client.HTTPException):  # URLError, TimeoutError, ConnectionError are OSErrors
            code = 0  # no answer (refused, reset, timed out, cut off): the partner tries again
        if not _retryable(code) or attempt == attempts - 1:
            return code
        sleep(min(max_delay, first_delay * 2**attempt))
    return code
