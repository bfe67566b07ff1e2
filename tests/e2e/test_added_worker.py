"""Adding a worker is one entry in pipeline.json plus its handler: a fourth, test-only worker
(support.added_worker, step `checksum`) added to a copy of the config runs on a local stack of the
test's own — its queue, DLQ, filtered subscription, host, expected step, state machine result, retry,
`pixelpipe job`, the console's job and queue pages — with no other code knowing it exists."""

from __future__ import annotations

import hashlib
import json

import pytest
from starlette.testclient import TestClient

from pixelpipe.config import step_names
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_console.app import create_app
from pixelpipe_emulator.stack import LocalStack
from support import added_worker
from support.inputs import SAMPLES
from support.stacks import change_every_worker, cli, finished, use_changed_config, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("added-worker")
    with pytest.MonkeyPatch.context() as monkeypatch:

        def add_checksum_worker(config: dict) -> None:
            added_worker.add_to(config)
            change_every_worker(config, batching_window_seconds=0)

        use_changed_config(tmp_path, monkeypatch, add_checksum_worker)
        added_worker.on_host_path(monkeypatch)
        with LocalStack(tmp_path / "stack", tracing=False) as running:
            yield running


def test_the_config_copy_lists_the_added_worker_last_and_the_stack_hosts_it(stack):
    assert step_names()[-1] == added_worker.STEP
    assert added_worker.FUNCTION in stack.functions


def test_a_job_runs_the_added_step_and_records_its_result(stack):
    # GIVEN a stack whose pipeline.json lists the checksum worker
    client = JobsClient(stack.target)
    data = (SAMPLES / "rocket.jpg").read_bytes()
    # WHEN a photo is uploaded
    job = finished(client, client.upload(SAMPLES / "rocket.jpg"), timeout=90)
    # THEN every configured step ran, the added one included, and its result is on the record
    assert job["status"] == "COMPLETE", job.get("failureReason")
    assert job["expectedSteps"] == step_names() and job["expectedCount"] == len(step_names())
    assert {step: s["status"] for step, s in job["steps"].items()} == dict.fromkeys(step_names(), "SUCCEEDED")
    assert job[added_worker.RESULT_FIELD] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    # ... `pixelpipe job` shows the step and its result
    shown = cli(stack, "job", job["jobId"])
    assert shown.exit_code == 0, shown.output
    assert f"{added_worker.STEP} ({added_worker.RESULT_FIELD})" in shown.output
    assert hashlib.sha256(data).hexdigest() in shown.output

    # ... and so does the console's job page, and its queues page lists the worker's queue and DLQ
    console = TestClient(create_app(lambda: stack.target, port=8484), base_url="http://127.0.0.1:8484")
    details = console.get(f"/jobs/{job['jobId']}/details")
    assert details.status_code == 200
    assert (
        f'data-step="{added_worker.STEP}"' in details.text
        and hashlib.sha256(data).hexdigest() in details.text
    )
    queues = console.get("/queues").text
    assert added_worker.QUEUE in queues and added_worker.DLQ in queues

    # ... and an operator's forced retry runs the added step again
    retried = cli(stack, "retry", job["jobId"], "--force")
    assert retried.exit_code == 0, retried.output
    again = wait_until(
        lambda: (
            (record := client.get(job["jobId"]))["status"] == "COMPLETE"
            and record["steps"][added_worker.STEP]["attempts"] == 2
            and record
        ),
        timeout=90,
    )
    assert again[added_worker.RESULT_FIELD]["bytes"] == len(data)


def test_a_bad_input_fails_the_added_step_too_and_its_dead_letter_queue_is_listed(stack):
    client = JobsClient(stack.target)
    job = finished(client, client.upload(SAMPLES / "not-an-image.jpg"), timeout=90)
    assert job["status"] == "FAILED"
    assert job["steps"][added_worker.STEP]["status"] == "SUCCEEDED"  # a checksum needs no image
    listed = cli(stack, "dlq", "list", "--queue", added_worker.STEP, "--json")
    assert listed.exit_code == 0, listed.output
    [queue] = json.loads(listed.output)
    assert (queue["step"], queue["dlq"], queue["visible"]) == (added_worker.STEP, added_worker.DLQ, 0)
