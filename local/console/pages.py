"""The console's HTML pages: self-contained (inline CSS and SVG), nothing fetched from anywhere else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.order import REPLACES_REF, RETURN_REF
from fulfillment.model.returns import Return, ReturnEvent, ReturnLine
from local.console.layout import layout
from local.console.reads import ExecutionView, HistoryRow, OrderDetails, OrderRow, ReplacementView, ReturnView
from local.console.svg import Highlight, render_svg

CONSOLE = "/_console"
# Fields that point at other orders or returns: replacements, the order a replacement replaces, returns.
_RELATED_FIELD = re.compile(r"replace|return|original|parent", re.IGNORECASE)
_ORDER_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}:\S+$")
_ID_FIELDS = ("order_key", "key", "return_key", "return_id", "id")

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2733;
  background: #f5f7fa; }
header { background: #232f3e; color: #fff; padding: 10px 24px; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
main { padding: 16px 24px 48px; max-width: 1360px; }
h1 { font-size: 22px; margin: 8px 0 12px; } h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 12px; }
th, td { border: 1px solid #d5dbe1; padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: #eaeef2; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.filters a { margin-right: 10px; } .filters a.active { font-weight: 700; text-decoration: none; color: #1d2733; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #d5dbe1; font-size: 12px;
  font-weight: 600; }
.badge.COMPLETED, .badge.SUCCEEDED, .badge.CLOSED, .badge.REFUNDED, .badge.REPLACED { background: #c8ecd4;
  color: #12632f; }
.badge.FAILED, .badge.TIMED_OUT, .badge.ABORTED { background: #f8d3d0; color: #8b1a10; }
.badge.CANCELLED, .badge.REJECTED, .badge.REFUSED, .badge.EXPIRED { background: #fde8c4; color: #7a4b00; }
.badge.RUNNING, .badge.REQUESTED, .badge.AUTHORIZED, .badge.RECEIVED { background: #cfe3fb; color: #0b4a8b; }
.badge.PARTIALLY_RETURNED, .badge.RETURNED { background: #e6dcf7; color: #4b2a84; }
.marker { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; font-size: 11.5px;
  background: #e6dcf7; color: #4b2a84; white-space: nowrap; }
.marker.replacement { background: #fde8c4; color: #7a4b00; }
p.replaces { font-size: 15px; background: #fff8e8; border: 1px solid #f0d9a8; padding: 8px 14px; }
.return { background: #fff; border: 1px solid #d5dbe1; border-left: 4px solid #7b57c2; padding: 8px 16px 12px;
  margin-bottom: 18px; }
.return dl.facts { border: 0; padding: 4px 0; } .return h4 { margin: 12px 0 6px; font-size: 14px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff;
  padding: 12px 16px; border: 1px solid #d5dbe1; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.execution { background: #fff; border: 1px solid #d5dbe1; padding: 8px 16px 16px; margin-bottom: 24px; }
.execution-body { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.graph { overflow-x: auto; flex: 0 0 auto; } .history-pane { flex: 1 1 520px; min-width: 0; }
td.mono, td.num, table.history td { white-space: nowrap; }
svg.state-machine { display: block; margin: 8px 0; max-width: 100%; height: auto; }
svg.state-machine text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
svg.state-machine .state rect { fill: #ffffff; stroke: #8d99a6; stroke-width: 1.2; }
svg.state-machine .state text.name { font-size: 13px; font-weight: 600; fill: #1d2733; }
svg.state-machine .state text.kind { font-size: 10.5px; fill: #5f6b7a; }
svg.state-machine .state.choice rect { stroke-dasharray: 4 2; }
svg.state-machine .state.visited rect { fill: #d9f2e0; stroke: #2e9e57; stroke-width: 2; }
svg.state-machine .state.current rect { stroke-width: 3.5; }
svg.state-machine .state.current.running rect { fill: #cfe3fb; stroke: #1f6fd1; }
svg.state-machine .state.current.succeeded rect { fill: #2e9e57; stroke: #1b6b39; }
svg.state-machine .state.current.succeeded text { fill: #ffffff; }
svg.state-machine .state.current.failed rect, svg.state-machine .state.current.timed_out rect,
svg.state-machine .state.current.aborted rect { fill: #e0443a; stroke: #8b1a10; }
svg.state-machine .state.current.failed text, svg.state-machine .state.current.timed_out text,
svg.state-machine .state.current.aborted text { fill: #ffffff; }
svg.state-machine .edge { fill: none; stroke: #9aa5b1; stroke-width: 1.3; }
svg.state-machine .edge.catch { stroke-dasharray: 5 4; stroke: #c0a080; }
svg.state-machine .edge.taken { stroke: #2e9e57; stroke-width: 2.6; }
svg.state-machine .arrow.arrow { fill: #9aa5b1; } svg.state-machine .arrow.arrow-taken { fill: #2e9e57; }
svg.state-machine .start circle { fill: #1d2733; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 14px; height: 10px; border: 2px solid; border-radius: 3px;
  vertical-align: middle; margin-right: 4px; }
.empty { color: #5f6b7a; font-style: italic; }
"""

