"""What a user sees of a job's trace — `pixelpipe trace`, `pixelpipe cost` and the console's trace view —
fed by the one reader from AWS-shaped X-Ray answers (test_traces_on_aws.py builds them): a batched
invocation shown as shared and not counted as the job's, a plain sentence when X-Ray did not sample the
job, and names and annotations printed as the data they are."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console
from test_traces_on_aws import (
    BATCH,
    OWN,
    aws_target,
    batch_trace,
    dispatch_trace,
    first_window,
    job_record,
    search,
    stored,
    summaries,
)
from typer.testing import CliRunner

from pixelpipe_cli import render, trace_commands
from pixelpipe_cli.cost import JobMeasure, usage_of
from pixelpipe_cli.main import app
from pixelpipe_console import data
from pixelpipe_console.views import make_templates

HOSTILE = "<img src=x onerror=alert(1)>[bold]x[/]"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def stubbed_xray(
    record: dict[str, Any], traces: list[dict[str, Any]], found: list[str]
) -> tuple[Any, Stubber]:
    """X-Ray answering the reader's calls for `record`: `found` by annotation, then `traces` stored."""
    xray = boto3.client("xray", region_name="eu-west-1")
    stub = Stubber(xray)
    stub.add_response("get_trace_summaries", summaries(found), search(record["jobId"], *first_window(record)))
    ids = list(dict.fromkeys(([record["traceId"]] if record.get("traceId") else []) + found))
    if ids:
        stub.add_response("batch_get_traces", {"Traces": traces}, {"TraceIds": ids})
    stub.activate()
    return xray, stub


def batched_job() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """job-a, its dispatch trace, and a resize invocation it shared with job-b and job-c; one hostile
    name and annotation in its own work."""
    record = job_record("job-a", OWN["job-a"])
    batch = batch_trace(BATCH, OWN)
    function = next(doc for doc in batch if doc.get("origin") == "AWS::Lambda::Function")
    own = function["subsegments"][0]["subsegments"][0]
    own["subsegments"][0]["name"] = HOSTILE
    own["annotations"]["label"] = HOSTILE
    return record, [stored(OWN["job-a"], dispatch_trace("job-a", OWN["job-a"])), stored(BATCH, batch)]


def test_pixelpipe_trace_marks_the_shared_invocation_and_prints_names_literally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN job-a, batched with two other jobs
    record, traces = batched_job()
    xray, stub = stubbed_xray(record, traces, [BATCH])
    target = aws_target(
        {"xray": xray, **{name: boto3.client(name, region_name="eu-west-1") for name in ("s3", "dynamodb")}}
    )
    monkeypatch.setattr(trace_commands, "current_target", lambda: target)
    monkeypatch.setattr(trace_commands.JobsClient, "get", lambda self, job_id: record)
    out = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, width=250))
    # WHEN an operator asks for its trace
    result = CliRunner().invoke(app, ["trace", "job-a"])
    stub.assert_no_pending_responses()
    text = out.getvalue()
    # THEN the waterfall says the invocation was shared by 3 jobs and explains it, and the hostile name
    # shows as text (no markup eaten)
    assert result.exit_code == 0, result.output
    assert "function, shared by 3 jobs" in text
    assert "batched worker invocations shared with other jobs" in text
    assert HOSTILE in text
    assert "## resize job" in text and "resize-queue" in text


def test_pixelpipe_trace_says_plainly_when_the_job_was_not_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a job X-Ray holds nothing for
    record = job_record("job-a", OWN["job-a"])
    xray, stub = stubbed_xray(record, [], [])
    target = aws_target(
        {"xray": xray, **{name: boto3.client(name, region_name="eu-west-1") for name in ("s3", "dynamodb")}}
    )
    monkeypatch.setattr(trace_commands, "current_target", lambda: target)
    monkeypatch.setattr(trace_commands.JobsClient, "get", lambda self, job_id: record)
    out = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, width=300))
    # WHEN its trace is asked for
    result = CliRunner().invoke(app, ["trace", "job-a"])
    stub.assert_no_pending_responses()
    # THEN one sentence says why there is no waterfall
    assert result.exit_code == 0, result.output
    assert out.getvalue().startswith("This job was not sampled: X-Ray holds no trace of it (")
    assert "Trace of job" not in out.getvalue()


