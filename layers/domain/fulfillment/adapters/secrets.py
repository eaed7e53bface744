"""Secrets and keys (SSM SecureString), cached in the warm container for a bounded age.

Every secret a function reads — a store's webhook secret and API credentials, a partner's signing secret, the
payment gateway's API key — goes through one ``CachedSecrets``: a value older than ``max_age_seconds`` is read
again, so a rotated secret is picked up within that age by every warm container (``stores rotate-secret``
tells the operator when). Misses are not cached: a store registered a minute ago is found at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient

SECRET_MAX_AGE_SECONDS = 300  # how long a warm container may keep using a secret it read


class CachedSecrets:
    """``get(ref)`` through ``fetch``, each value kept ``max_age_seconds`` by ``clock`` (tests inject one)."""

    def __init__(
        self,
        fetch: Callable[[str], str],
        max_age_seconds: float = SECRET_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age_seconds
        self._clock = clock
        self._values: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> str:
        now = self._clock()
        with self._lock:
            cached = self._values.get(ref)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        value = self._fetch(ref)
        with self._lock:
            self._values[ref] = (now, value)
        return value


def ssm_secrets(
    client: SSMClient, max_age_seconds: float = SECRET_MAX_AGE_SECONDS, clock: Callable[[], float] = time.monotonic
) -> CachedSecrets:
    """SecureString parameters by name, decrypted (``ssm:GetParameter`` with ``WithDecryption``)."""

    def fetch(ref: str) -> str:
        try:
            return client.get_parameter(Name=ref, WithDecryption=True)["Parameter"]["Value"]
        except client.exceptions.ParameterNotFound:
            raise LookupError(f"no secret {ref}") from None

    return CachedSecrets(fetch, max_age_seconds, clock)


class KeyedClient[T]:
    """A client built from a secret key, rebuilt when the key it was built with is rotated.

    ``current()`` reads the key through the bounded cache at every use, so a client lives no longer than its key.
    """

    def __init__(self, key: Callable[[], str], build: Callable[[str], T]) -> None:
        self._key = key
        self._build = build
        self._built: tuple[str, T] | None = None

    def current(self) -> T:
        key = self._key()
        if self._built is None or self._built[0] != key:
            self._built = (key, self._build(key))
        return self._built[1]

    def __getattr__(self, name: str) -> Any:  # the client's own methods, on the client of the current key
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)
