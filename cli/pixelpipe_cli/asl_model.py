"""The reconcile state machine as a graph: every state and every transition an ASL definition declares.

`parse_asl` reads a top-level ASL definition (the repository's file or the deployed one) into states with
their types and edges (every Next, Default, Choice rule and Catch, plus a Start and an End node), each
Choice rule and Catch labelled with a short expression a reader can follow on the drawing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pixelpipe.config import settings

START, END = "__start__", "__end__"  # pseudo nodes; ASL state names are free text, these ids are not drawn

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


@dataclass(frozen=True)
class Edge:
    """One transition; `kind` is start, next, choice, default, catch or end."""

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
    """The ASL file pipeline.json names (with its Terraform template variables not filled in).

    The path is relative to the repository root for Terraform; this package carries the same
    `statemachine/` (a link in the checkout, a copy in the wheel), as the emulator's does, so the CLI
    finds the ASL without importing the emulator."""
    return Path(str(resources.files(__package__).joinpath(settings().state_machine.definition)))


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