LEGEND = (
    '<p class="legend"><span><i style="background:#d9f2e0;border-color:#2e9e57"></i>entered</span>'
    '<span><i style="background:#cfe3fb;border-color:#1f6fd1"></i>current (running)</span>'
    '<span><i style="background:#2e9e57;border-color:#1b6b39"></i>last (succeeded)</span>'
    '<span><i style="background:#e0443a;border-color:#8b1a10"></i>last (failed)</span>'
    "<span>dashed: Catch</span></p>"
)


def order_url(key: str) -> str:
    return f"{CONSOLE}/orders/{quote(key, safe='')}"


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<header><a href="{CONSOLE}">Order fulfillment · local console</a></header>'
        f"<main>{body}</main></body></html>"
    )


def _table(headers: Iterable[str], rows: Iterable[str], css: str = "") -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value else ""


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


# ---- order list ---------------------------------------------------------------------------------
def orders_page(rows: list[OrderRow], status: OrderStatus | None) -> str:
    filters = [f'<a href="{CONSOLE}" class="{"" if status else "active"}">all</a>']
    for each in OrderStatus:
        css = "active" if each is status else ""
        filters.append(f'<a href="{CONSOLE}?{urlencode({"status": each.value})}" class="{css}">{each.value}</a>')
    heading = f"Orders ({len(rows)})" + (f" · {status.value}" if status else "")
    table = _table(
        ["Order", "Platform", "Store", "Status", "Waiting for", "Last update (UTC)"],
        (_order_row(row) for row in rows),
        "orders",
    )
    body = f'<h1>{escape(heading)}</h1><p class="filters">{"".join(filters)}</p>'
    return page("Orders", body + (table if rows else '<p class="empty">No orders.</p>'))


def _order_row(row: OrderRow) -> str:
    order = row.order
    return (
        f'<tr class="order" data-key="{escape(order.key)}"><td><a href="{order_url(order.key)}">{escape(order.key)}</a>'
        f"{_markers(row)}</td><td>{escape(order.platform)}</td><td>{escape(order.store_id)}</td><td>{_badge(order.status.value)}</td>"
        f"<td>{escape(order.wait.kind or '')}</td><td class='mono'>{_time(row.last_update)}</td></tr>"
    )


def _markers(row: OrderRow) -> str:
    """Small tags on the list: returns taken against the order, its replacements, the order it replaces."""
    order, markers = row.order, []
    if row.returns:
        markers.append(f'<span class="marker returns">↩ {row.returns} return{"s" if row.returns > 1 else ""}</span>')
    if order.returns.replacements:
        count = len(order.returns.replacements)
        markers.append(f'<span class="marker replaced">⇄ {count} replacement{"s" if count > 1 else ""}</span>')
    if order.platform_refs.get(REPLACES_REF):
        markers.append(f'<span class="marker replacement">replaces {escape(order.platform_refs[REPLACES_REF])}</span>')
    return "".join(markers)


