"""A job the sweeper times out has its deadline run in X-Ray, findable by its job id, as on AWS: the sweep
runs in a trace of its own, with a `## deadline job` subsegment per job it fails."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack, all_functions
from support.inputs import SAMPLES
from support.stacks import use_changed_config, wait_until

pytestmark = pytest.mark.e2e


def walk(entity: dict[str, Any]) -> list[dict[str, Any]]:
    return [entity] + [e for child in entity.get("subsegments", []) for e in walk(child)]


def test_a_timed_out_jobs_deadline_run_is_an_annotated_subsegment_of_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 3 s job deadline, a sweep every second, and no resize worker
    use_changed_config(
        tmp_path,
        monkeypatch,
        lambda config: config["limits"].update(job_deadline_seconds=3, sweep_interval_seconds=1),
    )
    functions = [f for f in all_functions() if f != "resize-worker"]
    with LocalStack(tmp_path / "stack", functions=functions) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")
        job = client.wait([job_id], timeout=30)[job_id]
        assert job["status"] == "FAILED" and job["failureReason"].startswith("timeout")
        xray = stack.target.client("xray")

        # WHEN X-Ray is asked for the traces annotated with the job's id
        def deadline_runs() -> list[dict[str, Any]]:
            now = time.time()
            found = xray.get_trace_summaries(
                StartTime=now - 120, EndTime=now + 60, FilterExpression=f'annotation.jobId = "{job_id}"'
            )["TraceSummaries"]
            documents = [
                json.loads(s["Document"])
                for t in xray.batch_get_traces(TraceIds=[f["Id"] for f in found])["Traces"]
                for s in t["Segments"]
            ]
            return [
                (d, e)
                for d in documents
                if d.get("name") == "sweeper" and d.get("origin") == "AWS::Lambda::Function"
                for e in walk(d)
                if e.get("name") == "## deadline job"
            ]

        runs = wait_until(deadline_runs, timeout=15, every=0.5)

        # THEN the sweep that failed it holds its deadline subsegment, annotated with the job and step,
        # in a trace of the sweep's own, with the reconcile start inside it
        sweep, deadline = runs[0]
        assert len(runs) == 1
        assert deadline["annotations"] == {"jobId": job_id, "step": "deadline"}
        assert sweep["trace_id"] != job["traceId"]
        assert any(e.get("name") == "states" and e.get("namespace") == "aws" for e in walk(deadline))
