"""Exponential backoff with full jitter: the one way a retry here decides how long to wait.

https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ ("Full Jitter"): a wait drawn
uniformly below a ceiling that doubles per attempt, so retrying writers spread out instead of colliding again.
"""

from __future__ import annotations

import math
import random


def full_jitter(base: float, attempt: int, cap: float = math.inf, floor: float = 0.0) -> float:
    """A wait between ``floor`` and ``min(cap, base * 2**attempt)`` seconds (never below ``floor``)."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 62))
    return random.uniform(floor, max(floor, ceiling))  # noqa: S311 - jitter, not a secret