# ---- one order ----------------------------------------------------------------------------------
def order_page(details: OrderDetails) -> str:
    order, executions = details.order, details.executions
    returns_of = {view.execution.name: view.ret for view in details.returns if view.execution}
    sections = [
        f"<h1>Order {escape(order.key)} {_badge(order.status.value)}</h1>",
        _replaces(details),
        _facts(order),
        _related(order),
        _packages(order),
        "<h2>Timeline</h2>",
        _timeline(timeline=details.timeline),
        _returns(details.returns),
        f"<h2>Executions ({len(executions)})</h2>",
        LEGEND if executions else '<p class="empty">No execution started for this order.</p>',
        *(_execution(number, execution, returns_of.get(execution.name)) for number, execution in enumerate(executions)),
        _replacements(details.replacements),
    ]
    return page(f"Order {order.key}", "".join(sections))


def execution_anchor(name: str) -> str:
    """Execution names are ``[A-Za-z0-9_-]``: valid in an id as they are."""
    return f"execution-{name}"


def _replaces(details: OrderDetails) -> str:
    original = details.order.platform_refs.get(REPLACES_REF)
    if not original:
        return ""
    status = f" {_badge(details.replaces.status.value)}" if details.replaces else " (not found)"
    return_key = details.order.platform_refs.get(RETURN_REF)
    because = f" · for return <code>{escape(return_key)}</code>" if return_key else ""
    return (
        f'<p class="replaces">Replaces <a class="replaces-link" href="{order_url(original)}">{escape(original)}</a>'
        f"{status}{because}</p>"
    )


def _facts(order: Order) -> str:
    facts = {
        "Platform / store": f"{order.platform} / {order.store_id}",
        "Number": order.number,
        "Status": order.status.value,
        "Waiting for": order.wait.kind or "—",
        "Execution name": order.execution_name(),
        "Placed at": _time(order.placed_at),
        "Paid / cancelled": f"{order.paid} / {order.cancelled}",
        "Total": str(order.totals.grand_total),
        "Carrier / tracking": f"{order.carrier or '—'} / {order.tracking_number or '—'}",
        "Inspection attempts": str(order.inspection_attempts),
        "Payment": _payment(order),
    }
    items = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts.items())
    for due in order.payment.outstanding_refunds:  # owed back, not paid: as loud as a failure
        text = f"{due.amount} since {_time(due.since)}: {due.reason} (fulfillment orders confirm-refund)"
        items += f'<dt>Refund due</dt><dd class="failure refund-due">{escape(text)}</dd>'
    if order.payment.capture_task:
        items += f'<dt>Capture by hand</dt><dd class="failure">{escape(order.payment.capture_task)}</dd>'
    if order.failure:
        failure = "; ".join(f"{key}: {value}" for key, value in order.failure.model_dump(mode="json").items())
        items += f'<dt>Failure</dt><dd class="failure">{escape(failure)}</dd>'
    return f'<dl class="facts">{items}</dl>'


def _link(url: object, text: str) -> str:
    """A link to a carrier page (label, tracking) only for an http(s) URL: the rest is shown as text."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}" rel="noreferrer">{escape(text)}</a>'
    return "—"


def _packages(order: Order) -> str:
    """Each package's label as EasyPost sold it: tracking and label links, cost, tracking and refund status."""
    from fulfillment.steps.labels import package_rows

    rows = package_rows(order)
    if not rows:
        return ""
    cells = [
        f'<tr class="package"><td>{row["package"]}</td><td>{escape(str(row["box"]))} · {row["weight_g"]} g</td>'
        f"<td>{escape(' '.join(str(row[k]) for k in ('carrier', 'service') if row[k]) or '—')}</td>"
        f"<td>{_link(row['tracking_url'], str(row['tracking_number'] or 'tracking'))}</td>"
        f"<td>{_link(row['label_url'], 'label')}</td><td>{escape(str(row['cost'] or '—'))}</td>"
        f"<td>{escape(str(row['tracking_status'] or '—'))}</td><td>{escape(str(row['refund_status'] or '—'))}</td></tr>"
        for row in rows
    ]
    cost = f" · shipping {escape(str(order.shipping_cost))}" if order.shipping_cost else ""
    headers = ["#", "Box", "Carrier", "Tracking", "Label", "Cost", "Tracking status", "Refund"]
    return f"<h2>Packages ({len(rows)}){cost}</h2>" + _table(headers, cells, "packages")


