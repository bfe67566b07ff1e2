"""Finding a job's X-Ray traces and reading their documents, the same way on AWS and on the local stack.

A job's work is spread over several traces: its own (dispatch and reconcile runs; the record's `traceId`),
one per batched worker invocation it was part of (SQS → Lambda starts a new trace per batch, only linked to
the messages' traces) and one per sweep that timed it out. The worker and the sweeper annotate each job's
share with `jobId`, so GetTraceSummaries with `annotation.jobId = "…"` finds them — over short windows
around the moments the record says something happened, never over the job's whole life: a job retried two
days later is searched in two windows of a few minutes, not in two days.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pixelpipe.config import settings
from pixelpipe.logic.clock import parse_iso

# BatchGetTraces takes at most this many trace ids per call (X-Ray API reference).
BATCH_GET_TRACES_MAX_IDS = 5
# The widest StartTime → EndTime one GetTraceSummaries call is given. X-Ray bounds a call's time range; the
# API reference gives no figure, the developer guide's console time ranges "can be up to 6 hours long"
# (xray-console-deeplinks.html), so 6 h is within any bound it enforces (the local stack refuses > 24 h).
# Windows here are minutes; only a job changing for hours on end merges into one that is split.
MAX_SEARCH_WINDOW = timedelta(hours=6)
# After a record change: clocks of different hosts disagree by a little.
_AFTER = timedelta(minutes=1)
# BatchGetTraces may answer some ids as UnprocessedTraceIds: asked again this many times, then reported.
UNPROCESSED_RETRIES = 3
_RETRY_BASE_SECONDS = 0.2

sleep: Callable[[float], None] = time.sleep  # a test replaces it


def _before() -> timedelta:
    """Before a record change: the invocation that made it began at most its function's timeout earlier
    (a batch's tenth record is claimed late in the invocation; a sweep fails jobs as it goes)."""
    config = settings()
    longest = max(f.timeout_seconds for f in config.functions.values())
    return timedelta(seconds=longest) + _AFTER


def history_times(job: dict[str, Any]) -> list[datetime]:
    """Every moment the record says something happened to the job."""
    values = [job.get(key) for key in ("createdAt", "dispatchedAt", "updatedAt", "completedAt")]
    for step in (job.get("steps") or {}).values():
        values += [step.get("startedAt"), step.get("finishedAt")]
    values += [entry.get("at") for entry in job.get("history") or []]
    moments = set()
    for value in values:
        try:
            moments.add(parse_iso(value))
        except (TypeError, ValueError):  # absent, or not the record's format: no moment to search around
            continue
    return sorted(moments)


def search_windows(job: dict[str, Any], now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Short windows around the job's history entries, merged where they overlap, each at most
    MAX_SEARCH_WINDOW long and none reaching past now."""
    now = now or datetime.now(UTC)
    before = _before()
    merged: list[list[datetime]] = []
    for moment in history_times(job):
        start, end = moment - before, min(moment + _AFTER, now)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    windows = []
    for start, end in merged:
        while end - start > MAX_SEARCH_WINDOW:
            windows.append((start, start + MAX_SEARCH_WINDOW))
            start += MAX_SEARCH_WINDOW
        windows.append((start, end))
    return windows


def annotated_trace_ids(xray: Any, job_id: str, windows: list[tuple[datetime, datetime]]) -> list[str]:
    """Every trace with a segment or subsegment annotated with the job's id, in each window, every page."""
    found: list[str] = []
    expression = f"annotation.jobId = {json.dumps(job_id)}"
    for start, end in windows:
        request: dict[str, Any] = {"StartTime": start, "EndTime": end, "FilterExpression": expression}
        while True:
            page = xray.get_trace_summaries(**request)
            found += [summary["Id"] for summary in page.get("TraceSummaries", [])]
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return list(dict.fromkeys(found))


@dataclass
class FetchedTraces:
    """Segment documents by trace id, and the ids X-Ray did not (fully) give back."""

    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unprocessed: list[str] = field(default_factory=list)  # still unprocessed after the retries
    limit_exceeded: list[str] = field(default_factory=list)  # over X-Ray's trace size: documents missing


def fetch_traces(xray: Any, trace_ids: Iterable[str]) -> FetchedTraces:
    """BatchGetTraces five ids at a time, each group followed to its last page; ids answered as
    UnprocessedTraceIds are asked again (UNPROCESSED_RETRIES times, with a short backoff), then reported."""
    fetched = FetchedTraces()
    pending = list(dict.fromkeys(trace_ids))
    for attempt in range(UNPROCESSED_RETRIES + 1):
        if attempt:
            sleep(_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        unprocessed: list[str] = []
        for start in range(0, len(pending), BATCH_GET_TRACES_MAX_IDS):
            unprocessed += _batch(xray, pending[start : start + BATCH_GET_TRACES_MAX_IDS], fetched)
        pending = [i for i in dict.fromkeys(unprocessed) if i not in fetched.documents]
        if not pending:
            break
    fetched.unprocessed = pending
    return fetched


def _batch(xray: Any, ids: list[str], fetched: FetchedTraces) -> list[str]:
    """One BatchGetTraces group, every page; returns the ids it left unprocessed."""
    request: dict[str, Any] = {"TraceIds": ids}
    unprocessed: list[str] = []
    while True:
        response = xray.batch_get_traces(**request)
        for trace in response.get("Traces", []):
            documents = fetched.documents.setdefault(trace["Id"], [])
            documents += [json.loads(segment["Document"]) for segment in trace.get("Segments", [])]
            if trace.get("LimitExceeded") and trace["Id"] not in fetched.limit_exceeded:
                fetched.limit_exceeded.append(trace["Id"])
        unprocessed += response.get("UnprocessedTraceIds", [])
        if not response.get("NextToken"):
            return unprocessed
        request["NextToken"] = response["NextToken"]
