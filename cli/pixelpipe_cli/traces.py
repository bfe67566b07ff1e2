"""Reading a job's X-Ray trace back as a waterfall of hops, and finding the slowest jobs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pixelpipe.logic.clock import parse_iso
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target

# Top-level segments by origin: what kind of hop each one is.
_HOP_KINDS = {
    "AWS::Lambda::Function": "function",
    "AWS::SQS::Queue": "queue wait",
    "AWS::StepFunctions::StateMachine": "state machine",
}


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    depth: int
    start: float
    end: float
    segment_id: str

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000


def console_url(target: Target, trace_id: str) -> str:
    return f"https://{target.region}.console.aws.amazon.com/cloudwatch/home?region={target.region}#xray:traces/{trace_id}"


def trace_ids_for(target: Target, job: dict[str, Any]) -> list[str]:
    """The job's own trace; on AWS also the traces linked to it (SQS → Lambda starts linked traces)."""
    ids = [job["traceId"]] if job.get("traceId") else []
    if target.is_local:
        return ids  # the local stack keeps every hop in the job's trace; moto has no filter expressions
    created, finished = parse_iso(job["createdAt"]), parse_iso(job.get("completedAt") or job["updatedAt"])
    pages = (
        target.client("xray")
        .get_paginator("get_trace_summaries")
        .paginate(
            StartTime=created,
            EndTime=finished,
            FilterExpression=f'annotation.jobId = "{job["jobId"]}"',
        )
    )
    return ids + [s["Id"] for page in pages for s in page["TraceSummaries"] if s["Id"] not in ids]


def _documents(target: Target, trace_ids: list[str]) -> list[dict[str, Any]]:
    if not trace_ids:
        return []
    response = target.client("xray").batch_get_traces(TraceIds=trace_ids)
    return [json.loads(segment["Document"]) for trace in response["Traces"] for segment in trace["Segments"]]


def spans_of(documents: list[dict[str, Any]]) -> list[Span]:
    """Flatten segments, streamed subsegments and nested subsegments into one tree, in time order."""
    nodes: dict[str, dict[str, Any]] = {}
    children: dict[str | None, list[str]] = {}

    def add(doc: dict[str, Any], parent: str | None) -> None:
        nodes[doc["id"]] = doc
        children.setdefault(parent, []).append(doc["id"])
        for sub in doc.get("subsegments", []):
            add(sub, doc["id"])

    for doc in documents:
        add(doc, doc.get("parent_id") if doc.get("type") == "subsegment" else None)
    orphans = [node for node in children if node is not None and node not in nodes]
    spans: list[Span] = []

    def walk(node_id: str, depth: int, parent_kind: str = "") -> None:
        doc = nodes[node_id]
        kind = _HOP_KINDS.get(doc.get("origin", ""), doc.get("namespace", "") or "code")
        if parent_kind == "state machine":
            kind = "state"
        operation = (doc.get("aws") or {}).get("operation")  # AWS calls: "s3 GetObject", not just "s3"
        name = f"{doc['name']} {operation}" if operation and kind == "aws" else doc["name"]
        end = doc.get("end_time", doc["start_time"])
        spans.append(Span(name, kind, depth, doc["start_time"], end, node_id))
        for child in sorted(children.get(node_id, []), key=lambda c: nodes[c]["start_time"]):
            walk(child, depth + 1, kind)

    roots = children.get(None, []) + [c for orphan in orphans for c in children[orphan]]
    for root in sorted(roots, key=lambda r: nodes[r]["start_time"]):
        walk(root, 0)
    return spans


def job_trace(target: Target, job: dict[str, Any]) -> dict[str, Any]:
    """The waterfall of a job: every span with its offset from the first one and its duration."""
    ids = trace_ids_for(target, job)
    spans = spans_of(_documents(target, ids))
    origin = min((s.start for s in spans), default=0.0)
    return {
        "jobId": job["jobId"],
        "traceIds": ids,
        "consoleUrls": [] if target.is_local else [console_url(target, i) for i in ids],
        "totalMs": round((max((s.end for s in spans), default=origin) - origin) * 1000, 1),
        "spans": [
            {
                **{k: v for k, v in asdict(span).items() if k not in ("start", "end")},
                "offsetMs": round((span.start - origin) * 1000, 1),
                "durationMs": round(span.duration_ms, 1),
            }
            for span in spans
        ],
    }


def slowest_hop(trace: dict[str, Any]) -> dict[str, Any] | None:
    hops = [s for s in trace["spans"] if s["depth"] == 0]
    return max(hops, key=lambda s: s["durationMs"], default=None)


def slow_jobs(client: JobsClient, top: int, since: str | None) -> list[dict[str, Any]]:
    """The `top` slowest finished jobs since `since`, by creation → completion, with their slowest hop."""
    finished = [
        job
        for status in ("COMPLETE", "FAILED")
        for job in client.table.by_status(status, limit=1000)
        if job.get("completedAt") and (since is None or job["createdAt"] >= since)
    ]

    def duration_ms(job: dict[str, Any]) -> float:
        return (parse_iso(job["completedAt"]) - parse_iso(job["createdAt"])).total_seconds() * 1000

    rows = []
    for job in sorted(finished, key=duration_ms, reverse=True)[:top]:
        trace = job_trace(client.target, job)
        rows.append(
            {
                "jobId": job["jobId"],
                "key": job["source"]["key"],
                "status": job["status"],
                "durationMs": round(duration_ms(job), 1),
                "slowestHop": slowest_hop(trace),
                "consoleUrls": trace["consoleUrls"],
            }
        )
    return rows
