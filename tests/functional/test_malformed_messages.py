"""A worker given a body that is not a job message: a permanent failure with a reason, never a retry loop.

The handlers are called as Lambda calls them (moto in-process), with the harness of tests/support/handlers.py.
"""

from __future__ import annotations

import json

import pytest

from pixelpipe.config import workers
from support.handlers import dispatch_upload, sqs_event

STEPS = list(workers())


def deliver(aws, load_function, step: str, body: str) -> tuple[dict, dict]:
    """Send `body` to the step's queue, then hand what Lambda's poller would receive to the worker."""
    aws.sqs.send_message(QueueUrl=aws.target.queues[step]["url"], MessageBody=body)
    [message] = [m for m in aws.drain(step) if m["Body"] == body]
    worker = load_function(workers()[step].function)
    response = worker(sqs_event([message], aws.target.queues[step]["arn"], aws.target.region))
    return response, message


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    "body",
    [
        "this is not JSON",
        json.dumps({"bucket": "pixelpipe-uploads", "key": "uploads/cat.jpg", "steps": ["resize"]}),
        json.dumps(["job_id", "bucket"]),
        json.dumps({"job_id": 42, "bucket": "b", "key": "k"}),
    ],
    ids=["not-json", "no-job-id", "not-an-object", "job-id-not-a-string"],
)
def test_a_body_naming_no_job_is_acknowledged_not_retried(aws, load_function, step, body):
    # GIVEN a message on the step's queue from which no job id can be read
    # WHEN the worker receives it
    response, _ = deliver(aws, load_function, step, body)

    # THEN it is acknowledged (not handed back for five redeliveries into the DLQ) and nothing ran
    assert response == {"batchItemFailures": []}
    assert aws.all_jobs() == []
    assert aws.finished_executions() == []


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    ("fields", "named_field"),
    [
        ({"bucket": None}, "bucket"),
        ({"key": ["uploads/chelsea.jpg"]}, "key"),
        ({"steps": "resize,analysis"}, "steps"),
        ({"version_id": 7}, "version_id"),
    ],
    ids=["bucket-missing", "key-not-a-string", "steps-not-a-list", "version-not-a-string"],
)
def test_a_malformed_body_of_a_known_job_fails_its_step_with_the_reason(
    aws,
    load_function,
    chelsea_jpeg,
    step,
    fields,
    named_field,
):
    # GIVEN a dispatched job, and a message for it whose body is broken in one field
    dispatch = load_function("dispatch-tasks")
    job_id = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]
    for queue in STEPS:
        aws.drain(queue)  # the well-formed messages dispatch published are not part of this test
    good = {
        "job_id": job_id,
        "bucket": aws.target.upload_bucket,
        "key": "uploads/chelsea.jpg",
        "steps": STEPS,
    }
    body = json.dumps({name: value for name, value in (good | fields).items() if value is not None})

    # WHEN the worker receives it
    response, _ = deliver(aws, load_function, step, body)

    # THEN it is acknowledged, and the job's step is FAILED at once with a reason naming the bad field
    assert response == {"batchItemFailures": []}
    [execution] = aws.finished_executions()
    assert execution["status"] == "SUCCEEDED"
    job = aws.jobs.get(job_id)
    step_record = job["steps"][step]
    assert (step_record["status"], step_record["attempts"]) == ("FAILED", 1)
    assert step_record["error"].startswith("malformed message: ")
    assert named_field in step_record["error"]
    assert job["failedCount"] == 1
    # AND the other step is untouched: only the step whose message was broken failed
    other = next(s for s in STEPS if s != step)
    assert job["steps"][other]["status"] == "PENDING"
