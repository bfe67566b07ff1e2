"""docs/job-record.md draws the lifecycle: its mermaid state diagrams must be the module's transitions."""

from __future__ import annotations

import re
from pathlib import Path

from pixelpipe.logic.lifecycle import TRANSITIONS, Actor

DOC = Path(__file__).resolve().parents[2] / "docs" / "job-record.md"
EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*:\s*(.+?)\s+by\s+(.+?)\s*$")


def drawn(kind: str) -> set[tuple[str, str, str, str]]:
    """The edges (from, to, transition, actor) of the diagram whose first comment is `%% <kind> status`."""
    blocks = re.findall(r"```mermaid\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    chosen = [b for b in blocks if b.startswith("stateDiagram-v2") and f"%% {kind} status" in b]
    assert len(chosen) == 1, f"expected one stateDiagram-v2 for {kind} status in {DOC.name}"
    lines = [
        line for line in chosen[0].splitlines()[1:] if line.strip() and not line.strip().startswith("%%")
    ]
    edges = set()
    for line in lines:
        match = EDGE.match(line)
        assert match, f"not a labelled transition: {line!r} (write `FROM --> TO : name by actor`)"
        edges.add(match.groups())
    return edges


def declared(kind: str) -> set[tuple[str, str, str, str]]:
    return {
        (source or "[*]", move.target, transition.name, actor)
        for transition in TRANSITIONS
        if (move := getattr(transition, kind)) is not None
        for actor in transition.actors
        for source in move.sources
    }


def test_the_job_status_diagram_is_the_modules_job_transitions():
    missing, extra = declared("job") - drawn("job"), drawn("job") - declared("job")
    assert not missing and not extra, (
        f"add to the diagram: {sorted(missing)}; not in the module: {sorted(extra)}"
    )


def test_the_step_status_diagram_is_the_modules_step_transitions():
    missing, extra = declared("step") - drawn("step"), drawn("step") - declared("step")
    assert not missing and not extra, (
        f"add to the diagram: {sorted(missing)}; not in the module: {sorted(extra)}"
    )


def test_the_diagrams_show_every_actor_at_work():
    assert {actor for *_, actor in drawn("job") | drawn("step")} == {actor.value for actor in Actor}
