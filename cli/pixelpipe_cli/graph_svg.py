"""`pixelpipe graph`: the reconcile state machine as an SVG, optionally with one job's executions on it.

Pure Python, no graphviz: the ASL becomes a graph (every Next, Default, Choice rule and Catch, plus a
Start and an End node), nodes go into layers by their longest path from StartAt, long edges get
invisible waypoints, a few barycenter sweeps order each layer, and ElementTree writes (and escapes)
the SVG. A job's executions are read from `get_execution_history` and drawn on top: the states and
transitions they took get the `taken` class and a visit count.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelpipe.config import pipeline_config
from pixelpipe_cli.provision import REPO_ROOT

START, END = "__start__", "__end__"  # pseudo nodes; ASL state names are free text, these ids are not drawn
SVG_NS = "http://www.w3.org/2000/svg"

# Edge kinds: start, next, choice, default, catch, end
_OPERATORS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_TYPE_TESTS = ("IsNull", "IsPresent", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp")
_LABEL_MAX = 42


# ---------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    label: str = ""


@dataclass
class StateGraph:
    start_at: str
    types: dict[str, str]  # state name (or START/END) -> ASL type
    edges: list[Edge]

    @property
    def states(self) -> list[str]:
        return [name for name in self.types if name not in (START, END)]


def definition_path() -> Path:
    return REPO_ROOT / pipeline_config()["state_machine"]["definition"]


def load_definition(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or definition_path()).read_text())


def parse_asl(definition: dict[str, Any]) -> StateGraph:
    """Every state and every transition of a top-level ASL definition."""
    states: dict[str, dict[str, Any]] = definition["States"]
    types = {START: "Start", **{name: spec.get("Type", "Task") for name, spec in states.items()}, END: "End"}
    edges = [Edge(START, definition["StartAt"], "start")]
    for name, spec in states.items():
        for rule in spec.get("Choices", []):
            edges.append(Edge(name, rule["Next"], "choice", _shorten(condition_text(rule))))
        if "Default" in spec:
            edges.append(Edge(name, spec["Default"], "default", "default"))
        for catch in spec.get("Catch", []):
            edges.append(
                Edge(name, catch["Next"], "catch", _shorten(catch_text(catch.get("ErrorEquals", []))))
            )
        if "Next" in spec:
            edges.append(Edge(name, spec["Next"], "next"))
        if spec.get("End") or spec.get("Type") in ("Succeed", "Fail"):
            edges.append(Edge(name, END, "end"))
    missing = sorted({e.target for e in edges} - set(types))
    if missing:
        raise ValueError(f"transitions to undefined states: {', '.join(missing)}")
    return StateGraph(definition["StartAt"], types, edges)


def condition_text(rule: dict[str, Any]) -> str:
    """A Choice rule as a short expression: `outcome == SUCCEEDED`, `job.status != PENDING`."""
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    if "And" in rule:
        return " and ".join(_grouped(r) for r in rule["And"])
    if "Or" in rule:
        return " or ".join(_grouped(r) for r in rule["Or"])
    if "Not" in rule:
        inner = condition_text(rule["Not"])
        simple = inner.count(" == ") == 1 and " and " not in inner and " or " not in inner
        return inner.replace(" == ", " != ") if simple else f"not ({inner})"
    variable = _path(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment"):
            continue
        if key == "IsPresent":
            return f"{variable} {'exists' if value else 'is missing'}"
        if key in _TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{key.removeprefix('Is').lower()}"
        for suffix, symbol in _OPERATORS.items():
            stem = key.removesuffix("Path")
            if stem.endswith(suffix) and stem[: -len(suffix)] in (
                "String",
                "Numeric",
                "Boolean",
                "Timestamp",
            ):
                shown = _path(value) if key.endswith("Path") else _literal(value)
                return f"{variable} {symbol} {shown}"
    return variable


def catch_text(errors: list[str]) -> str:
    """`DynamoDB.ConditionalCheckFailedException` -> `ConditionalCheckFailedException`; States.* kept."""
    return ", ".join(e if e.startswith("States.") else e.rsplit(".", 1)[-1] for e in errors)


def _grouped(rule: dict[str, Any]) -> str:
    text = condition_text(rule)
    return f"({text})" if " and " in text or " or " in text else text


def _path(value: Any) -> str:
    text = str(value)
    return text[2:] if text.startswith("$.") else text


def _literal(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _shorten(text: str, limit: int = _LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------ executions


@dataclass(frozen=True)
class HistoryEvent:
    offset_ms: int
    type: str
    state: str


@dataclass
class ExecutionTrace:
    """One reconcile execution as the graph needs it: which states, in order, and how it left each."""

    arn: str
    status: str
    step: str
    outcome: str
    states: list[str] = field(default_factory=list)
    # (from, to) pairs left through a Catch, i.e. after a failure inside `from`
    caught: set[tuple[str, str]] = field(default_factory=set)
    events: list[HistoryEvent] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    def transitions(self) -> list[tuple[str, str, bool]]:
        """(from, to, through a Catch) for every transition taken, Start and End included."""
        if not self.states:
            return []
        path = [START, *self.states] + ([END] if self.status in ("SUCCEEDED", "FAILED") else [])
        return [(a, b, (a, b) in self.caught) for a, b in itertools.pairwise(path)]


def parse_history(arn: str, events: list[dict[str, Any]]) -> ExecutionTrace:
    """Entered states in event order (`stateEnteredEventDetails.name`), the outcome, the input's step."""
    trace = ExecutionTrace(arn=arn, status="RUNNING", step="?", outcome="?")
    begin = events[0]["timestamp"] if events else None
    current, failed_inside = None, False
    for event in events:
        kind = event["type"]
        state = ""
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
            if current is not None and failed_inside:
                trace.caught.add((current, state))
            trace.states.append(state)
            current, failed_inside = state, False
        elif "stateExitedEventDetails" in event:
            state = event["stateExitedEventDetails"]["name"]
        elif kind == "ExecutionStarted":
            details = json.loads(event.get("executionStartedEventDetails", {}).get("input") or "{}")
            trace.step = "deadline" if details.get("kind") == "deadline" else details.get("step", "?")
            trace.outcome = "FAILED" if details.get("kind") == "deadline" else details.get("outcome", "?")
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            trace.status = kind.removeprefix("Execution").upper()
        elif kind.endswith(("Failed", "TimedOut")):
            failed_inside = True
        offset = round((event["timestamp"] - begin).total_seconds() * 1000) if begin else 0
        trace.events.append(HistoryEvent(offset, kind, state))
    return trace


