"""Everything the console reads or changes, through the CLI's own modules (one place to adapt them).

Jobs come from the CLI's JobsClient / JobsTable (the status index, never a Scan), traces from
pixelpipe_cli.traces, the state machine and a job's executions from workflow_sources and graph_svg,
retries from pixelpipe_cli.retry (dead letters: data_queues.py, through pixelpipe_cli.dlq). This module
only shapes their answers for pages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from pixelpipe.config import workers
from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.lifecycle import TERMINAL
from pixelpipe_cli import graph_svg, traces, workflow_sources
from pixelpipe_cli import retry as retries
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_console.counts import STATUSES

OperationError = retries.OperationError
# What an AWS or emulator call can raise that the console shows as a message page.
SERVICE_ERRORS = (ClientError, BotoCoreError, OperationError)


class ConsoleError(Exception):
    """Something to show the operator as one readable message (no stack: it is not a bug)."""


def load_target(loader: Callable[[], Target]) -> Target:
    try:
        return loader()
    except SystemExit as error:  # current_target() exits with a message when no stack is running
        raise ConsoleError(str(error)) from None


# ------------------------------------------------------------------------------------------------ jobs


@dataclass
class JobsPage:
    jobs: list[dict[str, Any]]
    next_before: str | None  # createdAt cursor of the next (older) page


def jobs_page(
    target: Target,
    status: str | None = None,
    query: str = "",
    before: str | None = None,
    since: str | None = None,
    size: int = 25,
) -> JobsPage:
    """One page of jobs, newest first, from the status index (keyset pagination on createdAt).

    A job id is looked up directly; any other query matches the object key among the newest 1,000
    jobs of each status (DynamoDB has no key index, and a Scan is never the answer).
    """
    client = JobsClient(target)
    query = query.strip()
    if query and _looks_like_job_id(query):
        job = client.get(query)
        return JobsPage([job] if job and (not status or job["status"] == status) else [], None)
    statuses = [status] if status else list(STATUSES)
    wanted = 1000 if query else size + 1
    found = client.table.by_statuses(statuses, created_before=before, limit=wanted, created_since=since)
    if query:
        needle = query.lower()
        found = [job for job in found if needle in job.get("source", {}).get("key", "").lower()]
    page = found[:size]
    more = len(found) > size
    return JobsPage(page, page[-1]["createdAt"] if more and page else None)


def _looks_like_job_id(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 5 and all(c in "0123456789abcdef-" for c in text.lower())


def duration_ms(job: dict[str, Any]) -> float | None:
    if not job.get("completedAt"):
        return None
    return (parse_iso(job["completedAt"]) - parse_iso(job["createdAt"])).total_seconds() * 1000


@dataclass
class DurationStats:
    count: int
    percentiles: dict[str, float]  # "p50" -> ms
    bins: list[tuple[float, float, int]]  # (from ms, to ms, jobs)


def duration_stats(target: Target, recent: int = 200, bin_count: int = 10) -> DurationStats:
    """p50/p90/p99 (nearest rank) and a histogram of the newest `recent` finished jobs."""
    client = JobsClient(target)
    finished = client.table.by_statuses(TERMINAL, limit=recent)
    values = sorted(d for job in finished[:recent] if (d := duration_ms(job)) is not None)
    if not values:
        return DurationStats(0, {}, [])
    percentiles = {f"p{p}": values[max(0, math.ceil(p / 100 * len(values)) - 1)] for p in (50, 90, 99)}
    top = values[-1] or 1.0
    width = top / bin_count
    counts = [0] * bin_count
    for value in values:
        counts[min(bin_count - 1, int(value / width))] += 1
    bins = [(i * width, (i + 1) * width, n) for i, n in enumerate(counts)]
    return DurationStats(len(values), percentiles, bins)


def get_job(target: Target, job_id: str) -> dict[str, Any]:
    job = JobsClient(target).get(job_id)
    if job is None:
        raise ConsoleError(f"no job {job_id}")
    return job


def job_version(job: dict[str, Any]) -> str:
    """Changes whenever anything shown about the job does (its history only grows)."""
    return f"{job.get('status')}|{job.get('updatedAt')}|{len(job.get('history', []))}"


def thumbnail(target: Target, job: dict[str, Any], index: int) -> tuple[bytes, str]:
    """One of the job's own thumbnails (the record names the key: no arbitrary object is served)."""
    thumbs = job.get("thumbnails", [])
    if not 0 <= index < len(thumbs):
        raise ConsoleError(f"job {job['jobId']} has no thumbnail {index}")
    thumb = thumbs[index]
    answer = target.client("s3").get_object(Bucket=target.thumbnail_bucket, Key=thumb["key"])
    return answer["Body"].read(), answer.get("ContentType") or "image/jpeg"


# ------------------------------------------------------------------------------------------ the graph


@dataclass
class ExecutionView:
    name: str
    arn: str
    status: str
    step: str
    outcome: str
    duration_ms: int | None
    path: list[str]
    console_url: str | None = None


