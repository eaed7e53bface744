"""A small JSON-over-HTTP client for store platform APIs: timeouts, retries, ``Retry-After``.

Retries 429, 5xx, timeouts and connection errors with exponential backoff and full jitter, waiting
at least what ``Retry-After`` asks (up to ``max_wait``). A POST is resent only after a 429, which
says it was not processed: a POST whose answer was lost (5xx, timeout) may have created a shipment
or a refund, so its caller looks before it writes again (the write-back clients do) rather than
the client blindly resending it. Other 4xx raise ``PlatformRejected`` at
once. When attempts run out it raises ``TransientError`` carrying the last ``Retry-After``, so a
queue consumer can hand the message back for exactly that long instead of sleeping in the Lambda.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fulfillment.backoff import full_jitter
from fulfillment.errors import PlatformRejected, TransientError

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


@dataclass
class HttpClient:
    timeout: float = 5.0
    attempts: int = 3
    base_delay: float = 0.25
    max_wait: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    user_agent: str = "order-fulfillment/0.1"
    calls: int = field(default=0, init=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        retry: bool | None = None,
    ) -> HttpResponse:
        payload = json.dumps(json_body).encode() if json_body is not None else data
        all_headers = {"Accept": "application/json", "User-Agent": self.user_agent, **(headers or {})}
        if json_body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        last: TransientError | None = None
        resend_any_failure = retry if retry is not None else method.upper() in _IDEMPOTENT
        for attempt in range(self.attempts):
            if attempt and last is not None:
                backoff = full_jitter(self.base_delay, attempt)
                self.sleep(min(self.max_wait, max(backoff, last.retry_after or 0.0)))
            try:
                return self._once(method, url, all_headers, payload)
            except TransientError as error:
                last = error
                if not resend_any_failure and not error.rate_limited:
                    break
                if error.retry_after is not None and error.retry_after > self.max_wait:
                    break  # the platform asks for longer than we may wait here: give it back to the caller
        assert last is not None
        raise last

    def _once(self, method: str, url: str, headers: dict[str, str], payload: bytes | None) -> HttpResponse:
        self.calls += 1
        request = urllib.request.Request(url, data=payload, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return HttpResponse(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            if error.code in _RETRYABLE:
                retry_after = parse_retry_after(error.headers.get("Retry-After"))
                transient = TransientError(f"{method} {url} answered {error.code}", retry_after)
                transient.rate_limited = error.code == 429
                raise transient from error
            raise PlatformRejected(
                f"{method} {url} answered {error.code}: {body[:300].decode(errors='replace')}",
                status=error.code,
                body=body.decode(errors="replace"),
            ) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise TransientError(f"{method} {url} failed: {error}") from error