def test_the_console_trace_view_shows_the_shared_invocation_escaped_and_the_jobs_own_slowest_hop() -> None:
    # GIVEN job-a, batched with two other jobs, read by the console
    record, traces = batched_job()
    xray, stub = stubbed_xray(record, traces, [BATCH])
    waterfall = data.job_waterfall(aws_target({"xray": xray}), record)
    stub.assert_no_pending_responses()
    # WHEN the trace section is rendered
    html = render_details(record, waterfall)
    # THEN the shared invocation is marked with its job count, and the slowest hop is the job's own
    assert 'class="span depth-0 shared"' in html and "shared by 3 jobs" in html
    (slowest,) = [span for span in waterfall.spans if span.slowest]
    assert not slowest.shared and slowest.name in ("## resize job", "resize-queue")
    # and names and annotations are escaped data
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_console_trace_view_says_the_job_was_not_sampled() -> None:
    record = job_record("job-a", OWN["job-a"])
    xray, stub = stubbed_xray(record, [], [])
    waterfall = data.job_waterfall(aws_target({"xray": xray}), record)
    stub.assert_no_pending_responses()
    html = render_details(record, waterfall)
    assert waterfall.spans == [] and "This job was not sampled: X-Ray holds no trace of it" in html
    assert "No trace recorded for this job yet" not in html


def render_details(record: dict[str, Any], waterfall: data.Waterfall) -> str:
    template = make_templates().env.get_template("_job_details.html")
    return template.render(
        job=record,
        target=aws_target({}),
        graph=None,
        waterfall=waterfall,
        aws_links=[],
        problems={"graph": "not drawn here"},
    )


def test_cost_counts_only_the_jobs_share_of_a_shared_invocation() -> None:
    # GIVEN job-a's waterfall from the reader: its dispatch, and a 1.7 s resize invocation it shared with
    # two other jobs, in which its own work took 0.49 s with one S3 call of 0.1 s
    record, traces = batched_job()
    xray, stub = stubbed_xray(record, traces, [BATCH])
    from pixelpipe_cli.traces import job_trace

    spans = job_trace(aws_target({"xray": xray}), record)["spans"]
    stub.assert_no_pending_responses()
    # WHEN it is measured as `pixelpipe cost` does
    measure = JobMeasure(spans, record, {}, None)
    # THEN the worker's time is the job's own 490 ms, one invocation, one queue delivery, one S3 call
    assert measure.function_ms["resize-worker"] == pytest.approx(490.0)
    assert measure.invocations["resize-worker"] == 1
    assert measure.queue_deliveries == 1
    assert measure.calls == Counter({"dynamodb putitem": 1, f"{HOSTILE} GetObject".lower(): 1})
    assert measure.waiting_ms["resize-worker"] == pytest.approx(100.0)
    usage = usage_of([measure])
    assert usage.functions["resize-worker"].compute_ms == pytest.approx(390.0)


def test_pixelpipe_trace_names_an_aws_refusal_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an operator whose role may not call GetTraceSummaries
    record = job_record("job-a", OWN["job-a"])
    xray = boto3.client("xray", region_name="eu-west-1")
    stub = Stubber(xray)
    stub.add_client_error("get_trace_summaries", "AccessDeniedException", "not authorized", 403)
    stub.activate()
    target = aws_target(
        {"xray": xray, **{n: boto3.client(n, region_name="eu-west-1") for n in ("s3", "dynamodb")}}
    )
    monkeypatch.setattr(trace_commands, "current_target", lambda: target)
    monkeypatch.setattr(trace_commands.JobsClient, "get", lambda self, job_id: record)
    err = io.StringIO()
    monkeypatch.setattr(render, "error_console", Console(file=err, width=300))
    # WHEN it asks for a trace
    result = CliRunner().invoke(app, ["trace", "job-a"])
    # THEN the command says which call was refused, and exits 1 without a traceback
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "traces unreadable: " in err.getvalue() and "GetTraceSummaries" in err.getvalue()
    assert "AccessDeniedException" in err.getvalue()
