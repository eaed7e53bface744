"""Outside actors for the local runtime: a carrier and a warehouse with configurable outcomes.

They answer their APIs on 127.0.0.1 and call our public routes the way the real ones would: the
carrier posts signed tracking events (in transit, then delivered) to /carriers/{carrier}/tracking.
Every call they receive or make is recorded so tests can assert side effects happened exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal


@dataclass
class SimulatorConfig:
    carrier_name: str = "simcarrier"
    delivery: Literal["delivered", "lost"] = "delivered"  # lost: in-transit events, never a delivery
    in_transit_after: float = 0.5
    delivered_after: float = 1.5
    inspection: Literal["passed", "failed"] = "passed"


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
        self.callbacks: list[dict[str, Any]] = []  # tracking events sent, with our API's answer

    def route(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
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
        time.sleep(self.config.in_transit_after)
        self.send_tracking_event(tracking_number, "in_transit")
        if self.config.delivery == "delivered":
            time.sleep(max(0.0, self.config.delivered_after - self.config.in_transit_after))
            self.send_tracking_event(tracking_number, "delivered")

    def send_tracking_event(
        self, tracking_number: str, status: str, *, event_id: str | None = None, attempts: int = 5
    ) -> int:
        """POST a signed tracking event to our API, retrying on failure as carriers do."""
        body = json.dumps(
            {
                "event_id": event_id or str(uuid.uuid4()),
                "tracking_number": tracking_number,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        ).encode()
        code = 0
        for attempt in range(attempts):
            timestamp = str(int(time.time()))
            signature = hmac.new(self._secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                self._tracking_url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-Carrier-Timestamp": timestamp,
                    "X-Carrier-Signature": f"sha256={signature}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            except urllib.error.URLError:
                code = 0
            with self._lock:
                self.callbacks.append({"tracking_number": tracking_number, "status": status, "answer": code})
            if 200 <= code < 300 or 400 <= code < 500:
                return code
            time.sleep(0.2 * 2**attempt)
        return code


class WarehouseSimulator(_JsonServer):
    def __init__(self, port: int, config: SimulatorConfig) -> None:
        super().__init__(port, "warehouse-simulator")
        self.config = config

    def route(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if path != "/inspections":
            return 404, {"error": "not found"}
        passed = self.config.inspection == "passed"
        return 200, {
            "reference": body.get("reference"),
            "result": self.config.inspection,
            "inspector": "sim-warehouse",
            "notes": "" if passed else "scratched casing on one unit",
        }
