"""Live updates as server-sent events: the page's fragments, sent again whenever they change.

Each stream polls the table every POLL_SECONDS through the same reads as the pages (one page of the
status index; one GetItem for a job) and sends a fragment only when its HTML changed, so an idle
console costs a few cheap reads a second and the browser sees a job move within about a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from markupsafe import escape
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pixelpipe_console import data, pages
from pixelpipe_console.views import fragment

POLL_SECONDS = 0.5
# A poll never takes more than about a quarter of the emulator's time: moto answers a status-index Query
# by walking every item of the table, so with thousands of jobs one poll can take a good part of a second.
BUSY_FACTOR = 3
STATS_EVERY = 10  # polls between two refreshes of the counts and percentiles when no row changed
PAUSE_SECONDS = POLL_SECONDS * 4  # after a read failed: the page says so and keeps its last content


def _paused(error: Exception) -> dict[str, str]:
    return {"event": "problem", "data": str(escape(f"live updates paused: {error}"))}


def _rows_and_stats(request: Request, last_rows: str | None, stats_due: bool) -> tuple[str, str | None]:
    """The rows; the stats too when due or when the rows changed (a job moved)."""
    target = request.app.state.console.target()
    rows = fragment(request, "_job_rows.html", **pages.jobs_context(target, pages.jobs_filters(request)))
    if stats_due or rows != last_rows:
        return rows, fragment(request, "_job_stats.html", **pages.stats_context(request, target))
    return rows, None


async def jobs(request: Request) -> EventSourceResponse:
    """`rows`: the jobs table body for the page's filters; `stats`: counts and percentiles."""

    async def events() -> AsyncIterator[dict[str, str]]:
        last_rows, last_stats, polls = None, None, 0
        while True:
            started = time.monotonic()
            try:
                rows, stats = await run_in_threadpool(
                    _rows_and_stats, request, last_rows, polls % STATS_EVERY == 0
                )
            except (*data.SERVICE_ERRORS, data.ConsoleError) as error:
                yield _paused(error)
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            if rows != last_rows:
                last_rows = rows
                yield {"event": "rows", "data": rows}
            if stats is not None and stats != last_stats:
                last_stats = stats
                yield {"event": "stats", "data": stats}
            polls += 1
            await asyncio.sleep(max(POLL_SECONDS, BUSY_FACTOR * (time.monotonic() - started)))

    return EventSourceResponse(events(), ping=15)


def _job_summary(request: Request, job_id: str) -> tuple[str, str]:
    target = request.app.state.console.target()
    record = data.get_job(target, job_id)
    version = data.job_version(record)
    return version, fragment(request, "_job_summary.html", target=target, job=record)


async def job(request: Request) -> EventSourceResponse:
    """`summary` whenever the record changes, and `updated` so the sections below reload themselves."""
    job_id = request.path_params["job_id"]
    seen = request.query_params.get("seen")

    async def events() -> AsyncIterator[dict[str, str]]:
        nonlocal seen
        while True:
            try:
                version, summary = await run_in_threadpool(_job_summary, request, job_id)
            except (*data.SERVICE_ERRORS, data.ConsoleError) as error:
                yield _paused(error)
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            if version != seen:
                seen = version
                yield {"event": "summary", "data": summary}
                yield {"event": "updated", "data": version}
            await asyncio.sleep(POLL_SECONDS)

    return EventSourceResponse(events(), ping=15)
