"""Outside actors for the local runtime: the warehouse, and the outcomes of the carrier's test trackers.

The warehouse answers its API on 127.0.0.1 and calls our public routes the way a real one would. The carrier is
EasyPost's API, played by ``local/easypost_stub.py``: ``SimulatorConfig.delivery`` is what its test trackers do.
Every call they receive or make is recorded so tests can assert side effects happened exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from local.callbacks import post_callback, timestamped_hmac


@dataclass
class SimulatorConfig:
    # delivered: in transit, out for delivery, delivered; silent: in transit, then nothing (the wait times out);
    # lost / returned_to_sender: in transit, then ``failure`` (lost) or ``return_to_sender``; failed_attempt:
    # available for pickup, then delivered.
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
