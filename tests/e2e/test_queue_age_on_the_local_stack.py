"""The local stack's emulator publishes SQS's ApproximateAgeOfOldestMessage as SQS does, so the console's
queues table shows a waiting message's age on the local target too (the rules: test_sqs_age_metric.py)."""

from __future__ import annotations

import pytest

from pixelpipe.config import workers
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_console.data_queues import worker_queues
from pixelpipe_emulator import sqs_metrics
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import wait_until

pytestmark = pytest.mark.e2e


def test_a_message_waiting_for_a_stopped_worker_shows_its_age(tmp_path, monkeypatch):
    # GIVEN a local stack whose emulator publishes the metric every second, with resize-worker stopped
    monkeypatch.setenv(sqs_metrics.PERIOD_ENV, "1")
    with LocalStack(tmp_path / "stack", tracing=False) as stack:
        stack.stop_function(workers()["resize"].function)
        client = JobsClient(stack.target)
        # WHEN an upload's resize message waits in the resize queue
        job_id = client.upload(SAMPLES / "cat.png")

        def resize_row():
            return {row.step: row for row in worker_queues(stack.target)}["resize"]

        def waiting():
            row = resize_row()
            return row if row.visible == 1 and (row.oldest_age_s or 0) >= 2 else None

        # THEN the console's queues table shows it waiting, its age growing from the published datapoints
        row = wait_until(waiting, timeout=30)
        assert row.in_flight == 0 and row.oldest_age_s < 30
        # AND once the worker is back the job completes and the queue reads empty, age 0
        stack.start_function(workers()["resize"].function)
        job = client.wait([job_id], timeout=60)[job_id]
        assert job["status"] == "COMPLETE", job.get("failureReason")
        empty = wait_until(lambda: (row := resize_row()).visible + row.in_flight == 0 and row, timeout=30)
        assert empty.oldest_age_s == 0
