"""How records look in a terminal (rich tables) and as JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
error_console = Console(stderr=True)  # refusals and progress bars, so stdout stays clean

_STATUS_STYLE = {"COMPLETE": "green", "FAILED": "red", "PENDING": "yellow"}


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def status_text(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def top_labels(job: dict[str, Any], count: int = 3) -> str:
    return ", ".join(f"{label['name']} {label['confidence']:.0f}%" for label in job.get("labels", [])[:count])


def jobs_table(jobs: list[dict[str, Any]], title: str = "Jobs") -> Table:
    table = Table(title=title)
    for column in ("job", "file", "status", "thumbnails", "labels / reason"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        thumbs = " ".join(f"{t['width']}x{t['height']}" for t in job.get("thumbnails", []))
        detail = job.get("failureReason") or top_labels(job)
        table.add_row(
            job["jobId"][:8],
            job["source"]["key"].split("/", 1)[-1],
            status_text(job["status"]),
            thumbs,
            detail,
        )
    return table


def job_panel(job: dict[str, Any]) -> list[Any]:
    summary = Table.grid(padding=(0, 2))
    summary.add_row("job", job["jobId"])
    summary.add_row("status", status_text(job["status"]))
    source = job["source"]
    summary.add_row(
        "source",
        f"s3://{source['bucket']}/{source['key']} ({source['size']} bytes, {source.get('contentType')})",
    )
    summary.add_row("created", job["createdAt"])
    summary.add_row("finished", job.get("completedAt") or "—")
    if job.get("failureReason"):
        summary.add_row("reason", f"[red]{job['failureReason']}[/]")
    if job.get("traceId"):
        summary.add_row("trace", job["traceId"])
    steps = Table(title="Steps")
    for column in ("step", "status", "attempts", "started", "duration ms", "error"):
        steps.add_column(column, overflow="fold")
    for name, step in job.get("steps", {}).items():
        steps.add_row(
            name,
            status_text(step.get("status", "")),
            str(step.get("attempts", 0)),
            step.get("startedAt") or "",
            str(step.get("durationMs") or ""),
            step.get("error") or "",
        )
    parts: list[Any] = [summary, steps]
    if job.get("thumbnails"):
        thumbs = Table(title="Thumbnails")
        for column in ("size", "width x height", "bytes", "key"):
            thumbs.add_column(column)
        for t in job["thumbnails"]:
            thumbs.add_row(str(t["size"]), f"{t['width']}x{t['height']}", str(t["bytes"]), t["key"])
        parts.append(thumbs)
    if job.get("labels"):
        labels = Table(title="Labels")
        labels.add_column("name")
        labels.add_column("confidence %", justify="right")
        for label in job["labels"]:
            labels.add_row(label["name"], f"{label['confidence']:.1f}")
        parts.append(labels)
    return parts


def history_table(job: dict[str, Any]) -> Table:
    table = Table(title="History")
    for column in ("at", "step", "event", "detail"):
        table.add_column(column, overflow="fold")
    for entry in job.get("history", []):
        table.add_row(entry["at"], entry["step"], entry["event"], entry.get("detail", ""))
    return table


def execution_events_table(trace: Any) -> Table:
    """One reconcile execution's events (a graph.ExecutionTrace): offset, event type, state."""
    table = Table(title=f"Execution {trace.name} — {trace.step} {trace.outcome}, {trace.status}")
    table.add_column("+ms", justify="right")
    table.add_column("event")
    table.add_column("state", overflow="fold")
    for event in trace.events:
        table.add_row(str(event.offset_ms), event.type, event.state)
    return table


def dlq_table(summaries: list[Any]) -> Table:
    """Per DLQ (operations.DlqSummary): counts, then a sample of its messages.

    A worker DLQ's sample names jobs; the dispatch failures queue's names uploads (no job exists yet).
    """
    table = Table(title="Dead-letter queues")
    for column in ("step", "dlq", "messages", "in flight", "sample: job or upload (receive count)"):
        table.add_column(column, overflow="fold")
    for summary in summaries:
        sample = "\n".join(f"{d.job_id or d.upload} ({d.receive_count})" for d in summary.samples)
        table.add_row(
            summary.step,
            summary.dlq,
            f"[red]{summary.visible}[/]" if summary.visible else "0",
            str(summary.in_flight),
            sample or "—",
        )
    return table


def redrive_table(reports: list[Any]) -> Table:
    """What a DLQ redrive did per worker (operations.RedriveReport)."""
    table = Table(title="DLQ redrive")
    for column in ("step", "found", "moved", "not moved", "jobs reopened", "how"):
        table.add_column(column, overflow="fold")
    for report in reports:
        how = report.mode + (f" {report.task_handle}" if report.task_handle else "")
        table.add_row(
            report.step,
            str(report.found),
            str(report.moved),
            f"[red]{report.not_moved}[/]" if report.not_moved else "0",
            "\n".join(report.reopened) or "—",
            how,
        )
    return table
