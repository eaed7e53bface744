"""HTTP client for the warehouse (the carrier is EasyPost, through its SDK: ``adapters/easypost_carrier.py``).

It speaks a small JSON API; locally it is the simulator in ``local/simulators.py``. Every
request that creates something carries an ``Idempotency-Key`` so a retried step gets the same answer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from fulfillment.errors import TransientError
from fulfillment.model import Order
from fulfillment.model.returns import Return


def _post(url: str, payload: dict[str, Any], idempotency_key: str, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: dict[str, Any] = json.loads(response.read() or b"{}")
            return body
    except urllib.error.HTTPError as error:
        if error.code == 429 or error.code >= 500:
            raise TransientError(f"{url} answered {error.code}") from error
        raise
    except (urllib.error.URLError, TimeoutError) as error:
        raise TransientError(f"{url} unreachable: {error}") from error


class HttpWarehouse:
    """Asks the warehouse to inspect an order's units; it answers later, signed, on the callback route it was
    given when it was set up (``POST /warehouses/{warehouse}/inspections``, like a carrier's tracking webhook)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def request_inspection(self, order: Order, attempt: int) -> None:
        _post(
            f"{self._base}/inspections",
            {
                "reference": order.key,
                "attempt": attempt,
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
            },
            idempotency_key=f"inspection:{order.attempt_ref()}:{attempt}",
            timeout=self._timeout,
        )

    def expect_return(self, ret: Return) -> None:
        """Announce an RMA: the warehouse posts ``received`` and then ``inspected`` (per line) to
        ``POST /warehouses/{warehouse}/returns``. Keyed on the RMA: announcing twice is one RMA."""
        _post(
            f"{self._base}/returns",
            {
                "reference": ret.key,
                "rma": ret.rma,
                "lines": [{"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity} for line in ret.lines],
            },
            idempotency_key=f"return:{ret.rma}",
            timeout=self._timeout,
        )