def fetch_trace(stepfunctions: Any, arn: str) -> ExecutionTrace:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return parse_history(arn, events)
        kwargs["nextToken"] = page["nextToken"]


def console_url(region: str, execution_arn: str) -> str:
    """Where an Express execution can be seen on AWS (its history is only in CloudWatch Logs)."""
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/express-executions/details/{execution_arn}"
    )


# --------------------------------------------------------------------------------------------- layout

_FONT = 12
_CHAR_W = 6.8  # average glyph width of a 12 px sans-serif, close enough to size boxes
_LINE_H = 15
_WRAP = 24
_PAD_X, _PAD_Y = 14, 10
_GAP_X, _GAP_Y = 36, 70
_MARGIN = 30
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
    width = max(len(line) for line in lines) * _CHAR_W + 2 * _PAD_X
    if kind == "Choice":
        width += 24  # the pointed ends
    return Node(node_id, kind, lines, max(width, 90), len(lines) * _LINE_H + 2 * _PAD_Y)


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
    shift = _MARGIN - min(extents)
    for node in nodes.values():
        node.x += shift
    ports = [(a + shift, b + shift) for a, b in ports]
    labels = {i: (x + shift, y) for i, (x, y) in labels.items()}
    right = [n.x + n.width / 2 for n in nodes.values()]
    right += [x + _label_width(routes[i][0].label) / 2 for i, (x, _) in labels.items()]
    right += [
        max(nodes[c[0]].x, nodes[c[-1]].x) + nodes[c[0]].width / 2 + 70 for _, c, back in routes if back
    ]
    width = max(right) + _MARGIN
    height = max(n.y + n.height for n in nodes.values()) + _MARGIN
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
        x = float(_MARGIN)
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
    y = float(_MARGIN + 40)  # room for the title
    for layer, rows in zip(layers, label_rows, strict=True):
        row_height = max([nodes[n].height for n in layer] + [10])
        for name in layer:
            nodes[name].y = y + (row_height - nodes[name].height) / 2
        y += row_height + max(_GAP_Y, _LABEL_ROW * rows + 26)


