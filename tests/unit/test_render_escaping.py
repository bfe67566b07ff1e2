"""Untrusted strings in records (S3 keys, file names, labels, failure reasons, step details) print as the
literal text they are: rich markup in them is not obeyed, nothing crashes, no link appears, and terminal
control sequences are shown, not sent."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from pixelpipe_cli import render
from pixelpipe_cli.dlq import DeadLetter, DlqSummary, RedriveReport
from pixelpipe_cli.execution_history import parse_history
from pixelpipe_cli.trace_commands import waterfall

CLOSE_NOTHING = "[/]x.png"  # rich: "closing tag '[/]' at position 0 has nothing to close"
LINK = "[link=https://example.com]x[/link].png"
STYLED = "[bold red]loud[/] :smile: .png"
HTML = "<script>alert('x')</script><a href=\"https://example.com\">y</a>.png"
OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\.png"  # a terminal hyperlink, raw
OSC8_SHOWN = "\\x1b]8;;https://evil.example\\x1b\\click\\x1b]8;;\\x1b\\.png"
HOSTILE = [CLOSE_NOTHING, LINK, STYLED, HTML]


def printed(*renderables: Any) -> tuple[str, str, str]:
    """(plain text, raw terminal output, HTML export) of printing on a wide colour terminal."""
    raw = io.StringIO()
    console = Console(file=raw, record=True, width=400, force_terminal=True, color_system="truecolor")
    for renderable in renderables:
        console.print(renderable)
    return console.export_text(clear=False), raw.getvalue(), console.export_html()


def assert_literal(expected: list[str], output: tuple[str, str, str]) -> None:
    text, raw, html = output
    for value in expected:
        assert value in text
    assert "\x1b]" not in raw  # no OSC sequence (OSC 8 is a hyperlink) reached the terminal
    assert "<a " not in html and "<script" not in html and "&lt;script&gt;" in html


def job(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "jobId": "0123456789abcdef",
        "status": "FAILED",
        "source": {
            "bucket": "uploads-bucket",
            "key": f"uploads/{key}",
            "size": 3,
            "contentType": "image/png",
        },
        "createdAt": "2026-11-25T10:00:00.000Z",
        **fields,
    }


def test_job_list_shows_keys_and_reasons_with_markup_and_html_as_text():
    # GIVEN jobs whose keys and failure reasons hold rich markup, HTML and a raw terminal hyperlink
    jobs = [job(key, failureReason=f"analysis: bad {key}") for key in [*HOSTILE, OSC8]]
    jobs.append(job("fine.png", status="COMPLETE", labels=[{"name": LINK, "confidence": 90.0}]))
    # WHEN the jobs table is printed
    output = printed(render.jobs_table(jobs, title=f"Jobs {CLOSE_NOTHING}"))
    # THEN each prints exactly as stored, control characters shown as \xNN
    assert_literal([*HOSTILE, *(f"analysis: bad {k}" for k in HOSTILE), OSC8_SHOWN, f"{LINK} 90%"], output)
    assert f"Jobs {CLOSE_NOTHING}" in output[0]


def test_one_job_with_its_steps_thumbnails_labels_and_history_prints_every_field_as_text():
    record = job(
        LINK,
        failureReason=HTML,
        traceId=CLOSE_NOTHING,
        steps={STYLED: {"status": "FAILED", "attempts": 1, "error": LINK}},
        thumbnails=[{"size": 256, "width": 2, "height": 1, "bytes": 9, "key": f"thumbs/{HTML}"}],
        labels=[{"name": STYLED, "confidence": 12.5}],
        history=[{"at": "2026-11-25T10:00:01.000Z", "step": HTML, "event": LINK, "detail": OSC8}],
    )
    output = printed(*render.job_panel(record), render.history_table(record))
    assert_literal(
        [f"s3://uploads-bucket/uploads/{LINK} (3 bytes, image/png)", HTML, STYLED, f"thumbs/{HTML}"],
        output,
    )
    assert OSC8_SHOWN in output[0] and CLOSE_NOTHING in output[0]


def test_execution_events_and_dlq_tables_print_untrusted_names_as_text():
    clock = datetime(2026, 11, 25, tzinfo=UTC)
    events = [
        {
            "timestamp": clock,
            "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": f'{{"step": "{CLOSE_NOTHING}", "outcome": "x"}}'},
        },
        {
            "timestamp": clock + timedelta(milliseconds=5),
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": HTML},
        },
    ]
    trace = parse_history("arn:aws:states:r:1:express:m:<b>run</b>", events)
    dlq = DlqSummary(
        step="resize",
        dlq="resize-dlq",
        visible=2,
        in_flight=0,
        samples=[DeadLetter("m", job_id="", receive_count=5, sent_at="", upload=f"s3://b/uploads/{STYLED}")],
    )
    redrive = RedriveReport(step="resize", mode="moved", found=1, moved=1, reopened=[LINK])
    # an AWS move task's FailureReason is shown as it came
    task = RedriveReport("analysis", "move task", task_status="FAILED", failure_reason=STYLED)
    output = printed(
        render.execution_events_table(trace), render.dlq_table([dlq]), render.redrive_table([redrive, task])
    )
    assert_literal(
        [
            f"Execution <b>run</b> — {CLOSE_NOTHING} x",
            HTML,
            LINK,
            f"s3://b/uploads/{STYLED} (5)",
            f"move task FAILED: {STYLED}",
        ],
        output,
    )


def test_the_trace_waterfall_prints_hop_names_as_text_and_still_draws_its_bars():
    trace = {
        "jobId": CLOSE_NOTHING,
        "totalMs": 100.0,
        "spans": [
            {"name": f"dispatch {LINK}", "kind": HTML, "depth": 0, "offsetMs": 0.0, "durationMs": 50.0},
            {"name": "resize", "kind": "worker", "depth": 1, "offsetMs": 50.0, "durationMs": 50.0},
        ],
    }
    text, raw, html = printed(waterfall(trace))
    assert_literal([f"Trace of job {CLOSE_NOTHING}", f"dispatch {LINK}", HTML], (text, raw, html))
    assert "█" * 20 in text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (LINK, LINK),
        ("a\rb\x08c\x07", "a\\x0db\\x08c\\x07"),
        ("abc\u202edcba.png", "abc\\u202edcba.png"),  # right-to-left override: "gnp.abcd" to the eye
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("\x9b31m", "\\x9b31m"),  # the one-byte CSI
    ],
)
def test_literal_keeps_text_but_shows_control_characters(value: str, shown: str):
    assert render.literal(value).plain == shown


def test_a_message_mixes_our_style_with_literal_values():
    line = render.message(render.literal("up", style="green"), f" at {LINK}")
    assert line.plain == f"up at {LINK}"
    assert [(span.start, span.end, str(span.style)) for span in line.spans] == [(0, 2, "green")]
