"""Reading a job's X-Ray trace back as a waterfall of hops, and finding the slowest jobs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
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


# BatchGetTraces takes at most this many trace ids per call (X-Ray API reference).
BATCH_GET_TRACES_MAX_IDS = 5
# Around the job's record times: the hops' traces start a little before the record changes they make.
_WINDOW_MARGIN = timedelta(minutes=1)


def trace_ids_for(target: Target, job: dict[str, Any]) -> list[str]:
    """The job's own trace; on AWS also every trace annotated with its job id.

    SQS → Lambda starts a NEW trace on AWS, only linked to the producer's, so a worker's hop is not in
    the dispatch trace the record keeps: GetTraceSummaries with `annotation.jobId` over the job's time
    window finds them (every function annotates its segment with the job id, pixelpipe.tracing). The
    local stack keeps every hop in the job's trace, and moto answers a FilterExpression with a 500.
    """
    ids = [job["traceId"]] if job.get("traceId") else []
    if target.is_local:
        return ids
    start, end = _window(job)
    pages = (
        target.client("xray")
        .get_paginator("get_trace_summaries")
        .paginate(StartTime=start, EndTime=end, FilterExpression=f'annotation.jobId = "{job["jobId"]}"')
    )
    found = [summary["Id"] for page in pages for summary in page.get("TraceSummaries", [])]
    return list(dict.fromkeys(ids + found))


def _window(job: dict[str, Any]) -> tuple[datetime, datetime]:
    """From just before the job was created to just after its last change (now, at the latest)."""
    last = max(job.get(key) or job["createdAt"] for key in ("updatedAt", "completedAt"))
    end = min(parse_iso(last) + _WINDOW_MARGIN, datetime.now(UTC))
    return parse_iso(job["createdAt"]) - _WINDOW_MARGIN, end


def segment_documents(target: Target, trace_ids: list[str]) -> list[dict[str, Any]]:
    """Every segment document of the traces: BatchGetTraces in groups of 5, each followed to its last page."""
    if not trace_ids:
        return []
    xray = target.client("xray")
    documents = []
    for start in range(0, len(trace_ids), BATCH_GET_TRACES_MAX_IDS):
        request: dict[str, Any] = {"TraceIds": trace_ids[start : start + BATCH_GET_TRACES_MAX_IDS]}
        while True:
            response = xray.batch_get_traces(**request)
            documents += [
                json.loads(segment["Document"])
                for trace in response["Traces"]
                for segment in trace["Segments"]
            ]
            if not response.get("NextToken"):
                break
            request["NextToken"] = response["NextToken"]
    return documents


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
    spans = spans_of(segment_documents(target, ids))
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