_LABEL_ROW = 16


def _label_width(text: str) -> float:
    return len(text) * _CHAR_W * 11 / 12 + 8


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


# ------------------------------------------------------------------------------------------------ svg

_STYLE = """
text { font-family: Helvetica, Arial, sans-serif; font-size: 12px; fill: #1f2933; }
.title { font-size: 16px; font-weight: bold; }
.state > .shape { stroke: #52606d; stroke-width: 1.2; }
.state-Task > .shape, .state-Pass > .shape, .state-Map > .shape, .state-Parallel > .shape,
.state-Wait > .shape { fill: #e4ecf7; }
.state-Choice > .shape { fill: #fff3c4; }
.state-Succeed > .shape { fill: #c6f0c2; stroke: #2f8132; }
.state-Fail > .shape { fill: #f9c9c9; stroke: #b42318; }
.state-Start > .shape, .state-End > .shape { fill: #52606d; stroke: #52606d; }
.state-Start > text, .state-End > text { fill: #ffffff; font-weight: bold; }
.state.taken > .shape { stroke: #d9480f; stroke-width: 3; }
.count { fill: #d9480f; } .count-text { fill: #ffffff; font-size: 11px; font-weight: bold; }
.edge > path { fill: none; stroke: #9aa5b1; stroke-width: 1.3; }
.edge-catch > path { stroke-dasharray: 5 4; stroke: #c2410c; }
.edge.taken > path { stroke: #d9480f; stroke-width: 3; }
.edge-label { font-size: 11px; paint-order: stroke; stroke: #ffffff; stroke-width: 4px; }
.edge-catch > .edge-label { fill: #c2410c; }
.legend-title { font-weight: bold; }
a text { fill: #1d4ed8; text-decoration: underline; }
"""


def render_svg(
    graph: StateGraph,
    title: str = "",
    executions: list[ExecutionTrace] | None = None,
    notes: list[str] | None = None,
    links: list[tuple[str, str]] | None = None,
) -> str:
    """The SVG text. `executions` are highlighted; `notes` and `links` (text, url) go in the legend."""
    executions = executions or []
    plan = layout(graph)
    visits: dict[str, int] = defaultdict(int)
    taken_edges: set[tuple[str, str, bool]] = set()
    for trace in executions:
        for state in trace.states:
            visits[state] += 1
        taken_edges.update(trace.transitions())

    legend = _legend_lines(executions, visits, notes or [], links or [])
    legend_height = len(legend) * 17 + (20 if legend else 0)
    legend_width = max([len(text) * _CHAR_W for text, _, _ in legend] + [0]) + 2 * _MARGIN
    width, height = max(plan.width, legend_width, 360), plan.height + legend_height
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": f"{width:.0f}",
            "height": f"{height:.0f}",
            "viewBox": f"0 0 {width:.0f} {height:.0f}",
            "role": "img",
        },
    )
    ET.SubElement(svg, "title").text = title or "state machine"
    ET.SubElement(svg, "style").text = _STYLE
    defs = ET.SubElement(svg, "defs")
    for marker_id, colour in (("arrow", "#9aa5b1"), ("arrow-catch", "#c2410c"), ("arrow-taken", "#d9480f")):
        marker = ET.SubElement(
            defs,
            "marker",
            {
                "id": marker_id,
                "viewBox": "0 0 10 10",
                "refX": "9",
                "refY": "5",
                "markerUnits": "userSpaceOnUse",  # the same size on thin and highlighted edges
                "markerWidth": "10",
                "markerHeight": "10",
                "orient": "auto-start-reverse",
            },
        )
        ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": colour})
    if title:
        ET.SubElement(svg, "text", {"x": str(_MARGIN), "y": str(_MARGIN + 6), "class": "title"}).text = title

    edges_group = ET.SubElement(svg, "g", {"class": "edges"})
    for index, (edge, _, _) in enumerate(plan.routes):
        taken = (edge.source, edge.target, edge.kind == "catch") in taken_edges
        _draw_edge(edges_group, plan, index, taken)
    states_group = ET.SubElement(svg, "g", {"class": "states"})
    for node in plan.nodes.values():
        if node.kind != "dummy":
            _draw_node(
                states_group,
                node,
                visits.get(node.id, 0),
                node.id in visits or _pseudo_taken(node, taken_edges),
            )
    if legend:
        _draw_legend(svg, legend, plan.height)
    _keep_xml_legal(svg)
    ET.indent(svg)
    return ET.tostring(svg, encoding="unicode", xml_declaration=False)


