"""Where each state and edge of a `StateGraph` goes on the drawing, in pure Python (no graphviz).

Nodes go into layers by their longest path from StartAt (loops found by a depth-first walk are left out
of the layering and drawn round the side), long edges get invisible waypoints, a few barycenter sweeps
order each layer, nodes settle near their neighbours without overlapping, and each Choice or Catch label
gets a row under its source where it overlaps no other.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from pixelpipe_cli.asl_model import END, START, Edge, StateGraph

_FONT = 12
CHAR_W = 6.8  # average glyph width of a 12 px sans-serif, close enough to size boxes
LINE_H = 15
_WRAP = 24
_PAD_X, _PAD_Y = 14, 10
_GAP_X, _GAP_Y = 36, 70
MARGIN = 30
_DUMMY_W = 16


@dataclass
class Node:
    id: str
    kind: str  # ASL type, Start, End or "dummy"
    lines: list[str]
    width: float
    height: float
    layer: int = 0
    x: float = 0.0  # centre
    y: float = 0.0  # top


@dataclass
class Layout:
    nodes: dict[str, Node]
    layers: list[list[str]]
    routes: list[tuple[Edge, list[str], bool]]  # edge, node ids along it (dummies between), is a back edge
    ports: list[tuple[float, float]]  # per route: x where it leaves its source, x where it enters its target
    labels: dict[int, tuple[float, float]]  # per labelled route: centre of its label
    width: float
    height: float


def wrap(text: str, width: int = _WRAP) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _node(node_id: str, kind: str) -> Node:
    if kind in ("Start", "End"):
        lines = [kind]
        return Node(node_id, kind, lines, 56, 26)
    lines = wrap(node_id)
    width = max(len(line) for line in lines) * CHAR_W + 2 * _PAD_X
    if kind == "Choice":
        width += 24  # the pointed ends
    return Node(node_id, kind, lines, max(width, 90), len(lines) * LINE_H + 2 * _PAD_Y)


def layout(graph: StateGraph) -> Layout:
    nodes = {name: _node(name, kind) for name, kind in graph.types.items()}
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        if edge.target not in successors[edge.source]:
            successors[edge.source].append(edge.target)

    # Back edges (loops) are found by a depth-first walk from Start and left out of the layering.
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    colour: dict[str, int] = {}

    def visit(root: str) -> None:
        stack = [(root, iter(successors[root]))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                order.append(node)
                stack.pop()
            elif colour.get(child) == 1:
                back.add((node, child))
            elif child not in colour:
                colour[child] = 1
                stack.append((child, iter(successors[child])))

    for root in [START, *nodes]:
        if root not in colour:
            visit(root)
    topological = list(reversed(order))

    # Longest path from Start: each node one layer below its deepest predecessor.
    for name in topological:
        for child in successors[name]:
            if (name, child) not in back:
                nodes[child].layer = max(nodes[child].layer, nodes[name].layer + 1)
    nodes[END].layer = max(n.layer for n in nodes.values() if n.id != END) + 1

    # Edges spanning several layers pass through invisible waypoints, one per layer crossed.
    routes: list[tuple[Edge, list[str], bool]] = []
    for index, edge in enumerate(graph.edges):
        is_back = (edge.source, edge.target) in back
        top, bottom = (edge.target, edge.source) if is_back else (edge.source, edge.target)
        chain = [top]
        for layer in range(nodes[top].layer + 1, nodes[bottom].layer):
            dummy = f"__dummy_{index}_{layer}"
            nodes[dummy] = Node(dummy, "dummy", [], _DUMMY_W, 0, layer=layer)
            chain.append(dummy)
        chain.append(bottom)
        routes.append((edge, chain if not is_back else list(reversed(chain)), is_back))

    layers: list[list[str]] = [[] for _ in range(nodes[END].layer + 1)]
    first_seen = {name: i for i, name in enumerate(topological)}
    for node in sorted(nodes.values(), key=lambda n: first_seen.get(n.id, len(first_seen))):
        layers[node.layer].append(node.id)

    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for _, chain, is_back in routes:
        steps = list(reversed(chain)) if is_back else chain
        for a, b in itertools.pairwise(steps):
            down[a].append(b)
            up[b].append(a)
    _order_layers(layers, up, down)
    for name, degree in (
        (START, len(down[START])),
        (END, len(up[END])),
    ):  # wide enough for every edge to arrive apart
        nodes[name].width = max(nodes[name].width, 18.0 * degree)
    _place_x(nodes, layers, up, down)
    ports = _ports(nodes, routes)
    rows = [0] * len(layers)
    for _ in range(len(graph.edges) + 1):  # label rows only grow, so this settles
        _place_y(nodes, layers, rows)
        labels, needed = _place_labels(nodes, routes, ports, rows)
        if needed == rows:
            break
        rows = [max(a, b) for a, b in zip(rows, needed, strict=True)]
    # Everything (labels included) starts at the margin.
    extents = [n.x - n.width / 2 for n in nodes.values()]
    extents += [x - _label_width(routes[i][0].label) / 2 for i, (x, _) in labels.items()]
    shift = MARGIN - min(extents)
    for node in nodes.values():
        node.x += shift
    ports = [(a + shift, b + shift) for a, b in ports]
    labels = {i: (x + shift, y) for i, (x, y) in labels.items()}
    right = [n.x + n.width / 2 for n in nodes.values()]
    right += [x + _label_width(routes[i][0].label) / 2 for i, (x, _) in labels.items()]
    right += [
        max(nodes[c[0]].x, nodes[c[-1]].x) + nodes[c[0]].width / 2 + 70 for _, c, back in routes if back
    ]
    width = max(right) + MARGIN
    height = max(n.y + n.height for n in nodes.values()) + MARGIN
    return Layout(nodes, layers, routes, ports, labels, width, height)


def _crossings(layers: list[list[str]], down: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        position = {name: i for i, name in enumerate(lower)}
        pairs = [(i, position[b]) for i, a in enumerate(upper) for b in down[a] if b in position]
        total += sum(1 for p in pairs for q in pairs if p[0] < q[0] and p[1] > q[1])
    return total


def _order_layers(layers: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]) -> None:
    """Barycenter sweeps, down then up, keeping the ordering with the fewest crossings."""
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(layers, down)
    for sweep in range(8):
        downward = sweep % 2 == 0
        indices = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for i in indices:
            neighbour_layer = layers[i - 1] if downward else layers[i + 1]
            position = {name: p for p, name in enumerate(neighbour_layer)}
            links = up if downward else down

            def barycenter(
                name: str, links: dict[str, list[str]] = links, position: dict = position
            ) -> float:
                linked = [position[n] for n in links[name] if n in position]
                return sum(linked) / len(linked) if linked else float("inf")

            current = {name: p for p, name in enumerate(layers[i])}
            layers[i].sort(key=lambda n: (barycenter(n), current[n]))
        crossings = _crossings(layers, down)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in layers], crossings
    layers[:] = best


def _place_x(
    nodes: dict[str, Node], layers: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]
) -> None:
    """Each node near the mean x of its neighbours, sweeping down and up, rows never overlapping."""
    for layer in layers:  # packed left to right to start with
        x = float(MARGIN)
        for name in layer:
            nodes[name].x = x + nodes[name].width / 2
            x += nodes[name].width + _GAP_X
    for sweep in range(6):
        downward = sweep % 2 == 0
        sequence = layers[1:] if downward else list(reversed(layers[:-1]))
        for layer in sequence:
            wanted = []
            for name in layer:
                linked = up[name] if downward else down[name]
                centres = [nodes[n].x for n in linked]
                wanted.append(sum(centres) / len(centres) if centres else nodes[name].x)
            _fit_row([nodes[n] for n in layer], wanted)


def _place_y(nodes: dict[str, Node], layers: list[list[str]], label_rows: list[int]) -> None:
    """Rows top to bottom; below a row, room for its edges' labels."""
    y = float(MARGIN + 40)  # room for the title
    for layer, rows in zip(layers, label_rows, strict=True):
        row_height = max([nodes[n].height for n in layer] + [10])
        for name in layer:
            nodes[name].y = y + (row_height - nodes[name].height) / 2
        y += row_height + max(_GAP_Y, _LABEL_ROW * rows + 26)


