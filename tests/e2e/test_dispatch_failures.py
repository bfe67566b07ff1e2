"""Never a lost job: an S3 event dispatch-tasks keeps failing on is kept, and a redrive turns it into a job.

On AWS, S3 invokes dispatch-tasks asynchronously; Lambda retries a failed invocation
`maximum_retry_attempts` times, then sends the invocation record to the on-failure destination queue
(`failure_queue` in pipeline.json). The local stack plays this with its S3 relay queue, whose
RedrivePolicy moves the event to the same-named queue after 1 + maximum_retry_attempts tries.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from pixelpipe.config import S3Source, settings, workers
from pixelpipe_cli import dlq
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.provision import create_jobs_table
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli, wait_until

pytestmark = pytest.mark.e2e


def dispatch_config() -> S3Source:
    return settings().dispatch


def dispatch_log(stack: LocalStack) -> str:
    return (stack.logs / f"{settings().dispatch_function}.log").read_text(errors="replace")


def test_an_upload_dispatch_failed_on_is_kept_then_redriven_into_exactly_one_job(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "stack", tracing=False) as stack:
        client = JobsClient(stack.target)
        dynamodb = stack.target.client("dynamodb")
        # GIVEN DynamoDB is unavailable to dispatch: the jobs table is gone, so creating the record fails
        dynamodb.delete_table(TableName=stack.target.jobs_table)
        # WHEN a photo is uploaded
        job_id = client.upload(SAMPLES / "cat.png", key_name="outage-cat.png")
        # THEN dispatch is tried 1 + maximum_retry_attempts times, then the S3 event is parked in the
        # dispatch failures queue instead of being dropped
        parked = wait_until(lambda: dlq.dlq_list(stack.target, "dispatch")[0].visible == 1, timeout=30)
        assert parked, f"the S3 event never reached the failure queue:\n{dispatch_log(stack)[-3000:]}"
        tries = 1 + dispatch_config().maximum_retry_attempts
        assert dispatch_log(stack).count("dispatch-tasks failed") == tries
        assert "ResourceNotFoundException" in dispatch_log(stack)
        # and `dlq list` shows it next to the workers' DLQs, naming the upload (there is no job)
        listed = cli(stack, "dlq", "list", "--json")
        assert listed.exit_code == 0, listed.output
        summaries = {s["step"]: s for s in json.loads(listed.output)}
        assert set(summaries) == {*workers(), "dispatch"}
        dispatch = summaries["dispatch"]
        assert dispatch["dlq"] == dispatch_config().failure_queue and dispatch["approximate"] == 1
        ((sample,),) = [dispatch["samples"]]
        assert sample["job_id"] == ""
        assert sample["upload"] == f"s3://{stack.target.upload_bucket}/uploads/outage-cat.png"
        assert all(s["approximate"] == 0 for step, s in summaries.items() if step != "dispatch")
        table = cli(stack, "dlq", "list")
        assert "outage-cat.png" in table.output and dispatch_config().failure_queue in table.output
        # the message peeked by listing is still there, and nothing brings it back on its own
        event = json.loads(
            stack.target.client("sqs").receive_message(
                QueueUrl=stack.target.queues["_dispatch_failures"]["url"], VisibilityTimeout=0
            )["Messages"][0]["Body"]
        )
        assert unquote_plus(event["Records"][0]["s3"]["object"]["key"]) == "uploads/outage-cat.png"

        # WHEN DynamoDB is back (the table re-created, empty) ...
        create_jobs_table(dynamodb)
        # ... no job appears until the operator redrives the dispatch failures, though the stack is live
        # again (a later upload completes)
        later = client.upload(SAMPLES / "coffee.png", key_name="after-outage.png")
        assert client.wait([later], timeout=60)[later]["status"] == "COMPLETE"
        assert client.get(job_id) is None and [j["jobId"] for j in client.list()] == [later]
        redriven = cli(stack, "dlq", "redrive", "--queue", "dispatch", "--json")
        assert redriven.exit_code == 0, redriven.output
        (report,) = json.loads(redriven.output)
        assert report == {**report, "step": "dispatch", "found": 1, "moved": 1, "not_moved": 0}
        assert report["mode"] == "relayed"

        # THEN the upload's job is created and completes, and the failure queue is empty
        job = client.wait([job_id], timeout=60)[job_id]
        assert job is not None and job["status"] == "COMPLETE", job
        assert len(job["thumbnails"]) == 3 and job["labels"]
        assert [e["event"] for e in job["history"] if e["step"] == "dispatch"] == ["created", "published"]
        assert dlq.dlq_list(stack.target, "dispatch")[0].approximate == 0

        # AND a second delivery of the same event (a redrive racing a retry) creates no second job
        stack.target.client("sqs").send_message(
            QueueUrl=stack.target.queues["_s3_events"]["url"], MessageBody=json.dumps(event)
        )
        assert wait_until(lambda: '"action":"duplicate"' in dispatch_log(stack), timeout=30)
        assert sorted(j["jobId"] for j in client.list()) == sorted([job_id, later])
        again = dlq.dlq_redrive(stack.target, "dispatch")
        assert [(r.step, r.found) for r in again] == [("dispatch", 0)]