# Characters XML 1.0 does not allow at all, escaped or not (ElementTree writes them as they are, and the
# file would not parse). A job record or an execution's input can hold them; they become U+FFFD.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _keep_xml_legal(root: ET.Element) -> None:
    """ElementTree escapes `<`, `&` and quotes in every text and attribute; this drops what it cannot."""
    for element in root.iter():
        if element.text:
            element.text = _XML_ILLEGAL.sub("\ufffd", element.text)
        for name, value in element.attrib.items():
            element.set(name, _XML_ILLEGAL.sub("\ufffd", value))


def _pseudo_taken(node: Node, taken: set[tuple[str, str, bool]]) -> bool:
    return (node.id == START and any(a == START for a, _, _ in taken)) or (
        node.id == END and any(b == END for _, b, _ in taken)
    )


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


def _draw_edge(parent: ET.Element, plan: Layout, index: int, taken: bool) -> None:
    edge, chain, is_back = plan.routes[index]
    classes = f"edge edge-{edge.kind}" + (" taken" if taken else "")
    group = ET.SubElement(
        parent,
        "g",
        {"class": classes, "data-from": edge.source, "data-to": edge.target, "data-kind": edge.kind},
    )
    nodes = plan.nodes
    if is_back:  # a loop: out of the source's right side, round, into the target's right side
        a, b = nodes[edge.source], nodes[edge.target]
        x1, y1 = a.x + a.width / 2, a.y + a.height / 2
        x2, y2 = b.x + b.width / 2, b.y + b.height / 2
        bulge = max(x1, x2) + 60
        d = f"M {x1:.1f} {y1:.1f} C {bulge:.1f} {y1:.1f} {bulge:.1f} {y2:.1f} {x2 + 2:.1f} {y2:.1f}"
        label_at = (bulge - 10, (y1 + y2) / 2)
    else:
        first, last = nodes[chain[0]], nodes[chain[-1]]
        start_x, end_x = plan.ports[index]
        points = [(start_x, first.y + first.height)]
        for name in chain[1:-1]:
            points += [(nodes[name].x, nodes[name].y - 6), (nodes[name].x, nodes[name].y + 6)]
        points.append((end_x, last.y - 2))
        d = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            if xa == xb:
                d += f" L {xb:.1f} {yb:.1f}"
            else:
                bend = (yb - ya) / 2
                d += f" C {xa:.1f} {ya + bend:.1f} {xb:.1f} {yb - bend:.1f} {xb:.1f} {yb:.1f}"
        label_at = plan.labels.get(index, (0.0, 0.0))
    marker = "arrow-taken" if taken else "arrow-catch" if edge.kind == "catch" else "arrow"
    ET.SubElement(group, "path", {"d": d, "marker-end": f"url(#{marker})"})
    if edge.label:
        x, y = label_at
        ET.SubElement(
            group,
            "text",
            {"class": "edge-label", "x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": "middle"},
        ).text = edge.label