_LABEL_ROW = 16


def _label_width(text: str) -> float:
    return len(text) * CHAR_W * 11 / 12 + 8


def _segment_x_at(xa: float, ya: float, xb: float, yb: float, y: float) -> float:
    """x of the drawn curve (an S from (xa, ya) down to (xb, yb)) at height y."""
    lo, hi = 0.0, 1.0
    for _ in range(30):  # y(t) = ya + (yb - ya) * (1.5 t (1 - t) + t^3) is increasing: bisect
        t = (lo + hi) / 2
        if ya + (yb - ya) * (1.5 * t * (1 - t) + t**3) < y:
            lo = t
        else:
            hi = t
    t = (lo + hi) / 2
    return xa + (xb - xa) * t * t * (3 - 2 * t)


def _place_labels(
    nodes: dict[str, Node],
    routes: list[tuple[Edge, list[str], bool]],
    ports: list[tuple[float, float]],
    rows: list[int],
) -> tuple[dict[int, tuple[float, float]], list[int]]:
    """Each label on its edge just below the source, on the first row where it overlaps no other."""
    labels: dict[int, tuple[float, float]] = {}
    needed = [0] * len(rows)
    taken: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    candidates = [
        (index, edge, chain) for index, (edge, chain, back) in enumerate(routes) if edge.label and not back
    ]
    candidates.sort(key=lambda c: (nodes[c[2][0]].layer, ports[c[0]][0], nodes[c[2][1]].x))
    for index, edge, chain in candidates:
        source, following = nodes[chain[0]], nodes[chain[1]]
        xa, ya = ports[index][0], source.y + source.height
        xb = ports[index][1] if len(chain) == 2 else following.x
        yb = following.y - (2 if len(chain) == 2 else 6)
        half = _label_width(edge.label) / 2
        row = 0
        while True:
            y = ya + 13 + _LABEL_ROW * row
            x = _segment_x_at(xa, ya, xb, yb, y - 4)
            span = (x - half, x + half)
            if all(span[1] < a or span[0] > b for a, b in taken[(source.layer, row)]):
                break
            row += 1
        taken[(source.layer, row)].append(span)
        labels[index] = (x, y)
        needed[source.layer] = max(needed[source.layer], row + 1)
    return labels, needed


