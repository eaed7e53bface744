"""Outside actors for the local runtime: a carrier and a warehouse with configurable outcomes.

They answer their APIs on 127.0.0.1 and call our public routes the way the real ones would: the
carrier posts signed tracking events (in transit, then delivered) to /carriers/{carrier}/tracking.
Every call they receive or make is recorded so tests can assert side effects happened exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from local.callbacks import post_callback, timestamped_hmac


@dataclass
class SimulatorConfig:
    carrier_name: str = "simcarrier"
    # delivered: in transit, then delivered; silent: in transit, then nothing (the wait times out);
    # lost / returned_to_sender: in transit, then that exception; failed_attempt: a failed attempt, then delivered.
    delivery: Literal["delivered", "silent", "lost", "returned_to_sender", "failed_attempt"] = "delivered"
    in_transit_after: float = 0.5
    delivered_after: float = 1.5
    # Inspection results in attempt order; the last one repeats (["failed", "passed"]: one swap, then a pass).
    inspections: list[str] = field(default_factory=lambda: ["passed"])
    inspection_after: float = 0.2
    warehouse_name: str = "main"
    # Returns (RMAs): "arrive" reports the goods received, then inspected; "never" stays silent (the RMA lapses).
    return_goods: Literal["arrive", "never"] = "arrive"
    # Per-line inspection of returned goods, by SKU ("passed", "failed" or "damaged": passed, not resellable);
    # SKUs not named get ``return_inspection_default``.
    return_inspection: dict[str, str] = field(default_factory=dict)
    return_inspection_default: str = "passed"
    return_received_after: float = 0.3

    @property
    def inspection(self) -> str:
        return self.inspections[0]

    @inspection.setter
    def inspection(self, value: str) -> None:  # the common case: every attempt gives the same result
        self.inspections = [value]


class _JsonServer:
    def __init__(self, port: int, name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._name = name
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Any:
        threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {key.lower(): value for key, value in self.headers.items()}
                with simulator._lock:
                    simulator.requests.append({"path": self.path, "body": body, "headers": headers})
                status, answer = simulator.route("POST", self.path, body, headers)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler


class CarrierSimulator(_JsonServer):
    def __init__(self, port: int, config: SimulatorConfig, tracking_url: str, secret: str) -> None:
        super().__init__(port, "carrier-simulator")
        self.config = config
        self._tracking_url = tracking_url
        self._secret = secret
        self.labels: dict[str, dict[str, Any]] = {}  # idempotency key -> label
        self.cancelled: set[str] = set()  # tracking numbers voided before handover
        self.callbacks: list[dict[str, Any]] = []  # tracking events sent, with our API's answer

    def route(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/labels/cancel":
            with self._lock:
                label = next((lb for lb in self.labels.values() if lb["reference"] == body.get("reference")), None)
                if label is None:
                    return 200, {"cancelled": False}  # nothing was bought for that order
                first = label["tracking_number"] not in self.cancelled
                self.cancelled.add(label["tracking_number"])
            return 200, {"cancelled": first, "tracking_number": label["tracking_number"]}
        if path != "/labels":
            return 404, {"error": "not found"}
        key = headers.get("idempotency-key") or str(uuid.uuid4())
        with self._lock:
            if key in self.labels:  # a retried purchase returns the label already bought
                return 200, self.labels[key]
            tracking = f"SIM{len(self.labels) + 1:04d}{uuid.uuid4().hex[:8].upper()}"
            label = {
                "tracking_number": tracking,
                "label_url": f"{self.url}/labels/{tracking}.pdf",
                "reference": body.get("reference"),
            }
            self.labels[key] = label
        threading.Thread(target=self._report, args=(tracking,), daemon=True).start()
        return 201, label

    def _report(self, tracking_number: str) -> None:
        config = self.config
        time.sleep(config.in_transit_after)
        if tracking_number in self.cancelled:
            return
        self.send_tracking_event(tracking_number, "in_transit")
        time.sleep(max(0.0, config.delivered_after - config.in_transit_after))
        if tracking_number in self.cancelled or config.delivery == "silent":
            return
        if config.delivery in ("lost", "returned_to_sender"):
            self.send_tracking_event(tracking_number, "exception", exception=config.delivery)
            return
        if config.delivery == "failed_attempt":
            self.send_tracking_event(tracking_number, "exception", exception="failed_attempt")
            time.sleep(0.3)
        self.send_tracking_event(tracking_number, "delivered")

    def send_tracking_event(
        self, tracking_number: str, status: str, *, event_id: str | None = None, exception: str | None = None
    ) -> int:
        """POST a signed tracking event to our API, retrying on failure as carriers do."""
        payload: dict[str, Any] = {
            "event_id": event_id or str(uuid.uuid4()),
            "tracking_number": tracking_number,
            "status": status,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        if exception:
            payload |= {"exception": exception, "description": exception.replace("_", " ")}
        code = post_callback(self._tracking_url, payload, timestamped_hmac(self._secret, "Carrier"))
        with self._lock:
            self.callbacks.append({"tracking_number": tracking_number, "status": status, "answer": code})
        return code


class WarehouseSimulator(_JsonServer):
    """Inspects on request and answers later on the callback URL, signed; results follow ``config.inspections``."""

    def __init__(self, port: int, config: SimulatorConfig, callback_url: str, secret: str) -> None:
        super().__init__(port, "warehouse-simulator")
        self.config = config
        self._callback_url = callback_url
        self._secret = secret
        self.inspections: dict[str, dict[str, Any]] = {}  # idempotency key -> request
        self.rmas: dict[str, dict[str, Any]] = {}  # idempotency key -> RMA announced
        self.callbacks: list[dict[str, Any]] = []

    def route(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if path not in ("/inspections", "/returns"):
            return 404, {"error": "not found"}
        key = headers.get("idempotency-key") or str(uuid.uuid4())
        with self._lock:
            if key in self.inspections or key in self.rmas:
                return 200, {"accepted": True, "duplicate": True}
            if path == "/returns":
                self.rmas[key] = body
            else:
                self.inspections[key] = body
        work = self._receive_return if path == "/returns" else self._inspect
        threading.Thread(target=work, args=(body,), daemon=True).start()
        return 202, {"accepted": True}

    def _receive_return(self, rma: dict[str, Any]) -> None:
        """The parcel arrives and is checked line by line: two signed reports on the returns callback."""
        if self.config.return_goods == "never":
            return
        url = self._callback_url.rsplit("/", 1)[0] + "/returns"
        base = {"return_key": rma["reference"], "rma": rma["rma"], "inspector": "sim-warehouse"}
        time.sleep(self.config.return_received_after)
        received = post_callback(url, base | {"event": "received"}, timestamped_hmac(self._secret, "Warehouse"))
        time.sleep(self.config.inspection_after)
        lines = [self._inspect_returned(line) for line in rma.get("lines", [])]
        inspected = post_callback(
            url, base | {"event": "inspected", "lines": lines}, timestamped_hmac(self._secret, "Warehouse")
        )
        with self._lock:
            self.callbacks.append({**base, "received": received, "inspected": inspected, "lines": lines})

    def _inspect_returned(self, line: dict[str, Any]) -> dict[str, Any]:
        verdict = self.config.return_inspection.get(line.get("sku", ""), self.config.return_inspection_default)
        return {
            "line_id": line["line_id"],
            "result": "failed" if verdict == "failed" else "passed",
            "resellable": verdict == "passed",
            "notes": {"failed": "not the item sold: wrong serial", "damaged": "broken in transit"}.get(verdict, ""),
        }

    def _inspect(self, request: dict[str, Any]) -> None:
        time.sleep(self.config.inspection_after)
        attempt = int(request.get("attempt", 1))
        results = self.config.inspections
        result = results[min(attempt, len(results)) - 1]
        payload = {
            "order_key": request["reference"],
            "attempt": attempt,
            "result": result,
            "inspector": "sim-warehouse",
            "notes": "" if result == "passed" else "scratched casing on one unit",
        }
        code = post_callback(self._callback_url, payload, timestamped_hmac(self._secret, "Warehouse"))
        with self._lock:
            self.callbacks.append({**payload, "answer": code})
