"""A read-only web console for the local runtime, at ``/_console`` on its HTTP API port.

``/_console`` lists orders (``?status=`` filters), ``/_console/orders/<key>`` shows one order: its
timeline, its returns (each with its own timeline), every execution of the order in any state machine
(fulfillment, re-runs, returns), drawn from the ASL with the path it took, and its replacement orders.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from fulfillment.model import OrderStatus
from local.console import pages
from local.console.reads import ClientSource, ConsoleReads

Response = tuple[int, dict[str, str], bytes]
_ORDER_PREFIX = f"{pages.CONSOLE}/orders/"


def serve_console(runtime: ClientSource, method: str, path: str, query: str) -> Response:
    if method.upper() != "GET":
        return _html(405, pages.message_page("Method not allowed", "The console only reads."), {"allow": "GET"})
    if path.rstrip("/") == pages.CONSOLE:
        return _orders(ConsoleReads(runtime), query)
    if path.startswith(_ORDER_PREFIX) and len(path) > len(_ORDER_PREFIX):
        return _order(ConsoleReads(runtime), unquote(path.removeprefix(_ORDER_PREFIX)))
    return _html(404, pages.message_page("Not found", f"No console page at {path}."))


def _orders(reads: ConsoleReads, query: str) -> Response:
    wanted = parse_qs(query).get("status", [""])[0]
    if wanted and wanted not in OrderStatus.__members__.values():
        known = ", ".join(OrderStatus)
        return _html(400, pages.message_page("Unknown status", f"{wanted} is not one of {known}."))
    status = OrderStatus(wanted) if wanted else None
    return _html(200, pages.orders_page(reads.orders(status), status))


def _order(reads: ConsoleReads, key: str) -> Response:
    order = reads.order(key)
    if order is None:
        return _html(404, pages.message_page("Order not found", f"There is no order {key}."))
    return _html(200, pages.order_page(reads.details(order)))


def _html(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return (
        status,
        {"content-type": "text/html; charset=utf-8", "cache-control": "no-store", **(headers or {})},
        text.encode(),
    )
