"""Never stuck: a job whose work was lost is failed by the sweeper, through the reconcile path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack, all_functions
from support.inputs import SAMPLES
from support.stacks import use_changed_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def short_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    def quick_deadline(config: dict) -> None:
        config["limits"].update(job_deadline_seconds=3, sweep_interval_seconds=1)

    return use_changed_config(tmp_path, monkeypatch, quick_deadline)


def test_the_sweeper_fails_a_job_whose_message_was_dropped(short_deadline: dict, tmp_path: Path) -> None:
    # GIVEN a stack whose resize worker is down, and a job whose resize message is then lost
    functions = [f for f in all_functions() if f != "resize-worker"]
    with LocalStack(tmp_path / "stack", functions=functions) as stack:
        client = JobsClient(stack.target)
        job_id = client.upload(SAMPLES / "cat.png")
        sqs = stack.target.client("sqs")
        resize_queue = stack.target.queues["resize"]["url"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=resize_queue, WaitTimeSeconds=1).get("Messages", [])
            if messages:
                sqs.delete_message(QueueUrl=resize_queue, ReceiptHandle=messages[0]["ReceiptHandle"])
                break
        else:
            pytest.fail("the resize message never arrived")
        # WHEN the deadline passes (the scheduled sweeper runs every second here)
        job = client.wait([job_id], timeout=30)[job_id]
        # THEN the job is FAILED with reason timeout, naming the step that never finished
        assert job["status"] == "FAILED"
        assert job["failureReason"].startswith("timeout")
        assert "resize" in job["failureReason"]
        assert job["steps"]["analysis"]["status"] == "SUCCEEDED"
        assert [e["event"] for e in job["history"]].count("FAILED") == 1
