"""Reading a job's X-Ray traces back as a waterfall of its own hops, and finding the slowest jobs.

The one reader behind `pixelpipe trace`, `pixelpipe slow`, `pixelpipe cost` and the console's trace view,
the same on AWS and on the local stack: trace_search finds and reads the traces, trace_tree keeps the
job's own work (a batched invocation's segment shown as shared, not as the job's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pixelpipe.config import settings, workers
from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.lifecycle import TERMINAL
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_cli.trace_search import annotated_trace_ids, fetch_traces, search_windows
from pixelpipe_cli.trace_tree import Span, job_spans

__all__ = ["JobTrace", "Span", "console_url", "job_trace", "read_job_trace", "slow_jobs", "slowest_hop"]

# X-Ray keeps a trace this long (X-Ray quotas); an older job's traces are gone.
TRACE_RETENTION_DAYS = 30


def console_url(target: Target, trace_id: str) -> str:
    return f"https://{target.region}.console.aws.amazon.com/cloudwatch/home?region={target.region}#xray:traces/{trace_id}"


def sampling_note() -> str:
    """Why a job can have no trace. Its trace starts with dispatch-tasks, which Lambda samples at its own
    fixed rate (Lambda developer guide: "This sampling rate cannot be configured for Lambda functions");
    pipeline.json's `xray_sampling` is the rule for the reconcile runs."""
    note = (
        "Lambda traces the first request each second and 5% of the rest of each function, a rate no "
        "sampling rule changes"
    )
    rule = settings().xray_sampling
    note += (
        f"; the reconcile runs follow the xray_sampling rule in pipeline.json ({rule.reservoir_per_second} "
        f"a second, then {rule.fixed_rate:.0%})"
    )
    return f"{note}; X-Ray keeps a trace for {TRACE_RETENTION_DAYS} days"


@dataclass
class JobTrace:
    """Everything the reader found for one job."""

    job_id: str
    trace_ids: list[str]
    spans: list[Span]
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    unprocessed: list[str] = field(default_factory=list)  # X-Ray did not return these, even when asked again
    limit_exceeded: list[str] = field(default_factory=list)  # over X-Ray's trace size: some documents missing
    own_trace_id: str | None = None  # the record's traceId: dispatch and the reconcile runs

    @property
    def sampled(self) -> bool:
        return bool(self.spans) or bool(self.unprocessed)

    @property
    def not_sampled(self) -> str | None:
        """The sentence to show instead of an empty waterfall."""
        if self.sampled:
            return None
        return f"This job was not sampled: X-Ray holds no trace of it ({sampling_note()})."

    def extent(self) -> tuple[float, float]:
        """(first start, last end) of the job's own spans: a shared invocation running on with other
        jobs' work after this job's share ended does not lengthen the job."""
        own = [s for s in self.spans if not s.shared] or self.spans
        origin = min((s.start for s in self.spans), default=0.0)
        return origin, max((s.end for s in own), default=origin)

    @property
    def problems(self) -> list[str]:
        notes = []
        if self.spans and self.own_trace_id and self.own_trace_id not in self.trace_ids + self.unprocessed:
            notes.append(
                f"The job's own trace {self.own_trace_id} (dispatch, reconcile runs) was not sampled: "
                "only its share of worker invocations sampled on their own is shown"
            )
        if self.unprocessed:
            notes.append(
                f"X-Ray did not return these traces, even when asked again: {', '.join(self.unprocessed)}"
            )
        if self.limit_exceeded:
            notes.append(
                "These traces are over X-Ray's size limit and miss some segments: "
                + ", ".join(self.limit_exceeded)
            )
        return notes


def read_job_trace(target: Target, job: dict[str, Any]) -> JobTrace:
    """The job's own trace plus every trace annotated with its id, searched over short windows around its
    history, read five ids a call, reduced to the job's own work."""
    xray = target.client("xray")
    windows = search_windows(job)
    own = job.get("traceId")
    ids = list(dict.fromkeys(([own] if own else []) + annotated_trace_ids(xray, job["jobId"], windows)))
    fetched = fetch_traces(xray, ids)
    queues = {step: worker.queue for step, worker in workers().items()}
    spans = job_spans(job["jobId"], own, fetched.documents, queues)
    found = [i for i in ids if fetched.documents.get(i)]
    return JobTrace(job["jobId"], found, spans, windows, fetched.unprocessed, fetched.limit_exceeded, own)


def job_trace(target: Target, job: dict[str, Any]) -> dict[str, Any]:
    """The waterfall of a job as data (`pixelpipe trace --json`): every span with its offset from the first
    one and its duration; a shared span says how many jobs it served and is not the job's own time."""
    found = read_job_trace(target, job)
    spans = found.spans
    origin, end = found.extent()
    return {
        "jobId": job["jobId"],
        "traceIds": found.trace_ids,
        "consoleUrls": [] if target.is_local else [console_url(target, i) for i in found.trace_ids],
        "sampled": found.sampled,
        "notSampled": found.not_sampled,
        "unprocessedTraceIds": found.unprocessed,
        "limitExceededTraceIds": found.limit_exceeded,
        "problems": found.problems,
        "searchWindows": [[format_iso(start), format_iso(end)] for start, end in found.windows],
        "totalMs": round((end - origin) * 1000, 1),  # the job's own end to end; a shared span may run past
        "spans": [
            {
                "name": span.name,
                "kind": span.kind,
                "depth": span.depth,
                "segmentId": span.segment_id,
                "traceId": span.trace_id,
                "offsetMs": round((span.start - origin) * 1000, 1),
                "durationMs": round(span.duration_ms, 1),
                "hop": span.hop,
                "shared": span.shared,
                **({"sharedBy": span.shared_by} if span.shared else {}),
            }
            for span in spans
        ],
    }


def slowest_hop(trace: dict[str, Any]) -> dict[str, Any] | None:
    """The job's own slowest hop: never a shared invocation, whose time is the whole batch's."""
    hops = [s for s in trace["spans"] if s.get("hop") and not s.get("shared")]
    return max(hops, key=lambda s: s["durationMs"], default=None)


def slow_jobs(client: JobsClient, top: int, since: str | None) -> list[dict[str, Any]]:
    """The `top` slowest finished jobs since `since`, by creation → completion, with their slowest hop."""
    finished = [
        job
        for job in client.table.by_statuses(TERMINAL, limit=1000)
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
                "notSampled": trace["notSampled"],
                "consoleUrls": trace["consoleUrls"],
            }
        )
    return rows