@dataclass
class JobGraph:
    svg: str
    executions: list[ExecutionView] = field(default_factory=list)
    # state -> what each visit received and returned (and the error it met), from the execution history
    visits: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pretty(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except ValueError:
        return text


def job_graph(target: Target, job: dict[str, Any]) -> JobGraph:
    """The machine the target runs, drawn by the CLI's renderer with this job's executions on it (read
    from GetExecutionHistory locally, from the machine's CloudWatch Logs group on AWS)."""
    machine, notes = workflow_sources.machine_graph(target)
    found = workflow_sources.job_executions(target, job)
    svg = graph_svg.job_graph_svg(job, machine, found)
    urls = (
        {}
        if target.is_local
        else {arn: workflow_sources.console_url(target.region, arn) for arn in job.get("executions", [])}
    )
    views = [
        ExecutionView(
            run.name,
            run.arn,
            run.status,
            run.step,
            run.outcome,
            run.duration_ms,
            run.states,
            urls.get(run.arn),
        )
        for run in found.traces
    ]
    visits: dict[str, list[dict[str, str]]] = {}
    for run in found.traces:
        for visit in run.visits:
            visits.setdefault(visit.name, []).append(
                {
                    "execution": run.name,
                    "input": _pretty(visit.input),
                    "output": _pretty(visit.output),
                    "error": " ".join(part for part in (visit.error, visit.cause) if part),
                    "attempts": str(visit.attempts or ""),
                }
            )
    return JobGraph(svg, views, visits, notes + found.notes)


# ------------------------------------------------------------------------------------------ the trace


@dataclass
class WaterfallSpan:
    id: str
    name: str
    kind: str
    depth: int
    offset_ms: float
    duration_ms: float
    left_pct: float
    width_pct: float
    error: bool
    slowest: bool
    shared: bool  # a batched invocation's segment: the batch's time, not this job's
    shared_by: int  # how many jobs that invocation served
    details: str  # annotations, metadata, error causes, AWS/HTTP fields as pretty JSON


@dataclass
class Waterfall:
    trace_ids: list[str]
    total_ms: float
    spans: list[WaterfallSpan]
    console_urls: list[str]
    not_sampled: str | None = None  # the sentence shown instead of an empty waterfall
    problems: list[str] = field(default_factory=list)  # traces X-Ray did not (fully) return


def _details(doc: dict[str, Any]) -> tuple[str, bool]:
    shown = {key: doc[key] for key in ("annotations", "metadata", "aws", "http", "cause") if doc.get(key)}
    flags = [key for key in ("error", "fault", "throttle") if doc.get(key)]
    if flags:
        shown["flags"] = flags
    return (json.dumps(shown, indent=2, sort_keys=True, default=str) if shown else ""), bool(flags)


def _width(offset_ms: float, duration_ms: float, total_ms: float) -> float:
    """A bar's width in percent of the waterfall, at least visible, never past its right edge."""
    if not total_ms:
        return 100.0
    left = min(100.0, 100 * offset_ms / total_ms)
    return max(0.2, min(round(100 * duration_ms / total_ms, 3), round(100 - left, 3)))


def job_waterfall(target: Target, job: dict[str, Any]) -> Waterfall:
    """The job's own spans, as traces.read_job_trace finds them (the reader `pixelpipe trace` uses), with
    bars scaled to the total; the slowest hop is the job's own, never a shared invocation."""
    found = traces.read_job_trace(target, job)
    spans = found.spans
    origin, end = found.extent()
    total = end - origin
    hops = [s for s in spans if s.hop and not s.shared]
    slowest = max(hops, key=lambda s: s.duration_ms) if hops else None
    rows = []
    for span in spans:
        details, failed = _details(span.document)
        offset = (span.start - origin) * 1000
        rows.append(
            WaterfallSpan(
                id=span.segment_id,
                name=span.name,
                kind=span.kind,
                depth=span.depth,
                offset_ms=round(offset, 1),
                duration_ms=round(span.duration_ms, 1),
                left_pct=min(100.0, round(100 * offset / (total * 1000), 3)) if total else 0.0,
                # a shared invocation may run past the job's end: its bar stops at the edge
                width_pct=_width(offset, span.duration_ms, total * 1000),
                error=failed,
                slowest=span is slowest,
                shared=span.shared,
                shared_by=span.shared_by,
                details=details,
            )
        )
    urls = [] if target.is_local else [traces.console_url(target, i) for i in found.trace_ids]
    return Waterfall(found.trace_ids, round(total * 1000, 1), rows, urls, found.not_sampled, found.problems)


def aws_links(target: Target, job: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, url) into the AWS consoles for this job; none on the local stack."""
    if target.is_local:
        return []
    region = target.region
    links = [
        (f"execution {arn.rsplit(':', 1)[-1]}", workflow_sources.console_url(region, arn))
        for arn in job.get("executions", [])
    ]
    if job.get("traceId"):
        links.append((f"trace {job['traceId']}", traces.console_url(target, job["traceId"])))
    base = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
    groups = [
        f"/aws/lambda/{f}" for f in (target.dispatch_function, *(w.function for w in workers().values()))
    ]
    if target.state_machine_log_group:
        groups.insert(0, target.state_machine_log_group)
    for group in groups:
        links.append((f"log group {group}", base + quote(quote(group, safe=""), safe="").replace("%", "$")))
    return links


# ------------------------------------------------------------------------------------------- actions


def retry(target: Target, job_id: str, step: str | None, force: bool) -> str:
    result = retries.retry_job(target, job_id, [step] if step else None, force)
    steps = ", ".join(result.steps)
    return f"re-running {steps} (was {result.previous_status}); SNS message {result.message_id}"


def retry_failed(target: Target, since: str | None) -> retries.BulkRetry:
    return retries.retry_failed(target, since)


def parse_since(value: str) -> str | None:
    """A time from a form (ISO 8601, or a datetime-local value without zone: taken as UTC)."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ConsoleError(f"not an ISO 8601 time: {value!r}") from error
    return format_iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def hour_ago() -> str:
    return format_iso(datetime.now(UTC) - timedelta(hours=1))
