"""The reconcile state machine as SVG, optionally with one job's executions drawn on it.

ElementTree writes (and escapes) the file. Each state is a `<g class="state state-TYPE">` carrying
`data-state` (its name) and `data-visits`; each transition a `<g class="edge edge-KIND">` carrying
`data-from`, `data-to` and `data-kind`; the states and transitions the executions took also get the
`taken` class, so a page embedding the SVG can find and style them. A legend under the graph lists the
executions, notes and links.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from pixelpipe_cli.asl_model import END, START, StateGraph
from pixelpipe_cli.execution_history import ExecutionTrace, JobExecutions
from pixelpipe_cli.graph_layout import CHAR_W, LINE_H, MARGIN, Layout, Node, layout, wrap

SVG_NS = "http://www.w3.org/2000/svg"

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
    legend_width = max([len(text) * CHAR_W for text, _, _ in legend] + [0]) + 2 * MARGIN
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
        ET.SubElement(svg, "text", {"x": str(MARGIN), "y": str(MARGIN + 6), "class": "title"}).text = title

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
    first_baseline = top + (h - len(node.lines) * LINE_H) / 2 + LINE_H - 3
    for i, line in enumerate(node.lines):
        ET.SubElement(
            text, "tspan", {"x": f"{node.x:.1f}", "y": f"{first_baseline + i * LINE_H:.1f}"}
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
                "x": str(MARGIN),
                "y": f"{y:.1f}",
                "{http://www.w3.org/XML/1998/namespace}space": "preserve",
            },
        ).text = text
        y += 17


def job_graph_svg(
    job: dict[str, Any] | None, graph: StateGraph, executions: JobExecutions | None = None
) -> str:
    """The machine with a job's executions highlighted (and the notes and links that come with them);
    the bare machine when `job` is None."""
    if job is None:
        return render_svg(graph, title="Reconcile state machine")
    executions = executions or JobExecutions()
    title = f"Reconcile executions of job {job['jobId']} ({job.get('status', '?')})"
    return render_svg(
        graph, title=title, executions=executions.traces, notes=executions.notes, links=executions.links
    )
