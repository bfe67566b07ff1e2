"""`pixelpipe trace` and `pixelpipe slow`: traced debugging of slow jobs, locally or on AWS."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table
from rich.text import Text

from pixelpipe_cli import render
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import current_target
from pixelpipe_cli.traces import job_trace, slow_jobs

_BAR_WIDTH = 40


def _shared_by(jobs: int) -> str:
    return f"shared by {jobs} jobs" if jobs > 1 else "batch of 1"


def _unreadable(error: Exception) -> typer.Exit:
    """An AWS error as one line on stderr (the call and its reason), not a traceback."""
    render.error_console.print(render.message(render.literal("traces unreadable: ", style="red"), str(error)))
    return typer.Exit(1)


def waterfall(trace: dict[str, Any]) -> Table:
    """One row per span; a batched invocation's segment is dimmed and says how many jobs shared it."""
    table = Table(
        title=render.literal(f"Trace of job {trace['jobId']} — {trace['totalMs']:.0f} ms end to end")
    )
    for column, justify in (("hop", "left"), ("kind", "left"), ("offset ms", "right"), ("ms", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("", no_wrap=True, overflow="crop")  # the bar gives way first on a narrow terminal
    total = trace["totalMs"] or 1.0
    for span in trace["spans"]:
        left = min(_BAR_WIDTH - 1, int(span["offsetMs"] / total * _BAR_WIDTH))
        # a shared invocation may run past the job's end: its bar stops at the edge
        width = max(1, min(_BAR_WIDTH - left, int(span["durationMs"] / total * _BAR_WIDTH)))
        shared = span.get("shared", False)
        colour = "grey50" if shared else "cyan" if span["depth"] == 0 else "magenta"
        kind = f"{span['kind']}, {_shared_by(span.get('sharedBy', 0))}" if shared else span["kind"]
        table.add_row(
            render.literal("  " * span["depth"] + span["name"], style="dim" if shared else ""),
            render.literal(kind),
            f"{span['offsetMs']:.1f}",
            f"{span['durationMs']:.1f}",
            Text.assemble(" " * left, ("░" if shared else "█") * width, style=colour),
        )
    return table


def trace(job_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a job's own hops as a waterfall: dispatch, queue waits, its share of each batched worker
    invocation, model calls, reconcile runs — or say plainly that X-Ray did not sample it."""
    client = JobsClient(current_target())
    job = client.get(job_id)
    if job is None:
        raise typer.BadParameter(f"no job {job_id}")
    try:
        result = job_trace(client.target, job)
    except (ClientError, BotoCoreError) as error:  # e.g. a role without xray:GetTraceSummaries
        raise _unreadable(error) from None
    if as_json:
        render.print_json(result)
        return
    for problem in result["problems"]:
        render.error_console.print(render.message(problem))
    if result["notSampled"]:
        render.console.print(render.message(result["notSampled"]))
        return
    render.console.print(waterfall(result))
    if any(span.get("shared") for span in result["spans"]):
        render.console.print(
            "Dimmed rows are batched worker invocations shared with other jobs: their time is the whole "
            "batch's, not this job's (its own share is the job subsegment under each)."
        )
    for url in result["consoleUrls"]:
        render.console.print(render.message(f"X-Ray console: {url}"))


def slow(
    top: Annotated[int, typer.Option(help="How many jobs.")] = 5,
    since: Annotated[str | None, typer.Option(help="Only jobs created at or after this ISO time.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The slowest finished jobs and the slowest hop of each."""
    try:
        rows = slow_jobs(JobsClient(current_target()), top, since)
    except (ClientError, BotoCoreError) as error:
        raise _unreadable(error) from None
    if as_json:
        render.print_json(rows)
        return
    table = Table(title=render.literal(f"Slowest {len(rows)} jobs"))
    for column in ("job", "file", "status", "total ms", "slowest hop", "hop ms"):
        table.add_column(column)
    for row in rows:
        hop = row["slowestHop"] or {"name": "not sampled" if row.get("notSampled") else "—", "durationMs": 0}
        table.add_row(
            render.literal(row["jobId"][:8]),
            render.literal(row["key"].split("/", 1)[-1]),
            render.status_text(row["status"]),
            f"{row['durationMs']:.0f}",
            render.literal(hop["name"]),
            f"{hop['durationMs']:.0f}",
        )
    render.console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(trace)
    app.command()(slow)
