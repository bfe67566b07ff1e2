"""How records look in a terminal (rich tables) and as JSON.

Everything a record holds is untrusted: anyone who can upload chooses the S3 key (and so the file name),
and labels, failure reasons and step details carry text from images and exceptions. rich reads markup
(`[link=…]`, `[/]`) in every plain string it prints, table cells and titles included, and passes terminal
control sequences straight through. So record values reach rich only as `Text` built by `literal()`
(markup, emoji codes and control characters inert), and messages mixing our words with such values are
built by `message()`. Markup stays for our own constant strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli import step_results

console = Console()
error_console = Console(stderr=True)  # refusals and progress bars, so stdout stays clean

_STATUS_STYLE = {JobStatus.COMPLETE: "green", JobStatus.FAILED: "red", JobStatus.PENDING: "yellow"}
# C0/C1 control characters but newline and tab (ESC opens colour, cursor and OSC 8 hyperlink sequences;
# CR and backspace overwrite what was printed) and the bidirectional overrides that reorder a line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(character: re.Match[str]) -> str:
    code = ord(character.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def literal(value: Any, style: str = "") -> Text:
    """Untrusted text exactly as it is: no markup, no emoji codes, control characters shown as \\xNN."""
    return Text(_UNPRINTABLE.sub(_visible, str(value)), style=style)


def message(*parts: str | Text) -> Text:
    """A line for the console: plain strings are taken literally (they may hold user values), `Text`
    parts keep their style."""
    return Text.assemble(*(part if isinstance(part, Text) else literal(part) for part in parts))


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def status_text(status: str) -> Text:
    return literal(status, style=_STATUS_STYLE.get(status, "white"))


def top_labels(job: dict[str, Any], count: int = 3) -> str:
    return ", ".join(f"{label['name']} {label['confidence']:.0f}%" for label in job.get("labels", [])[:count])


def jobs_table(jobs: list[dict[str, Any]], title: str = "Jobs") -> Table:
    table = Table(title=literal(title))
    for column in ("job", "file", "status", "thumbnails", "labels / reason"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        thumbs = " ".join(f"{t['width']}x{t['height']}" for t in job.get("thumbnails", []))
        detail = job.get("failureReason") or top_labels(job)
        table.add_row(
            literal(job["jobId"][:8]),
            literal(job["source"]["key"].split("/", 1)[-1]),
            status_text(job["status"]),
            literal(thumbs),
            literal(detail),
        )
    return table


def job_panel(job: dict[str, Any]) -> list[Any]:
    summary = Table.grid(padding=(0, 2))
    summary.add_row("job", literal(job["jobId"]))
    summary.add_row("status", status_text(job["status"]))
    source = job["source"]
    summary.add_row(
        "source",
        literal(
            f"s3://{source['bucket']}/{source['key']} ({source['size']} bytes, {source.get('contentType')})"
        ),
    )
    summary.add_row("created", literal(job["createdAt"]))
    summary.add_row("finished", literal(job.get("completedAt") or "—"))
    if job.get("failureReason"):
        summary.add_row("reason", literal(job["failureReason"], style="red"))
    if job.get("traceId"):
        summary.add_row("trace", literal(job["traceId"]))
    steps = Table(title="Steps")
    for column in ("step", "status", "attempts", "started", "duration ms", "error"):
        steps.add_column(column, overflow="fold")
    for name, step in job.get("steps", {}).items():
        steps.add_row(
            literal(name),
            status_text(step.get("status", "")),
            literal(step.get("attempts", 0)),
            literal(step.get("startedAt") or ""),
            literal(step.get("durationMs") or ""),
            literal(step.get("error") or ""),
        )
    parts: list[Any] = [summary, steps]
    if job.get("thumbnails"):
        thumbs = Table(title="Thumbnails")
        for column in ("size", "width x height", "bytes", "key"):
            thumbs.add_column(column)
        for t in job["thumbnails"]:
            thumbs.add_row(
                literal(t["size"]),
                literal(f"{t['width']}x{t['height']}"),
                literal(t["bytes"]),
                literal(t["key"]),
            )
        parts.append(thumbs)
    if job.get("labels"):
        labels = Table(title="Labels")
        labels.add_column("name")
        labels.add_column("confidence %", justify="right")
        for label in job["labels"]:
            labels.add_row(literal(label["name"]), f"{label['confidence']:.1f}")
        parts.append(labels)
    for result in step_results.other_results(job):  # any other step's result, as its values
        values = Table(title=literal(f"{result.step} ({result.field})"))
        values.add_column("field")
        values.add_column("value", overflow="fold")
        for key, value in result.rows:
            values.add_row(literal(key), literal(value))
        parts.append(values)
    return parts


def history_table(job: dict[str, Any]) -> Table:
    table = Table(title="History")
    for column in ("at", "step", "event", "detail"):
        table.add_column(column, overflow="fold")
    for entry in job.get("history", []):
        table.add_row(*(literal(entry.get(field, "")) for field in ("at", "step", "event", "detail")))
    return table


def execution_events_table(trace: Any) -> Table:
    """One reconcile execution's events (an execution_history.ExecutionTrace): offset, event type, state."""
    table = Table(title=literal(f"Execution {trace.name} — {trace.step} {trace.outcome}, {trace.status}"))
    table.add_column("+ms", justify="right")
    table.add_column("event")
    table.add_column("state", overflow="fold")
    for event in trace.events:
        table.add_row(str(event.offset_ms), literal(event.type), literal(event.state))
    return table


def dlq_table(summaries: list[Any]) -> Table:
    """Per DLQ (dlq.DlqSummary): counts, then a sample of its messages.

    A worker DLQ's sample names jobs; the dispatch failures queue's names uploads (no job exists yet).
    """
    table = Table(title="Dead-letter queues")
    for column in ("step", "dlq", "messages", "in flight", "sample: job or upload (receive count)"):
        table.add_column(column, overflow="fold")
    for summary in summaries:
        sample = "\n".join(f"{d.job_id or d.upload} ({d.receive_count})" for d in summary.samples)
        table.add_row(
            literal(summary.step),
            literal(summary.dlq),
            literal(summary.visible, style="red") if summary.visible else "0",
            literal(summary.in_flight),
            literal(sample or "—"),
        )
    return table


def redrive_table(reports: list[Any]) -> Table:
    """What a DLQ redrive did per worker (redrivers.RedriveReport)."""
    table = Table(title="DLQ redrive")
    for column in ("step", "found", "moved", "not moved", "jobs reopened", "how"):
        table.add_column(column, overflow="fold")
    for report in reports:
        how = report.mode + (f" {report.task_status}" if report.task_status else "")
        how += f": {report.failure_reason}" if report.failure_reason else ""
        how += f" ({report.task_handle})" if report.task_handle else ""
        table.add_row(
            literal(report.step),
            literal(report.found),
            literal(report.moved),
            literal(report.not_moved, style="red") if report.not_moved else "0",
            literal("\n".join(report.reopened) or "—"),
            literal(how),
        )
    return table
