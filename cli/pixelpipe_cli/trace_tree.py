"""A job's own work, picked out of the X-Ray documents of its traces, as a waterfall of spans.

What X-Ray returns (the same on AWS and on the local stack, see docs/local-vs-aws.md):
- the job's own trace (the record's `traceId`): dispatch and the reconcile runs — all of it is the job's;
- a batched worker invocation's trace, shared by every job in the batch: its function segment
  (`AWS::Lambda::Function`) holds one `## {step} job` subsegment per record, annotated `jobId`, `step` and
  `sqsSentAt`. Only this job's subtree is its own; the function segment is shown as SHARED (with how many
  jobs it served) and never counted as the job's time; the queue wait is `sqsSentAt` → the invocation's
  start, since AWS writes no queue segment;
- a sweep's trace, with a `## deadline job` subsegment per job it timed out;
- inferred segments (`inferred: true`, a `parent_id`, no `type`): the DynamoDB, S3, SNS … nodes X-Ray
  derives from an SDK call's subsegment, attached under that subsegment. A document whose parent belongs
  to another job is that job's and is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Top-level segments by origin: what kind of hop each one is.
_HOP_KINDS = {
    "AWS::Lambda": "lambda",  # the Lambda service: the event waiting for and starting the function
    "AWS::Lambda::Function": "function",
    "AWS::StepFunctions::StateMachine": "state machine",
}
FUNCTION_ORIGIN = "AWS::Lambda::Function"
STATE_MACHINE_ORIGIN = "AWS::StepFunctions::StateMachine"


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    depth: int
    start: float
    end: float
    segment_id: str
    trace_id: str = ""
    shared: bool = False  # a batched invocation's segment: other jobs' work ran in it too
    shared_by: int = 0  # how many jobs that invocation served
    hop: bool = False  # one of the job's own hops (what `slow` ranks); never a shared span
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass
class _Node:
    doc: dict[str, Any]
    trace_id: str
    parent: str | None  # for nesting: a subsegment's container, an inferred or streamed one's parent_id
    link: str | None  # for ownership only: also a segment's parent_id (e.g. a run started from a subsegment)
    children: list[str] = field(default_factory=list)


class _Forest:
    """Every document of one trace, nested subsegments and separately stored ones, as one tree."""

    def __init__(self, trace_id: str, documents: list[dict[str, Any]]) -> None:
        self.nodes: dict[str, _Node] = {}
        self.roots: list[str] = []

        def add(doc: dict[str, Any], container: str | None) -> None:
            attached = doc.get("type") == "subsegment" or doc.get("inferred")
            parent = container or (doc.get("parent_id") if attached else None)
            self.nodes[doc["id"]] = _Node(doc, trace_id, parent, parent or doc.get("parent_id"))
            for sub in doc.get("subsegments", []):
                add(sub, doc["id"])

        for doc in documents:
            add(doc, None)
        for node_id, node in self.nodes.items():
            if node.parent in self.nodes:
                self.nodes[node.parent].children.append(node_id)
            else:  # a segment, or a document whose parent X-Ray never got: a root of its own
                node.parent = None
                self.roots.append(node_id)
        self._owners: dict[str, str | None] = {}

    def owner(self, node_id: str) -> str | None:
        """The job whose work this is: the nearest annotated `jobId`, following parents and links."""
        if node_id not in self._owners:
            self._owners[node_id] = None  # a cycle of links owns nothing
            node = self.nodes[node_id]
            job = (node.doc.get("annotations") or {}).get("jobId")
            if job is None and node.link in self.nodes:
                job = self.owner(node.link)
            self._owners[node_id] = job
        return self._owners[node_id]

    def job_roots(self, root: str) -> list[tuple[str, str]]:
        """(node, job) for each node under `root` where a job's work begins (an annotated `jobId` other
        than the one around it)."""
        found: list[tuple[str, str]] = []

        def walk(node_id: str, around: str | None) -> None:
            job = (self.nodes[node_id].doc.get("annotations") or {}).get("jobId")
            if job is not None and job != around and node_id != root:
                found.append((node_id, job))
            for child in self.nodes[node_id].children:
                walk(child, job or around)

        walk(root, None)
        return found


def _kind(doc: dict[str, Any], parent_kind: str) -> str:
    if doc.get("inferred"):
        return "inferred"  # X-Ray's node for the call: its time is already the call's (not counted twice)
    if parent_kind == "state machine":
        return "state"
    return _HOP_KINDS.get(doc.get("origin", ""), doc.get("namespace", "") or "code")


def _name(doc: dict[str, Any], kind: str) -> str:
    operation = (doc.get("aws") or {}).get("operation")  # AWS calls: "s3 GetObject", not just "s3"
    return f"{doc['name']} {operation}" if operation and kind in ("aws", "inferred") else doc["name"]


def _run_of(doc: dict[str, Any], job_id: str, steps: list[str]) -> bool:
    """Whether a reconcile run is this job's, by its execution's name: `JOB-STEP-ATTEMPT-S|F` for a step
    result (StepCompletion.execution_name), `JOB-deadline-8HEX` for the sweeper's — matched whole, so a
    job whose id begins another's is not taken for it."""
    if doc.get("origin") != STATE_MACHINE_ORIGIN:
        return False
    name = ((doc.get("aws") or {}).get("execution_arn") or "").rsplit(":", 1)[-1]
    kinds = "|".join([*(rf"{re.escape(step)}-\d+-[SF]" for step in steps), "deadline-[0-9a-f]{8}"])
    return re.fullmatch(rf"{re.escape(job_id)}-(?:{kinds})", name) is not None