def _payment(order: Order) -> str:
    payment = order.payment
    parts = [payment.method or "—"] + ([payment.gateway] if payment.gateway else [])
    for label, amount in (
        ("authorized", payment.authorized),
        ("captured", payment.captured),
        ("refunded", payment.refunded),
    ):
        if amount is not None:
            parts.append(f"{label} {amount}")
    if payment.capture_pending:
        parts.append("capture pending")
    if payment.voided:
        parts.append("voided")
    return ", ".join(parts)


def _related(order: Order) -> str:
    """Links found generically, so new relations (returns, replacements) show without a console change."""
    document = order.model_dump(mode="json")
    found = [
        (f"platform_refs.{name}", value) for name, value in order.platform_refs.items() if _RELATED_FIELD.search(name)
    ]
    fields = [(name, value) for name, value in document.items() if name != "platform_refs"]
    # One level into the aggregate's parts (the returns ledger, …), by each leaf's own name.
    leaves = [
        (f"{name}.{part}", inner) if isinstance(value, dict) else (name, value)
        for name, value in fields
        for part, inner in (value.items() if isinstance(value, dict) else [(name, value)])
    ]
    found += [(name, value) for name, value in leaves if _RELATED_FIELD.search(name.rsplit(".", 1)[-1]) and value]
    if not found:
        return ""
    items = "".join(f"<dt>{escape(name)}</dt><dd>{_related_values(value)}</dd>" for name, value in found)
    return f'<h2>Related</h2><dl class="facts related">{items}</dl>'


