"""retry_on_conflict: the one retry of a load-change-save, with jittered pauses between attempts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fulfillment.aggregates import (
    CONFLICT_ATTEMPTS,
    CONFLICT_PAUSE_CAP_SECONDS,
    CONFLICT_PAUSE_SECONDS,
    retry_on_conflict,
)
from fulfillment.errors import VersionConflict


def conflicting(times: int) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls))
        if len(calls) <= times:
            raise VersionConflict("changed meanwhile")
        return "saved"

    return calls, attempt


def test_a_conflict_is_retried_after_a_pause_and_the_change_saved() -> None:
    pauses: list[float] = []
    calls, attempt = conflicting(2)

    assert retry_on_conflict(attempt, "order o", sleep=pauses.append) == "saved"

    assert len(calls) == 3 and len(pauses) == 2
    assert 0 <= pauses[0] <= CONFLICT_PAUSE_SECONDS and 0 <= pauses[1] <= 2 * CONFLICT_PAUSE_SECONDS


def test_pauses_grow_to_their_cap_and_the_last_attempt_is_not_followed_by_one() -> None:
    pauses: list[float] = []
    calls, attempt = conflicting(CONFLICT_ATTEMPTS)

    with pytest.raises(VersionConflict, match="order o kept changing"):
        retry_on_conflict(attempt, "order o", sleep=pauses.append)

    assert len(calls) == CONFLICT_ATTEMPTS and len(pauses) == CONFLICT_ATTEMPTS - 1
    caps = [min(CONFLICT_PAUSE_CAP_SECONDS, CONFLICT_PAUSE_SECONDS * 2**n) for n in range(CONFLICT_ATTEMPTS - 1)]
    assert all(0 <= pause <= cap for pause, cap in zip(pauses, caps, strict=True))


def test_no_conflict_no_pause() -> None:
    pauses: list[float] = []
    _, attempt = conflicting(0)

    assert retry_on_conflict(attempt, "order o", sleep=pauses.append) == "saved"
    assert pauses == []
