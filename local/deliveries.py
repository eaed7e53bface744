"""Signed, fresh sample deliveries for every platform — what each store would send when an order is paid.

The sample bodies in events/<platform>/ are exact bytes; each platform's spec signs them as the platform
does, re-stamping the schemes that sign a timestamp with the current time, so a delivery built here passes
the replay window. Used by `python -m local send`, the demo and tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from local.platforms import paid_sample, platform_spec, sample_headers


@dataclass(frozen=True)
class Delivery:
    platform: str
    body: bytes
    headers: dict[str, str]


def sign(platform: str, body: bytes, headers: dict[str, str], secret: str, now: float | None = None) -> Delivery:
    """Sign ``body`` as ``platform`` would, refreshing the signed timestamp (and ids) where there is one."""
    moment = time.time() if now is None else now
    body, signed = platform_spec(platform).sign_sample(body, dict(headers), secret, moment)
    return Delivery(platform, body, signed)


def paid_delivery(platform: str, secret: str = "test-secret", now: float | None = None) -> Delivery:  # noqa: S107
    """The platform's sample 'order paid' delivery, signed now."""
    sample = paid_sample(platform)
    return sign(platform, sample.read_bytes(), sample_headers(sample), secret, now)
