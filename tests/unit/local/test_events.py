"""events/ stays in step with the code that generates it (`make events`)."""

from __future__ import annotations

import json

from local.client import EVENTS
from local.events import generate


def test_committed_events_match_the_generator() -> None:
    # EasyPost signs the body only (no timestamp), so even the tracking event is reproducible.
    for relative, expected in generate().items():
        committed = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
        assert committed == expected, f"events/{relative} is stale: run `make events`"
