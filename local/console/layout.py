"""A deterministic layered layout of an ASL state machine (no graphviz): boxes in layers, edges as polylines.

Layers come from the longest path over the transitions, with the edges that would close a cycle drawn
as back edges. Normal transitions that skip layers get a chain of invisible waypoints that take part in
ordering, so they bend around boxes. Catch transitions that skip layers run down a lane to the right of
the graph (one lane per target, like a bus), and back edges up a lane on the left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EdgeKind = Literal["next", "choice", "default", "catch"]

BOX_HEIGHT = 44
LAYER_GAP = 46
MIN_BOX_WIDTH = 150
CHAR_WIDTH = 7.4  # of the 13px sans-serif state names; estimated because the server cannot measure text
BOX_PADDING = 28
WAYPOINT_WIDTH = 14
NODE_GAP = 30
LANE_GAP = 16
MARGIN = 24
START_SPACE = 34  # above the first layer: the start marker
ORDERING_SWEEPS = 8
PLACEMENT_SWEEPS = 8

Point = tuple[float, float]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str = ""


@dataclass(frozen=True)
class Box:
    name: str
    state_type: str
    waits_for_callback: bool
    layer: int
    x: float
    y: float
    width: float
    height: float = BOX_HEIGHT

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Route:
    edge: Edge
    points: tuple[Point, ...]
    lane: Literal["direct", "catch-lane", "back-lane"] = "direct"


@dataclass(frozen=True)
class Layout:
    start_at: str
    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float


def state_edges(definition: dict[str, Any]) -> list[Edge]:
    """Every transition of the top-level states, one edge per (source, target, kind) with merged labels."""
    states: dict[str, Any] = definition["States"]
    labels: dict[tuple[str, str, EdgeKind], list[str]] = {}
    for name, state in states.items():
        found: list[tuple[str, EdgeKind, str]] = []
        if "Next" in state:
            found.append((state["Next"], "next", ""))
        for index, choice in enumerate(state.get("Choices", []), start=1):
            found.append((choice["Next"], "choice", f"choice {index}"))
        if "Default" in state:
            found.append((state["Default"], "default", "default"))
        for catcher in state.get("Catch", []):
            found.append((catcher["Next"], "catch", ", ".join(catcher.get("ErrorEquals", []))))
        for target, kind, label in found:
            if target in states:
                labels.setdefault((name, target, kind), []).append(label)
    return [
        Edge(source, target, kind, "; ".join(text for text in texts if text))
        for (source, target, kind), texts in labels.items()
    ]


def layout(definition: dict[str, Any]) -> Layout:
    states: dict[str, Any] = definition["States"]
    names = list(states)
    edges = state_edges(definition)
    forward, backward = _split_cycles(names, edges)
    layers = _longest_path_layers(names, forward)
    graph = _LayeredGraph.build(names, layers, forward)
    graph.order()
    widths = {name: _box_width(name) for name in names}
    centers = graph.place(widths)
    return _assemble(definition, graph, centers, widths, forward, backward)


def _box_width(name: str) -> float:
    return max(MIN_BOX_WIDTH, round(len(name) * CHAR_WIDTH + BOX_PADDING))


def _split_cycles(names: list[str], edges: list[Edge]) -> tuple[list[Edge], list[Edge]]:
    """Normal transitions claim the downward direction first; an edge that would close a cycle goes back."""
    index = {name: position for position, name in enumerate(names)}
    successors: dict[str, set[str]] = defaultdict(set)
    forward: list[Edge] = []
    backward: list[Edge] = []
    for edge in sorted(edges, key=lambda e: (e.kind == "catch", index[e.source])):
        if edge.source == edge.target or _reaches(successors, edge.target, edge.source):
            backward.append(edge)
        else:
            successors[edge.source].add(edge.target)
            forward.append(edge)
    return forward, backward


def _reaches(successors: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        for following in successors[current] - seen:
            seen.add(following)
            stack.append(following)
    return False


def _longest_path_layers(names: list[str], forward: list[Edge]) -> dict[str, int]:
    predecessors: dict[str, list[str]] = defaultdict(list)
    for edge in forward:
        predecessors[edge.target].append(edge.source)
    layers: dict[str, int] = {}

    def layer_of(name: str) -> int:
        if name not in layers:
            layers[name] = max((layer_of(source) + 1 for source in predecessors[name]), default=0)
        return layers[name]

    for name in names:
        layer_of(name)
    return layers


@dataclass
class _LayeredGraph:
    """States and waypoints by layer; ``links`` joins nodes of adjacent layers (a direct edge or a chain step)."""

    rows: list[list[str]]
    layer_of: dict[str, int]
    chains: dict[Edge, list[str]]  # waypoint ids of each normal edge that skips layers
    up: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    down: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, names: list[str], layers: dict[str, int], forward: list[Edge]) -> _LayeredGraph:
        rows: list[list[str]] = [[] for _ in range(max(layers.values(), default=0) + 1)]
        for name in names:
            rows[layers[name]].append(name)
        graph = cls(rows, dict(layers), {})
        for number, edge in enumerate(forward):
            span = layers[edge.target] - layers[edge.source]
            if span == 1:
                graph._link(edge.source, edge.target)
            elif edge.kind != "catch":
                graph._add_chain(number, edge)
        return graph

    def _add_chain(self, number: int, edge: Edge) -> None:
        previous = edge.source
        waypoints = []
        for layer in range(self.layer_of[edge.source] + 1, self.layer_of[edge.target]):
            waypoint = f"\x00{number}:{layer}"
            self.rows[layer].append(waypoint)
            self.layer_of[waypoint] = layer
            self._link(previous, waypoint)
            waypoints.append(waypoint)
            previous = waypoint
        self._link(previous, edge.target)
        self.chains[edge] = waypoints

    def _link(self, upper: str, lower: str) -> None:
        self.down[upper].append(lower)
        self.up[lower].append(upper)

    def order(self) -> None:
        """Barycentre sweeps, alternating down and up; stable sorts keep ties in ASL order."""
        for sweep in range(ORDERING_SWEEPS):
            downward = sweep % 2 == 0
            layer_numbers = range(1, len(self.rows)) if downward else range(len(self.rows) - 2, -1, -1)
            for layer in layer_numbers:
                neighbours = self.up if downward else self.down
                reference = self.rows[layer - 1] if downward else self.rows[layer + 1]
                self.rows[layer] = _by_barycentre(self.rows[layer], neighbours, reference)

    def place(self, widths: dict[str, float]) -> dict[str, float]:
        """Centre x of every node: pulled towards its neighbours, never closer than ``NODE_GAP``."""
        width = {node: widths.get(node, WAYPOINT_WIDTH) for row in self.rows for node in row}
        centers: dict[str, float] = {}
        for row in self.rows:
            centers.update(_packed(row, width, {}))
        for sweep in range(PLACEMENT_SWEEPS):
            downward = sweep % 2 == 0
            rows = self.rows if downward else list(reversed(self.rows))
            for row in rows:
                neighbours = self.up if downward else self.down
                wanted = {
                    node: sum(centers[other] for other in neighbours[node]) / len(neighbours[node])
                    for node in row
                    if neighbours[node]
                }
                centers.update(_packed(row, width, {node: wanted.get(node, centers[node]) for node in row}))
        return centers


def _by_barycentre(row: list[str], neighbours: dict[str, list[str]], reference: list[str]) -> list[str]:
    position = {node: index for index, node in enumerate(reference)}

    def barycentre(item: tuple[int, str]) -> float:
        index, node = item
        linked = [position[other] for other in neighbours[node] if other in position]
        # A node without neighbours keeps its relative place (scaled to the reference row's length).
        return sum(linked) / len(linked) if linked else index * max(len(reference), 1) / max(len(row), 1)

    return [node for _, node in sorted(enumerate(row), key=barycentre)]


def _packed(row: list[str], width: dict[str, float], wanted: dict[str, float]) -> dict[str, float]:
    """Centres as close to ``wanted`` as the order and gaps allow (packed around 0 when nothing is wanted)."""
    if not wanted:
        total = sum(width[node] for node in row) + NODE_GAP * (len(row) - 1)
        wanted, cursor = {}, -total / 2
        for node in row:
            wanted[node] = cursor + width[node] / 2
            cursor += width[node] + NODE_GAP
    placed: dict[str, float] = {}
    previous: str | None = None
    for node in row:
        center = wanted[node]
        if previous is not None:
            center = max(center, placed[previous] + (width[previous] + width[node]) / 2 + NODE_GAP)
        placed[node] = center
        previous = node
    # The gaps only ever push right; shifting the row back by the mean push keeps it where it was wanted.
    shift = sum(wanted[node] - placed[node] for node in row) / max(len(row), 1)
    return {node: center + shift for node, center in placed.items()}


def _assemble(
    definition: dict[str, Any],
    graph: _LayeredGraph,
    centers: dict[str, float],
    widths: dict[str, float],
    forward: list[Edge],
    backward: list[Edge],
) -> Layout:
    states: dict[str, Any] = definition["States"]
    lane_targets = sorted(
        {edge.target for edge in forward if edge.kind == "catch" and _span(graph, edge) > 1},
        key=lambda name: (graph.layer_of[name], list(states).index(name)),
    )
    left_lanes = len(backward)
    left_edge = min((centers[node] - widths.get(node, WAYPOINT_WIDTH) / 2 for node in centers), default=0.0)
    offset_x = MARGIN + left_lanes * LANE_GAP + (LANE_GAP if left_lanes else 0) - left_edge

    def top(layer: int) -> float:
        return MARGIN + START_SPACE + layer * (BOX_HEIGHT + LAYER_GAP)

    boxes = {
        name: Box(
            name=name,
            state_type=str(states[name].get("Type", "")),
            waits_for_callback="waitForTaskToken" in str(states[name].get("Resource", "")),
            layer=graph.layer_of[name],
            x=centers[name] + offset_x - widths[name] / 2,
            y=top(graph.layer_of[name]),
            width=widths[name],
        )
        for name in states
    }
    main_right = max((centers[node] + widths.get(node, WAYPOINT_WIDTH) / 2 + offset_x for node in centers), default=0)
    router = _Router(boxes, graph, centers, offset_x, top)
    routes = [router.direct(edge) for edge in forward if _span(graph, edge) == 1]
    routes += [router.chained(edge) for edge in forward if edge in graph.chains]
    lane_x = {target: main_right + LANE_GAP * (index + 1) for index, target in enumerate(lane_targets)}
    routes += [
        router.laned(edge, lane_x[edge.target], lane_targets.index(edge.target), "catch-lane")
        for edge in forward
        if edge.kind == "catch" and _span(graph, edge) > 1
    ]
    routes += [
        router.laned(edge, MARGIN + LANE_GAP * (left_lanes - index - 1), index, "back-lane")
        for index, edge in enumerate(backward)
    ]
    width = main_right + LANE_GAP * (len(lane_targets) + 1) + MARGIN
    height = top(len(graph.rows)) - LAYER_GAP + MARGIN
    return Layout(definition.get("StartAt", ""), boxes, _with_spread_ports(routes, boxes), width, height)


def _span(graph: _LayeredGraph, edge: Edge) -> int:
    return graph.layer_of[edge.target] - graph.layer_of[edge.source]


@dataclass
class _Router:
    boxes: dict[str, Box]
    graph: _LayeredGraph
    centers: dict[str, float]
    offset_x: float
    top: Callable[[int], float]  # layer number → y of that layer's boxes

    def direct(self, edge: Edge) -> Route:
        source, target = self.boxes[edge.source], self.boxes[edge.target]
        return Route(edge, ((source.center_x, source.bottom), (target.center_x, target.y)))

    def chained(self, edge: Edge) -> Route:
        source, target = self.boxes[edge.source], self.boxes[edge.target]
        points: list[Point] = [(source.center_x, source.bottom)]
        for waypoint in self.graph.chains[edge]:
            x, y = self.centers[waypoint] + self.offset_x, self.top(self.graph.layer_of[waypoint])
            points += [(x, y), (x, y + BOX_HEIGHT)]
        points.append((target.center_x, target.y))
        return Route(edge, tuple(points))

    def laned(self, edge: Edge, lane_x: float, lane_index: int, lane: Literal["catch-lane", "back-lane"]) -> Route:
        """Out of the source's bottom into the gap below, along the lane, into the target's top from the gap above."""
        source, target = self.boxes[edge.source], self.boxes[edge.target]
        step = min(8.0, (LAYER_GAP - 16) / 5)
        below = source.bottom + 8 + step * (lane_index % 5)
        above = target.y - 8 - step * (lane_index % 5)
        inset = 12.0
        start_x = source.x + source.width - inset if lane == "catch-lane" else source.x + inset
        end_x = target.x + target.width - inset if lane == "catch-lane" else target.x + inset
        points = ((start_x, source.bottom), (start_x, below), (lane_x, below), (lane_x, above), (end_x, above))
        return Route(edge, (*points, (end_x, target.y)), lane)


def _with_spread_ports(routes: list[Route], boxes: dict[str, Box]) -> list[Route]:
    """Edges leaving one bottom (or entering one top) side by side instead of on one point."""
    leaving: dict[str, list[int]] = defaultdict(list)
    entering: dict[str, list[int]] = defaultdict(list)
    for number, route in enumerate(routes):
        if route.lane == "direct":
            leaving[route.edge.source].append(number)
            entering[route.edge.target].append(number)
    points = [list(route.points) for route in routes]
    for name, numbers in leaving.items():
        numbers.sort(key=lambda n: points[n][1][0])
        for slot, number in enumerate(numbers):
            points[number][0] = (_port_x(boxes[name], slot, len(numbers)), points[number][0][1])
    for name, numbers in entering.items():
        numbers.sort(key=lambda n: points[n][-2][0])
        for slot, number in enumerate(numbers):
            points[number][-1] = (_port_x(boxes[name], slot, len(numbers)), points[number][-1][1])
    return [Route(route.edge, tuple(spread), route.lane) for route, spread in zip(routes, points, strict=True)]


def _port_x(box: Box, slot: int, count: int) -> float:
    spacing = min(24.0, (box.width - 40) / max(count, 1))
    return box.center_x + (slot - (count - 1) / 2) * spacing
