"""HTTP clients for the outside actors: the carrier and the warehouse.

Both speak small JSON APIs; locally they are the simulators in ``local/simulators.py``. Every
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
from fulfillment.model.store import Label


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


class HttpCarrier:
    def __init__(self, base_url: str, carrier: str, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._carrier = carrier
        self._timeout = timeout

    def create_label(self, order: Order) -> Label:
        address = order.shipping_address
        body = _post(
            f"{self._base}/labels",
            {
                "reference": order.attempt_ref(),  # a reopened order's new attempt buys (and voids) its own label
                "ship_to": {"country": address.country, "postal_code": address.postal_code, "city": address.city},
                "parcels": sum(line.quantity for line in order.lines),
            },
            idempotency_key=f"label:{order.attempt_ref()}",
            timeout=self._timeout,
        )
        return Label(
            carrier=self._carrier, tracking_number=str(body["tracking_number"]), label_url=body.get("label_url")
        )

    def cancel_label(self, order: Order) -> bool:
        """Void whatever label was bought for the order (found by reference); False if there is none to void."""
        body = _post(
            f"{self._base}/labels/cancel",
            {"reference": order.attempt_ref()},
            idempotency_key=f"void:{order.attempt_ref()}",
            timeout=self._timeout,
        )
        return bool(body.get("cancelled"))


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
