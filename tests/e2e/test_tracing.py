"""A job's trace, read back through the CLI's own code: every hop is there, under the job's trace."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

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
    hops = {"dispatch-tasks", "resize-queue", "ai-analysis-queue", "resize-worker", "analysis-worker"}
    trace = wait_for_trace(client, job, hops | {"pixelpipe-reconcile", "labels onnx-efficientnet-lite0"})
    spans = trace["spans"]
    names = [span["name"] for span in spans]
    # THEN every hop is a top-level segment of the job's own trace...
    top = {span["name"] for span in spans if span["depth"] == 0}
    assert hops <= top, top
    assert names.count("pixelpipe-reconcile") == 2  # one reconcile run per step
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
    assert trace["traceIds"] == [job["traceId"]]
    # and offsets are consistent: dispatch comes first, every span inside the trace's total
    assert spans[0]["name"] == "dispatch-tasks" and spans[0]["offsetMs"] == 0
    assert all(s["offsetMs"] + s["durationMs"] <= trace["totalMs"] + 1 for s in spans)


def test_worker_segments_carry_job_annotations(client: JobsClient, stack: LocalStack) -> None:
    # GIVEN a processed photo
    job_id = client.upload(SAMPLES / "cat.png", key_name="annotated-cat.png")
    job = client.wait([job_id], timeout=60)[job_id]
    wait_for_trace(client, job, {"resize-worker", "analysis-worker"})
    # WHEN the raw segment documents are read
    import json

    xray = stack.target.client("xray")
    documents = [
        json.loads(s["Document"])
        for t in xray.batch_get_traces(TraceIds=[job["traceId"]])["Traces"]
        for s in t["Segments"]
    ]
    # THEN each worker's per-job subsegment is annotated with the job id and its step
    annotated = {
        (d.get("annotations") or {}).get("step")
        for d in documents
        if d.get("annotations", {}).get("jobId") == job_id
    }
    assert {"resize", "analysis"} <= annotated


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
