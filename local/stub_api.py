"""A scriptable HTTP stub for store platform APIs, on a real socket on 127.0.0.1.

Tests and the local runtime register routes (method + path regex → JSON answer or a function of the
request), script faults per route (``429`` with ``Retry-After``, ``500``, slow answers), and read back
every request received — so clients are tested over real HTTP with real timeouts, never patched.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour: a status (with optional Retry-After) and/or a delay before answering."""

    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: Any = None

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(status=0, delay=seconds)


Answer = tuple[int, Any] | Callable[[StubRequest, re.Match[str]], tuple[int, Any]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    answer: Answer
    faults: list[Fault] = field(default_factory=list)


class StubApi:
    def __init__(self, port: int = 0, name: str = "stub-api") -> None:
        self._routes: list[_Route] = []
        self.shop: object = None  # what holds the routes' state (a platform stub's shop), where one does
        self.requests: list[StubRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._name = name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StubApi:
        # A short poll interval: stop() waits for it, and tests start and stop many stubs.
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self._name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StubApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def route(self, method: str, path_regex: str, answer: Answer) -> StubApi:
        """Answer ``method`` on paths fully matching ``path_regex``; later routes win over earlier ones."""
        with self._lock:
            self._routes.insert(0, _Route(method.upper(), re.compile(path_regex), answer))
        return self

    def fail_next(self, method: str, path_regex: str, *faults: Fault) -> StubApi:
        """The next requests to this route get these faults, in order, before answering normally again."""
        with self._lock:
            for route in self._routes:
                if route.method == method.upper() and route.pattern.pattern == path_regex:
                    route.faults.extend(faults)
                    return self
        raise KeyError(f"no route {method} {path_regex}")

    def clear_faults(self) -> None:
        with self._lock:
            for route in self._routes:
                route.faults.clear()

    def received(self, method: str | None = None, path_regex: str | None = None) -> list[StubRequest]:
        with self._lock:
            return [
                request
                for request in self.requests
                if (method is None or request.method == method.upper())
                and (path_regex is None or re.fullmatch(path_regex, request.path))
            ]

    def _dispatch(self, request: StubRequest) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
            found = next(
                (
                    (route, match)
                    for route in self._routes
                    if route.method == request.method
                    for match in [route.pattern.fullmatch(request.path)]
                    if match
                ),
                None,
            )
            fault = found[0].faults.pop(0) if found and found[0].faults else None
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, headers, json.dumps(fault.body or {"error": "scripted fault"}).encode()
        if found is None:
            return 404, {}, json.dumps({"error": f"no stub for {request.method} {request.path}"}).encode()
        route, match = found
        status, body = route.answer(request, match) if callable(route.answer) else route.answer
        return status, {}, b"" if body is None else json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                split = urlsplit(self.path)
                request = StubRequest(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                status, headers, payload = stub._dispatch(request)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        return Handler
