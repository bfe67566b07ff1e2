"""The fault matrix: the whole local stack with AWS failures injected into the real handlers' calls.

Each test starts a stack with a fault plan (pixelpipe_emulator.faults) and asserts what the pipeline
promises whatever fails: every job reaches one terminal state exactly once, nothing is lost or left
PENDING, only what failed is retried, and finished work is never redone.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pixelpipe.logic.clock import format_iso
from pixelpipe.logic.lifecycle import terminal_transitions
from pixelpipe_cli import dlq, retry
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.faults import injected
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import change_every_worker, log_count, use_changed_config, wait_until

pytestmark = pytest.mark.e2e

CLAIM = ":running, steps.#step.startedAt"  # only the claim's UpdateExpression contains this
PHOTOS = ["cat.png", "coffee.png", "rocket.jpg"]


def fault_stack(tmp_path: Path, rules: list[dict[str, Any]]) -> LocalStack:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps(rules))
    return LocalStack(tmp_path / "stack", tracing=False, fault_plan=plan)


def change_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits: dict | None = None, **worker: Any
):
    def change(config: dict) -> None:
        change_every_worker(config, **worker)
        config["limits"].update(limits or {})

    return use_changed_config(tmp_path, monkeypatch, change)


def terminal_entries(job: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in terminal_transitions(job)]


def dead_letters(stack: LocalStack) -> int:
    return sum(summary.approximate for summary in dlq.dlq_list(stack.target))


def assert_all_complete_once(client: JobsClient, job_ids: list[str], timeout: float = 90) -> dict:
    jobs = client.wait(job_ids, timeout=timeout)
    for job_id, job in jobs.items():
        assert job is not None, f"job {job_id} was lost"
        assert job["status"] == "COMPLETE", (job_id, job.get("failureReason"), job["history"])
        assert terminal_entries(job) == ["COMPLETE"], job["history"]
        assert len(job["thumbnails"]) == 3 and job["labels"]
    return jobs


def test_a_transient_fault_on_every_hop_loses_no_job_and_finishes_each_once(tmp_path, monkeypatch):
    # GIVEN each AWS call on the path failing once per job: the record, the publish after it, the claim
    # (before, and after it took effect), the thumbnail write, the start of the reconcile and its writes
    change_workers(tmp_path, monkeypatch, retry_backoff_seconds=0, max_receive_count=5)
    rules = [
        {"function": "dispatch-tasks", "operation": "dynamodb.PutItem", "error": "InternalServerError"},
        {"function": "dispatch-tasks", "operation": "sns.Publish", "error": "InternalError"},
        {
            "function": "resize-worker",
            "operation": "dynamodb.UpdateItem",
            "match": CLAIM,
            "error": "ThrottlingException",
            "status": 400,
        },
        {"function": "resize-worker", "operation": "s3.PutObject", "error": "SlowDown", "status": 503},
        {
            "function": "analysis-worker",
            "operation": "dynamodb.UpdateItem",
            "match": CLAIM,
            "when": "after",
            "error": "InternalServerError",
        },
        {
            "function": "analysis-worker",
            "operation": "stepfunctions.StartExecution",
            "error": "ThrottlingException",
            "status": 400,
        },  # the state machine's own writes: throttled, then a 500, both within its Retry
        {
            "function": "reconcile",
            "operation": "dynamodb.UpdateItem",
            "error": "ProvisionedThroughputExceededException",
            "status": 400,
        },
        {"function": "reconcile", "operation": "dynamodb.UpdateItem", "error": "InternalServerError"},
    ]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)

        # WHEN three photos are uploaded
        job_ids = [client.upload(SAMPLES / name) for name in PHOTOS]

        # THEN every job completes exactly once, with nothing in a DLQ
        jobs = assert_all_complete_once(client, job_ids)
        assert dead_letters(stack) == 0
        # ... every fault was really injected for every job
        faults = injected(stack.faults_log)
        for rule in rules:
            hit = {
                f["job"]
                for f in faults
                if f["operation"] == rule["operation"] and f["function"] == rule["function"]
            }
            assert hit == set(job_ids), (rule, hit)
        # ... and the retried steps show it: the throttled claim never counted, the failed write did
        for job in jobs.values():
            assert job["steps"]["resize"]["attempts"] == 2
            assert job["steps"]["analysis"]["attempts"] == 3  # lost claim answer, failed start, success
            published = [e for e in job["history"] if e["step"] == "dispatch" and e["event"] == "published"]
            assert len(published) == 1


def test_only_the_record_that_failed_is_retried(tmp_path, monkeypatch):
    # GIVEN the thumbnail write failing once for one photo only, and a batch window wide enough for both
    change_workers(tmp_path, monkeypatch, retry_backoff_seconds=0, batching_window_seconds=2)
    rules = [
        {
            "function": "resize-worker",
            "operation": "s3.GetObject",
            "match": "flaky",
            "error": "SlowDown",
            "status": 503,
        }
    ]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        flaky = client.upload(SAMPLES / "cat.png", key_name="flaky-cat.png")
        steady = client.upload(SAMPLES / "coffee.png", key_name="steady-coffee.png")

        # WHEN both are processed THEN both complete; only the flaky one was delivered to resize twice
        jobs = assert_all_complete_once(client, [flaky, steady])
        assert jobs[flaky]["steps"]["resize"]["attempts"] == 2
        assert jobs[steady]["steps"]["resize"]["attempts"] == 1
        assert [f["job"] for f in injected(stack.faults_log)] == [None]  # keyed by object: no job id in a GET


def test_a_worker_crashing_mid_batch_is_restarted_and_redoes_only_unfinished_work(tmp_path, monkeypatch):
    # GIVEN resize crashing its process on the second claim it makes (mid-batch), short visibility
    change_workers(tmp_path, monkeypatch, visibility_timeout_seconds=4, batching_window_seconds=2)
    rules = [
        {
            "function": "resize-worker",
            "operation": "dynamodb.UpdateItem",
            "match": CLAIM,
            "error": "crash",
            "skip": 1,
        }
    ]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        s3 = stack.target.client("s3")
        s3.put_bucket_versioning(
            Bucket=stack.target.thumbnail_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        job_ids = [client.upload(SAMPLES / name) for name in PHOTOS[:2]]

        # WHEN the batch is processed, the host dies, is restarted and the batch comes back
        assert_all_complete_once(client, job_ids)

        # THEN the stack restarted the host and no thumbnail was written twice
        assert stack.restarts.get("resize-worker", 0) >= 1
        versions = s3.list_object_versions(Bucket=stack.target.thumbnail_bucket)["Versions"]
        keys = [v["Key"] for v in versions]
        assert len(keys) == 6 and len(set(keys)) == 6, keys
        assert dead_letters(stack) == 0


def test_an_invocation_past_its_timeout_is_ended_and_its_message_delivered_again(tmp_path, monkeypatch):
    # GIVEN resize hanging on its first thumbnail write, a 3 s function timeout and 4 s visibility
    change_workers(tmp_path, monkeypatch, timeout_seconds=3, visibility_timeout_seconds=4)
    rules = [{"function": "resize-worker", "operation": "s3.PutObject", "error": "hang"}]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")

        # WHEN it times out THEN Lambda's behaviour follows: environment replaced, message redelivered
        job = assert_all_complete_once(client, [job_id])[job_id]
        assert job["steps"]["resize"]["attempts"] == 2
        assert stack.restarts.get("resize-worker", 0) == 1
        assert "Task timed out after 3.00 seconds" in (stack.logs / "resize-worker.log").read_text()


def test_a_host_killed_with_sigkill_is_restarted_and_its_in_flight_job_finishes(tmp_path, monkeypatch):
    # GIVEN resize slowed down (each first read of an upload takes 3 s) and short visibility
    change_workers(tmp_path, monkeypatch, visibility_timeout_seconds=4)
    rules = [{"function": "resize-worker", "operation": "s3.GetObject", "error": "delay", "delay_seconds": 3}]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")
        running = wait_until(
            lambda: (client.get(job_id) or {}).get("steps", {}).get("resize", {}).get("status") == "RUNNING",
            timeout=30,
            every=0.05,
        )
        assert running, "resize never claimed the job"

        # WHEN the host is killed outright while the job is in flight
        os.kill(stack.host_pid("resize-worker"), signal.SIGKILL)

        # THEN it is restarted, the message returns after its visibility timeout, and the job completes
        job = assert_all_complete_once(client, [job_id])[job_id]
        assert stack.restarts.get("resize-worker", 0) == 1
        assert job["steps"]["resize"]["attempts"] == 2


def test_a_result_that_can_never_be_reported_fails_the_job_with_the_steps_own_reason(tmp_path, monkeypatch):
    # GIVEN StartExecution always failing for resize, 2 receives, and a short deadline
    change_workers(
        tmp_path,
        monkeypatch,
        limits={"job_deadline_seconds": 8, "sweep_interval_seconds": 1},
        max_receive_count=2,
        retry_backoff_seconds=0,
    )
    rules = [
        {
            "function": "resize-worker",
            "operation": "stepfunctions.StartExecution",
            "error": "ServiceUnavailable",
            "status": 503,
            "every_time": True,
        }
    ]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")

        # WHEN resize works but can never report, and the deadline passes
        job = client.wait([job_id], timeout=60)[job_id]

        # THEN the job is FAILED once, with resize's own reason rather than a bare timeout
        assert job["status"] == "FAILED"
        assert job["failureReason"].startswith(
            "resize: attempt 2 finished SUCCEEDED but could not be reported"
        )
        assert "ServiceUnavailable" in job["failureReason"]
        assert terminal_entries(job) == ["FAILED"]
        assert wait_until(lambda: dlq.dlq_list(stack.target, "resize")[0].approximate == 1, timeout=20)


def test_retrying_a_job_older_than_its_deadline_is_not_failed_by_the_sweeper(tmp_path, monkeypatch):
    # GIVEN a 30 s deadline swept every second, and a job that completed, uploaded an hour ago
    change_workers(tmp_path, monkeypatch, limits={"job_deadline_seconds": 30, "sweep_interval_seconds": 1})
    with LocalStack(tmp_path / "stack", tracing=False) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")
        assert_all_complete_once(client, [job_id])
        stack.target.client("dynamodb").update_item(
            TableName=stack.target.jobs_table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET createdAt = :hour_ago",
            ExpressionAttributeValues={
                ":hour_ago": {"S": format_iso(datetime.now(UTC) - timedelta(hours=1))}
            },
        )

        # WHEN it is retried while resize is down, so it stays PENDING across several sweeps
        stack.stop_function("resize-worker")
        retry.retry_job(stack.target, job_id, force=True)
        sweeps = stack.logs / "sweeper.log"
        swept_before = log_count(sweeps, "sweep finished")
        wait_until(lambda: log_count(sweeps, "sweep finished") >= swept_before + 3, timeout=30)
        assert client.get(job_id)["status"] == "PENDING", client.get(job_id).get("failureReason")

        # THEN once resize is back the job completes, with no timeout on record
        stack.start_function("resize-worker")
        job = client.wait([job_id], timeout=60)[job_id]
        assert job["status"] == "COMPLETE", job.get("failureReason")
        assert terminal_entries(job) == ["COMPLETE", "COMPLETE"]
        assert not any("timeout" in e["detail"] for e in job["history"])


def test_redriving_a_dispatch_failure_after_the_sweeper_failed_its_job_publishes_it(tmp_path, monkeypatch):
    # GIVEN SNS failing every publish of dispatch-tasks and a 4 s deadline
    change_workers(tmp_path, monkeypatch, limits={"job_deadline_seconds": 4, "sweep_interval_seconds": 1})
    rules = [
        {
            "function": "dispatch-tasks",
            "operation": "sns.Publish",
            "error": "InternalError",
            "every_time": True,
        }
    ]
    with fault_stack(tmp_path, rules) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")
        # ... so the event is parked in the dispatch failures queue and the sweeper fails the job
        assert wait_until(lambda: dlq.dlq_list(stack.target, "dispatch")[0].approximate == 1, timeout=30)
        failed = client.wait([job_id], timeout=30)[job_id]
        assert failed["status"] == "FAILED" and failed["failureReason"].startswith("timeout")

        # WHEN SNS is back and the operator redrives the dispatch failures
        stack.fault_plan.write_text("[]")
        stack.stop_function("dispatch-tasks")
        stack.start_function("dispatch-tasks")
        (report,) = dlq.dlq_redrive(stack.target, "dispatch")
        assert report.moved == 1

        # THEN the job is published, runs its steps and completes
        wait_until(lambda: client.get(job_id)["status"] == "PENDING", timeout=30)
        job = client.wait([job_id], timeout=60)[job_id]
        assert job["status"] == "COMPLETE", job.get("failureReason")
        assert terminal_entries(job) == ["FAILED", "COMPLETE"]
        assert len(job["thumbnails"]) == 3
