"""Draw a laid-out state machine as inline SVG, with one execution's path highlighted.

Classes are the contract with the page's stylesheet (and the tests): a state is ``state`` plus
``visited`` when the execution entered it and ``current <status>`` for the last state it entered;
an edge is ``edge <kind>`` plus ``taken`` when the execution went from its source to its target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from itertools import pairwise

from local.console.layout import BOX_HEIGHT, Box, Layout, Route


@dataclass(frozen=True)
class Highlight:
    """What one execution did: the states it entered, in order, and its status (RUNNING, SUCCEEDED, …)."""

    path: tuple[str, ...] = ()
    status: str = ""
    taken: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def of(cls, path: list[str], status: str) -> Highlight:
        return cls(tuple(path), status, frozenset(pairwise(path)))

    @property
    def current(self) -> str | None:
        return self.path[-1] if self.path else None


def render_svg(layout: Layout, highlight: Highlight | None = None, svg_id: str = "sm") -> str:
    highlight = highlight or Highlight()
    title = f"State machine starting at {layout.start_at}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(svg_id)}" class="state-machine" '
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" width="{layout.width:.0f}" '
        f'height="{layout.height:.0f}" role="img" aria-label="{escape(title)}">',
        _markers(svg_id),
        _start_marker(layout, svg_id),
        '<g class="edges">',
        *(_edge(route, highlight, svg_id) for route in _taken_last(layout.routes, highlight)),
        "</g>",
        '<g class="states">',
        *(_state(box, highlight) for box in layout.boxes.values()),
        "</g>",
        "</svg>",
    ]
    return "\n".join(parts)


def _taken_last(routes: list[Route], highlight: Highlight) -> list[Route]:
    """Taken edges drawn last so no untaken edge covers them."""
    return sorted(routes, key=lambda route: (route.edge.source, route.edge.target) in highlight.taken)


def _markers(svg_id: str) -> str:
    arrows = "".join(
        f'<marker id="{escape(svg_id)}-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path class="arrow {name}" d="M0,0 L10,5 L0,10 z"/></marker>'
        for name in ("arrow", "arrow-taken")
    )
    return f"<defs>{arrows}</defs>"


def _start_marker(layout: Layout, svg_id: str) -> str:
    first = layout.boxes.get(layout.start_at)
    if first is None:
        return ""
    x, y = first.center_x, first.y
    return (
        f'<g class="start"><circle cx="{x:.1f}" cy="{y - 26:.1f}" r="8"/>'
        f'<line class="edge next" x1="{x:.1f}" y1="{y - 18:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
        f'marker-end="url(#{escape(svg_id)}-arrow)"/></g>'
    )


def _edge(route: Route, highlight: Highlight, svg_id: str) -> str:
    edge = route.edge
    taken = (edge.source, edge.target) in highlight.taken
    classes = " ".join(["edge", edge.kind, route.lane, *(["taken"] if taken else [])])
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in route.points)
    marker = f"{svg_id}-arrow-taken" if taken else f"{svg_id}-arrow"
    tooltip = f"{edge.source} → {edge.target}" + (f" ({edge.label})" if edge.label else "")
    return (
        f'<polyline class="{classes}" points="{points}" marker-end="url(#{escape(marker)})" '
        f'data-source="{escape(edge.source)}" data-target="{escape(edge.target)}">'
        f"<title>{escape(tooltip)}</title></polyline>"
    )


def _state(box: Box, highlight: Highlight) -> str:
    classes = ["state", box.state_type.lower()]
    if box.name in highlight.path:
        classes.append("visited")
    if box.name == highlight.current:
        classes += ["current", highlight.status.lower() or "unknown"]
    kind = box.state_type + (" · waits for a callback" if box.waits_for_callback else "")
    visits = highlight.path.count(box.name)
    if visits > 1:
        kind += f" · entered {visits}×"
    x, y, middle = box.x, box.y, box.x + box.width / 2
    return (
        f'<g class="{" ".join(classes)}" data-state="{escape(box.name)}">'
        f"<title>{escape(box.name)} ({escape(kind)})</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{box.width:.1f}" height="{BOX_HEIGHT}" rx="9" ry="9"/>'
        f'<text class="name" x="{middle:.1f}" y="{y + 19:.1f}" text-anchor="middle">{escape(box.name)}</text>'
        f'<text class="kind" x="{middle:.1f}" y="{y + 34:.1f}" text-anchor="middle">{escape(kind)}</text>'
        "</g>"
    )
