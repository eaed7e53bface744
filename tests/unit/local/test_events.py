"""events/ stays in step with the code that generates it (`make events`)."""

from __future__ import annotations

import json

from local.client import EVENTS
from local.events import generate


def test_committed_events_match_the_generator() -> None:
    # Carrier events carry a fresh timestamp by design; compare everything but their signature headers.
    for relative, expected in generate(carrier_timestamp=1).items():
        committed = json.loads((EVENTS / relative).read_text(encoding="utf-8"))
        if relative.startswith("carrier_tracking/"):
            for event in (committed, expected):
                for header in ("x-carrier-timestamp", "x-carrier-signature"):
                    event["headers"].pop(header)
        assert committed == expected, f"events/{relative} is stale: run `make events`"
