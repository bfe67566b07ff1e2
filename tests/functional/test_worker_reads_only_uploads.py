"""A worker reads only what is in the upload bucket under the upload prefix, whatever its message names.

The message's bucket and key come from dispatch, but a worker would read whatever a message on its queue
names with its own role. A message naming another bucket, or a key outside `uploads/`, fails the job's
step with the reason and is never read (the real resize-worker handler, against moto).
"""

from __future__ import annotations

import json

import pytest

from pixelpipe.adapters.storage import Storage
from support.handlers import dispatch_upload, sqs_event


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        ("someone-elses-bucket", "uploads/chelsea.jpg"),
        (None, "thumbnails/other-job/1024.jpg"),  # the upload bucket, outside the upload prefix
        (None, "private/payroll.jpg"),
    ],
)
def test_a_message_naming_an_object_outside_the_uploads_fails_its_step_unread(
    aws,
    load_function,
    chelsea_jpeg,
    monkeypatch,
    bucket,
    key,
):
    # GIVEN a dispatched upload whose message is rewritten to name another object
    dispatch = load_function("dispatch-tasks")
    job_id = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]
    (message,) = aws.drain("resize")
    body = json.loads(message["Body"])
    body["bucket"], body["key"] = bucket or body["bucket"], key
    message["Body"] = json.dumps(body)
    reads = []
    real_read = Storage.read

    def spied(self, bucket, key, version_id, max_bytes):
        reads.append((bucket, key))
        return real_read(self, bucket, key, version_id, max_bytes)

    monkeypatch.setattr(Storage, "read", spied)
    resize = load_function("resize-worker")
    # WHEN resize-worker gets it
    response = resize(sqs_event([message], aws.target.queues["resize"]["arn"], aws.target.region))
    # THEN nothing is read, the message is done with, and the job's step fails with the reason
    assert reads == []
    assert response == {"batchItemFailures": []}
    aws.finished_executions()
    step = aws.jobs.get(job_id)["steps"]["resize"]
    assert step["status"] == "FAILED"
    assert "outside" in step["error"] and "refused unread" in step["error"]


def test_the_message_dispatch_wrote_is_still_worked_on(aws, load_function, chelsea_jpeg):
    dispatch = load_function("dispatch-tasks")
    job_id = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]
    resize = load_function("resize-worker")
    resize(sqs_event(aws.drain("resize"), aws.target.queues["resize"]["arn"], aws.target.region))
    aws.finished_executions()
    assert aws.jobs.get(job_id)["steps"]["resize"]["status"] == "SUCCEEDED"
