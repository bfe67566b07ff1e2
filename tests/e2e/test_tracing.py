"""A job's trace, read back through the CLI's own code: every hop is there, from the job's own trace and
the batched worker invocations it was part of (each a trace of its own, as on AWS)."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from pixelpipe.config import settings
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.main import app
from pixelpipe_cli.traces import job_trace, slow_jobs
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e


def wait_for_trace(client: JobsClient, job: dict, wanted: set[str], timeout: float = 15) -> dict:
    """Segments arrive asynchronously (UDP daemon, execution tracer): poll until every hop is in,
    including one reconcile run per expected step."""
    deadline = time.monotonic() + timeout
    while True:
        trace = job_trace(client.target, job)
        names = [span["name"] for span in trace["spans"]]
        runs = names.count("pixelpipe-reconcile")
        if (wanted <= set(names) and runs >= len(job["expectedSteps"])) or time.monotonic() > deadline:
            return trace
        time.sleep(0.3)


def test_a_jobs_trace_has_a_segment_for_every_hop(client: JobsClient) -> None:
    # GIVEN a processed photo
    job_id = client.upload(SAMPLES / "coffee.png", key_name="traced-coffee.png")
    job = client.wait([job_id], timeout=60)[job_id]
    assert job["status"] == "COMPLETE" and job["traceId"].startswith("1-")
    # WHEN its trace is read back
    config = settings()
    hops = {config.dispatch_function, *(w.queue for w in config.workers.values())}
    hops |= {w.function for w in config.workers.values()}
    trace = wait_for_trace(client, job, hops | {"pixelpipe-reconcile", "labels onnx-efficientnet-lite0"})
    spans = trace["spans"]
    names = [span["name"] for span in spans]
    # THEN every hop is a top-level span of the job's waterfall...
    top = {span["name"] for span in spans if span["depth"] == 0}
    assert hops <= top, top
    assert names.count("pixelpipe-reconcile") == len(config.workers)  # one reconcile run per step
    # ...with the AWS calls and the model call nested inside the functions
    nested_calls = (
        "s3 HeadObject",
        "dynamodb PutItem",
        "sns Publish",
        "dynamodb UpdateItem",
        "s3 GetObject",
        "s3 PutObject",
        "states StartExecution",
        "labels onnx-efficientnet-lite0",
        "Record step success",
        "Mark job COMPLETE",
    )
    for nested in nested_calls:
        assert nested in names, nested
    # ... read from the job's own trace and one batch invocation trace per worker (found by its jobId)
    assert trace["traceIds"][0] == job["traceId"] and len(set(trace["traceIds"])) == 1 + len(config.workers)
    workers_spans = [s for s in spans if s["name"] in {w.function for w in config.workers.values()}]
    assert {s["traceId"] for s in workers_spans}.isdisjoint({job["traceId"]})
    assert all(s["shared"] and not s["hop"] for s in workers_spans)
    # and offsets are consistent: dispatch comes first, every span inside the trace's total
    assert spans[0]["name"] == "dispatch-tasks" and spans[0]["offsetMs"] == 0
    assert all(s["offsetMs"] + s["durationMs"] <= trace["totalMs"] + 1 for s in spans)


def test_worker_segments_carry_job_annotations(client: JobsClient, stack: LocalStack) -> None:
    # GIVEN a processed photo
    job_id = client.upload(SAMPLES / "cat.png", key_name="annotated-cat.png")
    job = client.wait([job_id], timeout=60)[job_id]
    wait_for_trace(client, job, {"resize-worker", "analysis-worker"})
    # WHEN the raw documents of the traces X-Ray finds by the job's annotation are read
    xray = stack.target.client("xray")
    now = time.time()
    found = xray.get_trace_summaries(
        StartTime=now - 300, EndTime=now + 60, FilterExpression=f'annotation.jobId = "{job_id}"'
    )["TraceSummaries"]
    documents = [
        json.loads(s["Document"])
        for t in xray.batch_get_traces(TraceIds=[f["Id"] for f in found])["Traces"]
        for s in t["Segments"]
    ]

    def walk(entity: dict) -> list[dict]:
        return [entity] + [e for child in entity.get("subsegments", []) for e in walk(child)]

    # THEN each worker's per-job subsegment, inside its invocation's segment, is annotated with the job
    # id, its step and when SQS received the message
    annotated = {
        e["annotations"]["step"]: e
        for d in documents
        if d.get("origin") == "AWS::Lambda::Function"
        for e in walk(d)
        if (e.get("annotations") or {}).get("jobId") == job_id
    }
    assert {"resize", "analysis"} <= set(annotated)
    assert all(
        isinstance(annotated[step]["annotations"]["sqsSentAt"], float) for step in ("resize", "analysis")
    )


def test_trace_and_slow_commands_print_the_waterfall_and_the_slowest_jobs(
    client: JobsClient, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a finished job on the running stack
    job_id = client.upload(SAMPLES / "rocket.jpg", key_name="slow-rocket.jpg")
    job = client.wait([job_id], timeout=60)[job_id]
    wait_for_trace(client, job, {"pixelpipe-reconcile", "analysis-worker", "resize-worker"})
    monkeypatch.setenv("PIXELPIPE_TARGET", str(stack.target_path))
    # WHEN the operator asks for its trace and for the slowest jobs
    trace_out = CliRunner().invoke(app, ["trace", job_id], env={"COLUMNS": "200"})
    slow_rows = slow_jobs(client, top=50, since=None)
    # THEN the waterfall names the hops, and the job is ranked with a real slowest hop
    assert trace_out.exit_code == 0, trace_out.output
    for hop in ("dispatch-tasks", "resize-queue", "analysis-worker", "pixelpipe-reconcile"):
        assert hop in trace_out.output
    row = next(r for r in slow_rows if r["jobId"] == job_id)
    assert row["slowestHop"]["durationMs"] > 0
    assert row["durationMs"] >= row["slowestHop"]["durationMs"] * 0.5
    durations = [r["durationMs"] for r in slow_rows]
    assert durations == sorted(durations, reverse=True)