class _Builder:
    def __init__(self, job_id: str, queue_names: dict[str, str]) -> None:
        self.job_id = job_id
        self.queue_names = queue_names
        self.hops: list[list[Span]] = []  # one list per top-level hop: its span first, then its subtree

    def subtree(
        self, forest: _Forest, node_id: str, depth: int, parent_kind: str = "", hop: bool = False
    ) -> list[Span]:
        """The node and every descendant that is not another job's work, depth first, in time order."""
        node = forest.nodes[node_id]
        doc = node.doc
        kind = _kind(doc, parent_kind)
        end = doc.get("end_time", doc["start_time"])
        spans = [
            Span(
                _name(doc, kind),
                kind,
                depth,
                doc["start_time"],
                end,
                doc["id"],
                node.trace_id,
                hop=hop,
                document=doc,
            )
        ]
        for child in sorted(node.children, key=lambda c: forest.nodes[c].doc["start_time"]):
            if forest.owner(child) in (None, self.job_id):
                spans += self.subtree(forest, child, depth + 1, kind)
        return spans

    def own_trace(self, forest: _Forest) -> None:
        """The job's own trace: all of it, but for anything another job's annotation claims."""
        for root in forest.roots:
            if forest.nodes[root].doc.get("inferred"):
                continue  # an inferred node whose call X-Ray does not hold: nothing to hang it under
            if forest.owner(root) in (None, self.job_id):
                self.hops.append(self.subtree(forest, root, 0, hop=True))
                self.queue_waits(forest, root)

    def shared_trace(self, forest: _Forest) -> None:
        """A batch invocation's or a sweep's trace: this job's subtrees under the shared segment, and the
        runs it started (linked under its subtree, or named for it)."""
        for root in forest.roots:
            doc = forest.nodes[root].doc
            jobs = forest.job_roots(root)
            own = [node for node, job in jobs if job == self.job_id]
            if own and forest.owner(root) is None:
                self.shared_segment(forest, root, own, len({job for _, job in jobs}))
            elif forest.owner(root) == self.job_id or _run_of(doc, self.job_id, steps=list(self.queue_names)):
                self.hops.append(self.subtree(forest, root, 0, hop=True))

    def shared_segment(self, forest: _Forest, root: str, own: list[str], jobs: int) -> None:
        doc = forest.nodes[root].doc
        kind = _kind(doc, "")
        header = Span(
            _name(doc, kind),
            kind,
            0,
            doc["start_time"],
            doc.get("end_time", doc["start_time"]),
            doc["id"],
            forest.nodes[root].trace_id,
            shared=True,
            shared_by=jobs,
            document=doc,
        )
        spans = [header]
        for node in sorted(own, key=lambda n: forest.nodes[n].doc["start_time"]):
            spans += self.subtree(forest, node, 1, kind, hop=True)
        self.hops.append(spans)
        self.queue_waits(forest, root)

    def queue_waits(self, forest: _Forest, root: str) -> None:
        """From each of this job's messages being sent to the invocation that received it."""
        invocation = forest.nodes[root].doc
        if invocation.get("origin") != FUNCTION_ORIGIN:
            return
        for node, job in forest.job_roots(root):
            annotations = forest.nodes[node].doc.get("annotations") or {}
            sent = annotations.get("sqsSentAt")
            if job != self.job_id or not isinstance(sent, int | float):
                continue
            name = self.queue_names.get(annotations.get("step", ""), "queue")
            start = min(float(sent), invocation["start_time"])
            wait = Span(
                name,
                "queue wait",
                0,
                start,
                invocation["start_time"],
                f"{node}-queue",
                forest.nodes[node].trace_id,
                hop=True,
            )
            self.hops.append([wait])


def job_spans(
    job_id: str,
    own_trace_id: str | None,
    documents: dict[str, list[dict[str, Any]]],
    queue_names: dict[str, str],
) -> list[Span]:
    """The job's waterfall from the documents of each of its traces (by trace id): hops in time order,
    each followed by its subtree."""
    builder = _Builder(job_id, queue_names)
    for trace_id, docs in documents.items():
        forest = _Forest(trace_id, docs)
        if trace_id == own_trace_id:
            builder.own_trace(forest)
        else:
            builder.shared_trace(forest)
    hops = sorted(builder.hops, key=lambda spans: (spans[0].start, spans[0].kind != "queue wait"))
    return [span for spans in hops for span in spans]