def _related_values(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    return ", ".join(_related_value(each) for each in values)


def _related_value(value: Any) -> str:
    if isinstance(value, dict):
        ident = next((str(value[name]) for name in _ID_FIELDS if name in value), None)
        status = f" ({value['status']})" if "status" in value else ""
        return (_key_link(ident) + escape(status)) if ident else escape(json.dumps(value, sort_keys=True))
    return _key_link(str(value))


def _key_link(text: str) -> str:
    if _ORDER_KEY.match(text):
        return f'<a class="related-order" href="{order_url(text)}">{escape(text)}</a>'
    return escape(text)


def _timeline(timeline: list[TimelineEvent] | list[ReturnEvent], css: str = "timeline") -> str:
    rows = (
        f'<tr class="{css}-event"><td class="num">{event.seq}</td><td class="mono">{_time(event.at)}</td>'
        f"<td>{escape(str(event.previous_status or ''))} → {escape(event.status.value)}</td>"
        f"<td>{escape(event.reason)}</td>"
        f'<td class="mono">{escape(json.dumps(event.detail, sort_keys=True, default=str)) if event.detail else ""}</td>'
        "</tr>"
        for event in timeline
    )
    return _table(["#", "At (UTC)", "Status", "Reason", "Detail"], rows, css)


def _returns(views: list[ReturnView]) -> str:
    if not views:
        return ""
    return f"<h2>Returns ({len(views)})</h2>" + "".join(_return(view) for view in views)


def _return(view: ReturnView) -> str:
    ret = view.ret
    refund = str(ret.refund) if ret.refund else "—"
    if ret.refund_reference:
        refund += f" (reference {ret.refund_reference})"
    if ret.refunded_by_store:
        refund += f"; refunded by the store: {ret.refunded_by_store}"
    facts = {
        "Return id": escape(ret.key),
        "RMA": escape(ret.rma or "—"),
        "Reason": escape(ret.reason),
        "Resolution": escape(ret.resolution.value),
        "Requested": escape(
            f"{_time(ret.requested_at)} by {ret.requested_by or ret.source.value} ({ret.source.value})"
        ),
        "Waiting for": escape(ret.wait.kind or "—"),
        "Refund": escape(refund),
        "Replacement order": (
            f'<a class="replacement-order" href="{order_url(ret.replacement_order_key)}">'
            f"{escape(ret.replacement_order_key)}</a>"
            if ret.replacement_order_key
            else "—"
        ),
        "Execution": (
            f'<a class="return-execution" href="#{execution_anchor(view.execution.name)}">'
            f"{escape(view.execution.name)}</a> {_badge(view.execution.status)}"
            if view.execution
            else '<span class="empty">not started</span>'
        ),
    }
    if ret.rejection:
        facts["Rejection"] = f'<span class="rejection">{escape(ret.rejection)}</span>'
    if ret.failure:
        failure = "; ".join(f"{key}: {value}" for key, value in ret.failure.model_dump(mode="json").items())
        facts["Failure"] = f'<span class="failure">{escape(failure)}</span>'
    items = "".join(f"<dt>{escape(name)}</dt><dd>{value}</dd>" for name, value in facts.items())
    lines = _table(
        ["Line", "SKU", "Quantity", "Unit price", "Inspection", "Resellable", "Disposition", "Notes"],
        (_return_line(line) for line in ret.lines),
        "return-lines",
    )
    return (
        f'<section class="return" id="return-R{ret.number}" data-return="{escape(ret.key)}">'
        f"<h3>Return R{ret.number} {_badge(ret.status.value)}</h3>"
        f'<dl class="facts">{items}</dl><h4>Lines</h4>{lines}'
        f"<h4>Return timeline</h4>{_timeline(view.timeline, 'return-timeline')}</section>"
    )


def _return_line(line: ReturnLine) -> str:
    return (
        f'<tr class="return-line"><td>{escape(line.line_id)}</td><td>{escape(line.sku)}</td>'
        f'<td class="num">{line.quantity}</td><td class="num">{escape(str(line.unit_price))}</td>'
        f"<td>{escape(line.result or '—')}</td><td>{'yes' if line.resellable else 'no'}</td>"
        f"<td>{escape(line.disposition or '—')}</td><td>{escape(line.notes)}</td></tr>"
    )


def _replacements(views: list[ReplacementView]) -> str:
    if not views:
        return ""
    return f"<h2>Replacement orders ({len(views)})</h2>" + "".join(_replacement(view) for view in views)


def _replacement(view: ReplacementView) -> str:
    status = _badge(view.order.status.value) if view.order else '<span class="empty">not stored yet</span>'
    rows = (
        f'<tr class="replacement-execution"><td><a href="{order_url(view.key)}#{execution_anchor(execution.name)}">'
        f"{escape(execution.name)}</a></td><td>{_badge(execution.status)}</td>"
        f"<td><code>{escape(execution.state_machine)}</code></td><td class='mono'>{_time(execution.started)}</td>"
        f"<td class='mono'>{_time(execution.stopped)}</td></tr>"
        for execution in view.executions
    )
    table = _table(["Execution (on the replacement's page)", "Status", "State machine", "Started", "Stopped"], rows)
    return (
        f'<section class="replacement" data-order="{escape(view.key)}"><h3>Replacement order '
        f'<a class="replacement-order" href="{order_url(view.key)}">{escape(view.key)}</a> {status}</h3>'
        + (table if view.executions else '<p class="empty">No execution started for the replacement yet.</p>')
        + "</section>"
    )


def _execution(number: int, execution: ExecutionView, ret: Return | None = None) -> str:
    highlight = Highlight.of(execution.path, execution.status)
    svg = render_svg(layout(execution.definition), highlight, svg_id=f"sm{number}")
    stopped = f" · stopped {_time(execution.stopped)}" if execution.stopped else ""
    of_return = f' · <a href="#return-R{ret.number}">return R{ret.number}</a>' if ret else ""
    return (
        f'<section class="execution" id="{execution_anchor(execution.name)}" data-execution="{escape(execution.name)}">'
        f"<h3>{escape(execution.name)} {_badge(execution.status)}</h3>"
        f"<p>State machine <code>{escape(execution.state_machine)}</code> · started {_time(execution.started)}"
        f"{stopped}{of_return}</p>"
        f'<div class="execution-body"><div class="graph">{svg}</div>'
        f'<div class="history-pane"><h3>Event history</h3>{_history(execution.history)}</div></div></section>'
    )


def _history(rows: list[HistoryRow]) -> str:
    cells = (
        f'<tr class="history-event"><td class="num">{row.event_id}</td><td>{escape(row.event_type)}</td>'
        f"<td>{escape(row.state)}</td><td class='mono'>{_time(row.timestamp)}</td>"
        f'<td class="num">{row.elapsed_ms}</td></tr>'
        for row in rows
    )
    return _table(["ID", "Type", "State", "Timestamp (UTC)", "Elapsed (ms)"], cells, "history")


def message_page(title: str, text: str) -> str:
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")
