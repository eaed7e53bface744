"""An OpenCart shop's catalog API (release 4.0.2.x or 4.1.x), with our extension's history route, on a ``StubApi``.

Serves the demo shop of the sample deliveries (``boutique.lyon-torrefaction.example``): order 1207,
Processing (paid), with the history entries that deliveries 01 and 02 announced. Everything goes
through ``/index.php?route=…`` as in OpenCart:

- ``api/account/login`` (form ``username``, ``key``) → ``{"api_token"}``;
- ``api/sale/order.addHistory&api_token=…`` (form ``order_id``, ``order_status_id``, ``comment``,
  ``notify``, ``override``) adds a history entry and sets the order's status;
- ``extension/order_webhook/module/order_webhook.history&api_token=…&order_id=…`` lists the entries.

Refusals are OpenCart's: HTTP 200 with ``{"error": …}`` from the core API; the extension's route
answers 401/404. ``writes`` records every accepted history entry.

With ``version="4.1.0.4"`` the shop is a 4.1 one (catalog/controller/startup/api.php): every ``api/…`` route but
``api/order`` and ``api/subscription`` answers 403 (so ``api/account/login`` and ``api/sale/…`` are gone), and
``api/order`` (``call=history_add``, catalog/controller/api/order.php) and the extension's history route
(``call=history``) take only signed requests: ``username``, ``store_id``, ``language``, ``currency``, ``time`` and
``signature`` = base64 HMAC-SHA1 with the API key over route, call, username, Host, path, store id, language,
currency, md5 of ``http_build_query`` of the form as OpenCart's Request cleans it, and time, each + "\n".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.stub_api import StubApi, StubRequest

API_USERNAME = "fulfillment"
API_KEY = "oc-demo-api-key"  # a local stub's fixed key, not a secret
SHOP_URL = "https://boutique.lyon-torrefaction.example/"
EVENTS = Path(__file__).resolve().parents[2] / "events" / "opencart"
HISTORY_ROUTE = "extension/order_webhook/module/order_webhook.history"
_DELIVERED_BEFORE = ("01_order_confirmed_pending.json", "02_order_status_processing_paid.json")

Answer = tuple[int, Any]


class OpenCartShop:
    """The demo shop's orders and API sessions, and the routes that read and change them."""

    def __init__(self, username: str = API_USERNAME, key: str = API_KEY, *, version: str = "4.0.2.3") -> None:
        self.username = username
        self.key = key
        self.version = version
        self.signed_api = tuple(int(part) for part in version.split(".")) >= (4, 1, 0, 0)
        self.orders: dict[int, dict[str, Any]] = {}
        self.histories: dict[int, list[dict[str, Any]]] = {}
        self.tokens: set[str] = set()
        self.writes: list[dict[str, Any]] = []
        self._ids = itertools.count(4101)
        self._sessions = itertools.count(1)
        self._lock = threading.Lock()
        for name in _DELIVERED_BEFORE:
            envelope = json.loads((EVENTS / name).read_text(encoding="utf-8"))
            self._record(envelope["order"], envelope["args"], envelope["order"]["date_modified"])

    def _record(self, order: dict[str, Any], args: dict[str, Any], at: str) -> dict[str, Any]:
        order_id = int(order["order_id"])
        entry = {
            "order_history_id": next(self._ids),
            "order_id": order_id,
            "order_status_id": int(args["order_status_id"]),
            "notify": int(bool(args.get("notify"))),
            "comment": str(args.get("comment", "")),
            "date_added": at,
        }
        order.update(order_status_id=str(entry["order_status_id"]), date_modified=at)
        self.orders[order_id] = order
        self.histories.setdefault(order_id, []).append(entry)
        return entry

    def install(self, api: StubApi) -> None:
        api.route("GET", r"/index\.php", self._dispatch)
        api.route("POST", r"/index\.php", self._dispatch)

    def _dispatch(self, request: StubRequest, _: object) -> Answer:
        route = request.query.get("route", "")
        routes: dict[str, Callable[[StubRequest, dict[str, str]], Answer]] = (
            {"api/order": self._order_call, HISTORY_ROUTE: self._history}
            if self.signed_api
            else {
                "api/account/login": self._login,
                "api/sale/order.addHistory": self._add_history,
                HISTORY_ROUTE: self._history,
            }
        )
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True)) if request.method == "POST" else {}
        if self.signed_api and route.startswith("api/") and route not in {"api/order", "api/subscription"}:
            return 403, {"error": "Warning: You do not have permission to access the API!"}
        handler = routes.get(route)
        if handler is None:
            return 404, {"error": f"no stub for route {route!r}"}
        with self._lock:
            if self.signed_api and not self._signed_by_the_api_user(request, form):
                return 403 if route == "api/order" else 401, {
                    "error": "Warning: You do not have permission to access the API!"
                }
            return handler(request, form)

    def _signed_by_the_api_user(self, request: StubRequest, form: dict[str, str]) -> bool:
        """startup/api.php's check, for our one API user (its IP list holds the local caller)."""
        query = request.query
        required = ("route", "call", "username", "store_id", "language", "currency", "time", "signature")
        if any(name not in query for name in required) or query["username"] != self.username:
            return False
        if abs(time.time() - int(query["time"] or 0)) > 450:
            return False

        def clean(text: str) -> str:  # Request::clean: trim(htmlspecialchars($v, ENT_COMPAT, 'UTF-8'))
            return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;").strip()

        def urlencode_php(text: str) -> str:  # PHP urlencode: all but A-Za-z0-9-_. encoded, space as +
            return "".join(
                char
                if char.isascii() and (char.isalnum() or char in "-_.")
                else "+"
                if char == " "
                else "".join(f"%{b:02X}" for b in char.encode())
                for char in text
            )

        built = "&".join(f"{urlencode_php(clean(k))}={urlencode_php(clean(v))}" for k, v in form.items())
        lines = [
            query["route"],
            query["call"],
            self.username,
            request.headers.get("host", ""),
            "/",  # the stub's index.php is at the root: dirname(PHP_SELF) is "/"
            str(int(query["store_id"] or 0)),
            query["language"],
            query["currency"],
            hashlib.md5(built.encode(), usedforsecurity=False).hexdigest(),
            query["time"],
        ]
        digest = hmac.new(self.key.encode(), "".join(f"{line}\n" for line in lines).encode(), hashlib.sha1).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), unquote(query["signature"]))

    def _order_call(self, request: StubRequest, form: dict[str, str]) -> Answer:
        if request.query.get("call") != "history_add":
            return 200, {"error": "Warning: Call could not be found!"}
        return self._add_history(request, form)

    def _login(self, _: StubRequest, form: dict[str, str]) -> Answer:
        if form.get("username") != self.username or form.get("key") != self.key:
            return 200, {"error": "Warning: Incorrect API Key!"}
        token = f"stub-session-{next(self._sessions):04d}"
        self.tokens.add(token)
        return 200, {"success": "Success: API session successfully started!", "api_token": token}

    def _add_history(self, request: StubRequest, form: dict[str, str]) -> Answer:
        if not self.signed_api and request.query.get("api_token") not in self.tokens:
            return 200, {"error": {"warning": "Warning: You do not have permission to access the API!"}}
        order_id = int(form.get("order_id") or 0)
        if order_id not in self.orders:
            return 200, {"error": "Warning: Order could not be found!"}
        args = {
            "order_status_id": int(form.get("order_status_id") or 0),
            "comment": form.get("comment", ""),
            "notify": form.get("notify") == "1",
        }
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        entry = self._record(self.orders[order_id], args, at)
        self.writes.append({**entry, "override": form.get("override", "")})
        return 200, {"success": "Success: You have modified orders!"}

    def _history(self, request: StubRequest, _: dict[str, str]) -> Answer:
        if not self.signed_api and request.query.get("api_token") not in self.tokens:
            return 401, {"error": "Warning: You do not have permission to access the API!"}
        order_id = int(request.query.get("order_id") or 0)
        if order_id not in self.orders:
            return 404, {"error": "Warning: Order could not be found!"}
        return 200, {
            "order_id": order_id,
            "order_status_id": int(self.orders[order_id]["order_status_id"]),
            "histories": self.histories[order_id],
        }


def install(api: StubApi, *, username: str = API_USERNAME, key: str = API_KEY) -> OpenCartShop:
    shop = OpenCartShop(username, key, version="4.1.0.4")  # the current release
    shop.install(api)
    return shop


# What the end-to-end tests look for after the demo order is fulfilled (see local/stubs/__init__.py): an order
# history entry in status 3 (shipped) and one in 5 (complete), added through the API.
def _added_history(request: StubRequest, status: str) -> bool:
    form = dict(parse_qsl(request.body.decode(errors="replace")))
    added = request.query.get("route") == "api/sale/order.addHistory" or (
        request.query.get("route") == "api/order" and request.query.get("call") == "history_add"
    )
    return added and form.get("order_status_id") == status


def wrote_shipment(request: StubRequest, tracking_number: str) -> bool:
    return _added_history(request, "3")


def wrote_completion(request: StubRequest) -> bool:
    return _added_history(request, "5")