def _fit_row(row: list[Node], wanted: list[float]) -> None:
    """Closest to the wanted centres without overlap: the mean of a left-to-right and a right-to-left fit."""
    gaps = [(a.width + b.width) / 2 + _GAP_X for a, b in itertools.pairwise(row)]
    pushed = list(wanted)
    for i in range(1, len(row)):
        pushed[i] = max(pushed[i], pushed[i - 1] + gaps[i - 1])
    pulled = list(wanted)
    for i in range(len(row) - 2, -1, -1):
        pulled[i] = min(pulled[i], pulled[i + 1] - gaps[i])
    for node, a, b in zip(row, pushed, pulled, strict=True):
        node.x = (a + b) / 2


def _ports(nodes: dict[str, Node], routes: list[tuple[Edge, list[str], bool]]) -> list[tuple[float, float]]:
    """Where each edge leaves its source and enters its target: spread along the box, ordered by x."""
    outgoing: dict[str, list[tuple[float, int]]] = defaultdict(list)
    incoming: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for index, (_, chain, is_back) in enumerate(routes):
        if not is_back:
            outgoing[chain[0]].append((nodes[chain[1]].x, index))
            incoming[chain[-1]].append((nodes[chain[-2]].x, index))
    ends: dict[int, list[float]] = {index: [0.0, 0.0] for index in range(len(routes))}
    for side, table in ((0, outgoing), (1, incoming)):
        for name, items in table.items():
            node = nodes[name]
            span = node.width * (0.5 if node.kind == "Choice" else 0.8)
            for rank, (_, index) in enumerate(sorted(items)):
                ends[index][side] = node.x - span / 2 + span * (rank + 1) / (len(items) + 1)
    return [(a, b) for a, b in ends.values()]
