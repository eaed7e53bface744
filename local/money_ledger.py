"""What a platform stub really did with an order's money: every capture, refund and void it accepted, once each.

Each platform stub keeps one ``MoneyLedger`` and serves it at ``GET /_stub/ledger/{order id}`` (not a platform
route: the tests' and the console's window on the stub), so a test asserts the money that moved, not the calls.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from local.stub_api import StubApi, StubRequest

LEDGER_ROUTE = r"/_stub/ledger/(?P<order>[^/]+)"
# recorded_paid: the platform recorded a payment it did not take (cash the carrier collected on delivery): offline
Kind = Literal["authorization", "capture", "refund", "void", "recorded_paid"]


@dataclass(frozen=True)
class Entry:
    kind: Kind
    amount: Decimal
    reference: str
    online: bool = True  # False: a refund the platform only recorded, no money moved

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": f"{self.amount:.2f}", "reference": self.reference, "online": self.online}


@dataclass
class MoneyLedger:
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, order_id: str, kind: Kind, amount: Decimal, reference: str, *, online: bool = True) -> None:
        with self._lock:
            self.entries.setdefault(str(order_id), []).append(Entry(kind, Decimal(amount), reference, online))

    def of(self, order_id: str) -> list[Entry]:
        with self._lock:
            return list(self.entries.get(str(order_id), []))

    def total(self, order_id: str, kind: Kind, *, online: bool | None = None) -> Decimal:
        return sum(
            (e.amount for e in self.of(order_id) if e.kind == kind and (online is None or e.online == online)),
            Decimal(0),
        )

    def install(self, api: StubApi) -> None:
        api.route("GET", LEDGER_ROUTE, self._answer)

    def _answer(self, _: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
        return 200, {"order": match.group("order"), "entries": [e.as_json() for e in self.of(match.group("order"))]}
