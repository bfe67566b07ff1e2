"""Operating the running pipeline: retry a job, redrive a dead-letter queue, draw a job's reconcile paths."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pixelpipe.config import step_names
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe_cli import dlq, retry
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import change_worker, cli, finished, wait_until, worker_entries, write_config

pytestmark = pytest.mark.e2e
NS = {"svg": "http://www.w3.org/2000/svg"}


def resize_events(job: dict) -> list[str]:
    return [entry["event"] for entry in job["history"] if entry["step"] == "resize"]


def impatient_resize(config: dict, tmp_path: Path, max_receive_count: int) -> None:
    """Rewrite the test's pipeline.json (before anything reads it) with resize's receive limit."""
    change_worker(worker_entries(config)["resize"], max_receive_count=max_receive_count)
    write_config(tmp_path, config)


def test_retry_after_a_transient_failure_completes_rerunning_only_the_failed_step(
    impatient_config: dict, tmp_path: Path
) -> None:
    # GIVEN a stack whose resize gives up at the first transient error, and no thumbnails bucket
    impatient_resize(impatient_config, tmp_path, max_receive_count=1)
    with LocalStack(tmp_path / "stack") as stack:
        client = JobsClient(stack.target)
        client.s3.delete_bucket(Bucket=stack.target.thumbnail_bucket)
        job_id = client.upload(SAMPLES / "cat.png")
        failed = finished(client, job_id)
        assert failed["status"] == "FAILED"
        assert failed["steps"]["resize"] == {**failed["steps"]["resize"], "status": "FAILED", "attempts": 1}
        assert failed["steps"]["analysis"]["status"] == "SUCCEEDED"
        # WHEN the bucket is back and the operator retries the failed jobs created since this one
        client.s3.create_bucket(Bucket=stack.target.thumbnail_bucket)
        later = cli(stack, "retry", "--failed", "--since", "2999-01-01T00:00:00Z", "--json")
        assert later.exit_code == 0 and json.loads(later.output) == []
        result = cli(stack, "retry", "--failed", "--since", failed["createdAt"], "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == [job_id]
        # THEN it ends COMPLETE, resize on its second attempt with both tries in the history
        job = finished(client, job_id)
        assert job["status"] == "COMPLETE", job.get("failureReason")
        assert job["steps"]["resize"]["attempts"] == 2
        assert resize_events(job).count("started") == 2
        assert {"FAILED", "SUCCEEDED"} <= set(resize_events(job))
        assert [e["event"] for e in job["history"] if e["step"] == "operator"] == ["retry"]
        assert len(job["thumbnails"]) == 3 and "failureReason" not in job
        # and analysis was not run again
        assert job["steps"]["analysis"]["attempts"] == 1
        assert [e["event"] for e in job["history"] if e["step"] == "analysis"].count("started") == 1


def test_retry_refuses_a_complete_job_unless_forced_then_runs_it_again(
    stack: LocalStack, client: JobsClient
) -> None:
    # GIVEN a COMPLETE job
    job_id = client.upload(SAMPLES / "coffee.png", key_name="retry-forced.png")
    assert finished(client, job_id)["status"] == "COMPLETE"
    # WHEN it is retried without --force
    refused = cli(stack, "retry", job_id)
    # THEN the retry is refused with a clear message and nothing changes
    assert refused.exit_code == 1
    assert "COMPLETE" in refused.output and "--force" in refused.output
    assert client.get(job_id)["steps"]["resize"]["attempts"] == 1
    # WHEN it is forced
    forced = cli(stack, "retry", job_id, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.output) == [job_id]
    # THEN every step runs again and the job is COMPLETE once more
    job = wait_until(lambda: (r := client.get(job_id)) and r["status"] == "COMPLETE" and r, timeout=20)
    assert job and {s["attempts"] for s in job["steps"].values()} == {2}
    assert [e["event"] for e in job["history"]].count("COMPLETE") == 2
    assert job["labels"][0]["name"] == "espresso"


def test_retry_refuses_a_pending_job_and_an_unknown_step(stack: LocalStack, client: JobsClient) -> None:
    # GIVEN a PENDING job that stays PENDING: its record exists, but no message was ever sent for it
    source = SourceObject(stack.target.upload_bucket, "uploads/never-sent.png", 1, "etag-never-sent")
    pending_id = job_id_for(source)
    assert client.table.create(new_job_record(pending_id, source, ["resize", "analysis"], now_iso()))
    # WHEN it is retried THEN the retry is refused as PENDING, by the function and by the CLI
    with pytest.raises(retry.OperationError, match="PENDING"):
        retry.retry_job(stack.target, pending_id)
    refused = cli(stack, "retry", pending_id)
    assert refused.exit_code == 1 and "PENDING" in refused.output
    assert client.get(pending_id)["status"] == "PENDING"  # and nothing changed
    # (the record goes again: the session's other tests assert that no job of theirs is left PENDING)
    stack.target.client("dynamodb").delete_item(
        TableName=stack.target.jobs_table, Key={"jobId": {"S": pending_id}}
    )
    # GIVEN a finished job WHEN a step it does not have is named THEN that is refused too
    job_id = client.upload(SAMPLES / "cat.png", key_name="retry-pending.png")
    finished(client, job_id)
    with pytest.raises(retry.OperationError, match="no step thumbnail"):
        retry.retry_job(stack.target, job_id, ["thumbnail"], force=True)
    assert cli(stack, "retry", "no-such-job").exit_code == 1


def test_a_dlq_redrive_gets_the_dead_message_processed(impatient_config: dict, tmp_path: Path) -> None:
    # GIVEN a resize message in the DLQ: the bucket was missing for every allowed receive
    with LocalStack(tmp_path / "stack") as stack:
        client = JobsClient(stack.target)
        client.s3.delete_bucket(Bucket=stack.target.thumbnail_bucket)
        job_id = client.upload(SAMPLES / "cat.png")
        assert finished(client, job_id)["status"] == "FAILED"
        dead = wait_until(lambda: dlq.dlq_list(stack.target, "resize")[0].visible == 1, timeout=20)
        assert dead, "the resize message never reached the DLQ"
        listed = cli(stack, "dlq", "list", "--json")
        assert listed.exit_code == 0, listed.output
        summaries = {s["step"]: s for s in json.loads(listed.output)}
        assert summaries["resize"]["approximate"] == 1 and summaries["analysis"]["approximate"] == 0
        assert [d["job_id"] for d in summaries["resize"]["samples"]] == [job_id]
        # listing peeked without consuming: the message is still there and visible
        assert dlq.dlq_list(stack.target, "resize")[0].visible == 1
        # WHEN the bucket is back and the DLQ is redriven
        client.s3.create_bucket(Bucket=stack.target.thumbnail_bucket)
        redriven = cli(stack, "dlq", "redrive", "--json")
        assert redriven.exit_code == 0, redriven.output
        reports = {r["step"]: r for r in json.loads(redriven.output)}
        assert reports["resize"]["moved"] == 1 and reports["resize"]["reopened"] == [job_id]
        assert reports["analysis"]["moved"] == 0
        # THEN the job completes on a third resize attempt and the DLQ is empty
        job = finished(client, job_id)
        assert job["status"] == "COMPLETE", job.get("failureReason")
        assert job["steps"]["resize"]["attempts"] == 3
        assert job["steps"]["analysis"]["attempts"] == 1
        # every worker's DLQ and dispatch's are empty
        assert [s.approximate for s in dlq.dlq_list(stack.target)] == [0] * (len(step_names()) + 1)


def test_graph_of_a_finished_job_highlights_the_path_to_complete(
    stack: LocalStack, client: JobsClient, tmp_path: Path
) -> None:
    # GIVEN a COMPLETE job
    job_id = client.upload(SAMPLES / "rocket.jpg", key_name="graph-me.jpg")
    job = finished(client, job_id)
    assert job["status"] == "COMPLETE" and len(job["executions"]) == len(step_names())  # one per step
    # WHEN its graph is drawn
    out = tmp_path / "job.svg"
    result = cli(stack, "graph", job_id, "--out", str(out))
    assert result.exit_code == 0, result.output
    # THEN the SVG marks the states its executions went through, "Mark job COMPLETE" among them
    root = ET.parse(out).getroot()
    taken = {
        g.get("data-state"): int(g.get("data-visits"))
        for g in root.iterfind(".//svg:g[@data-state]", NS)
        if "taken" in g.get("class").split()
    }
    assert taken["Mark job COMPLETE"] == 1
    assert taken["Record step success"] == len(step_names())
    assert "Record step failure" not in taken
    legend = " ".join(t.text or "" for t in root.iterfind(".//svg:g[@class='legend']//svg:text", NS))
    assert all(arn.rsplit(":", 1)[-1] in legend for arn in job["executions"])
    # and `job --history` prints each execution's state machine events
    shown = cli(stack, "job", job_id, "--history")
    assert shown.exit_code == 0, shown.output
    assert "TaskStateEntered" in shown.output and "ExecutionSucceeded" in shown.output