def _draw_node(parent: ET.Element, node: Node, count: int, taken: bool) -> None:
    attributes = {
        "class": f"state state-{node.kind}" + (" taken" if taken else ""),
        "data-visits": str(count),
    }
    if node.kind not in ("Start", "End"):
        attributes["data-state"] = node.id
    group = ET.SubElement(parent, "g", attributes)
    left, top, w, h = node.x - node.width / 2, node.y, node.width, node.height
    if node.kind == "Choice":
        tip = 12
        points = [
            (left, top + h / 2),
            (left + tip, top),
            (left + w - tip, top),
            (left + w, top + h / 2),
            (left + w - tip, top + h),
            (left + tip, top + h),
        ]
        ET.SubElement(
            group, "polygon", {"class": "shape", "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points)}
        )
    else:
        radius = h / 2 if node.kind in ("Start", "End", "Succeed", "Fail") else 6
        ET.SubElement(
            group,
            "rect",
            {
                "class": "shape",
                "x": f"{left:.1f}",
                "y": f"{top:.1f}",
                "width": f"{w:.1f}",
                "height": f"{h:.1f}",
                "rx": f"{radius:.1f}",
            },
        )
    text = ET.SubElement(group, "text", {"x": f"{node.x:.1f}", "text-anchor": "middle"})
    first_baseline = top + (h - len(node.lines) * _LINE_H) / 2 + _LINE_H - 3
    for i, line in enumerate(node.lines):
        ET.SubElement(
            text, "tspan", {"x": f"{node.x:.1f}", "y": f"{first_baseline + i * _LINE_H:.1f}"}
        ).text = line
    if count:
        cx, cy = left + w - 2, top + 2
        ET.SubElement(group, "circle", {"class": "count", "cx": f"{cx:.1f}", "cy": f"{cy:.1f}", "r": "9"})
        ET.SubElement(
            group,
            "text",
            {"class": "count-text", "x": f"{cx:.1f}", "y": f"{cy + 4:.1f}", "text-anchor": "middle"},
        ).text = f"{count}"


def _legend_lines(
    executions: list[ExecutionTrace],
    visits: dict[str, int],
    notes: list[str],
    links: list[tuple[str, str]],
) -> list[tuple[str, str, str | None]]:
    """(text, css class, link) rows under the graph."""
    rows: list[tuple[str, str, str | None]] = [(note, "note", None) for note in notes]
    if executions:
        rows.append(
            (f"{len(executions)} executions (highlighted, numbers = visits per state)", "legend-title", None)
        )
        for i, trace in enumerate(executions, 1):
            rows.append(
                (
                    f"{i}. {trace.step} {trace.outcome} — execution {trace.status} — {trace.name}",
                    "legend",
                    None,
                )
            )
            for j, line in enumerate(wrap(" → ".join(trace.states), 110)):
                rows.append((("    " if j else "    path: ") + line, "legend-path", None))
        rows.append(("Visits per state:", "legend-title", None))
        for state, count in sorted(visits.items(), key=lambda item: (-item[1], item[0])):
            rows.append((f"    {count} × {state}", "legend", None))
    for text, url in links:
        rows.append((text, "link", url))
    return rows


def _draw_legend(svg: ET.Element, rows: list[tuple[str, str, str | None]], top: float) -> None:
    group = ET.SubElement(svg, "g", {"class": "legend"})
    y = top + 4
    for text, css, url in rows:
        parent = ET.SubElement(group, "a", {"href": url, "target": "_blank"}) if url else group
        ET.SubElement(
            parent,
            "text",
            {
                "class": css,
                "x": str(_MARGIN),
                "y": f"{y:.1f}",
                "{http://www.w3.org/XML/1998/namespace}space": "preserve",
            },
        ).text = text
        y += 17


# ------------------------------------------------------------------------------------------ for a job


def job_graph_svg(target: Any | None, job: dict[str, Any] | None, graph: StateGraph) -> tuple[str, list[str]]:
    """The SVG for a job (or the bare machine when `job` is None) and messages for the terminal."""
    if job is None or target is None:
        return render_svg(graph, title="Reconcile state machine"), []
    arns = list(job.get("executions", []))
    title = f"Reconcile executions of job {job['jobId']} ({job.get('status', '?')})"
    if not target.is_local:
        messages = [
            "On AWS an Express workflow's history is not in the Step Functions API (only in CloudWatch "
            "Logs): drawing the graph without highlights; open each execution in the console:"
        ]
        links = [(console_url(target.region, arn), console_url(target.region, arn)) for arn in arns]
        messages += [url for _, url in links]
        svg = render_svg(graph, title=title, notes=[messages[0]], links=links)
        return svg, messages
    stepfunctions = target.client("stepfunctions")
    traces = [fetch_trace(stepfunctions, arn) for arn in arns]
    messages = [] if traces else [f"job {job['jobId']} has no recorded reconcile executions yet"]
    return render_svg(graph, title=title, executions=traces), messages
