"""The deployed Lambda handlers, called as Lambda calls them, against moto in-process (`mock_aws`), with
the harness in tests/support/handlers.py (its fixtures come through tests/functional/conftest.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from pixelpipe.adapters.storage import Storage
from pixelpipe.config import settings, workers
from pixelpipe.logic.job_message import JobMessage
from support.handlers import CAT_LABELS, S3_TEST_EVENT, SKIMAGE_DATA, dispatch_upload, s3_put_event, sqs_event

# --- dispatch-tasks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded_key", "decoded_key"),
    [
        ("uploads/summer+holiday.jpg", "uploads/summer holiday.jpg"),
        ("uploads/cat%2Bdog.jpg", "uploads/cat+dog.jpg"),
        ("uploads/caf%C3%A9.jpg", "uploads/café.jpg"),
        ("uploads/2026/11/my+caf%C3%A9+%2B+cat.jpg", "uploads/2026/11/my café + cat.jpg"),
    ],
)
def test_an_upload_with_an_encoded_key_becomes_one_job_for_the_decoded_key(
    aws, load_function, chelsea_jpeg, encoded_key, decoded_key
):
    # GIVEN an image uploaded under a key S3 will send URL-encoded
    dispatch = load_function(settings().dispatch_function)
    put = aws.upload(decoded_key, chelsea_jpeg)

    # WHEN dispatch-tasks receives S3's notification
    response = dispatch(s3_put_event(aws.target.upload_bucket, encoded_key, put, len(chelsea_jpeg)))

    # THEN one PENDING job names the object by its real key and version, and both workers got that key
    [result] = response["results"]
    assert (result["action"], result["key"]) == ("created", decoded_key)
    job = aws.jobs.get(result["jobId"])
    assert job is not None
    assert job["status"] == "PENDING"
    assert job["source"]["key"] == decoded_key
    assert job["source"]["versionId"] == put["VersionId"]
    assert job["source"]["size"] == len(chelsea_jpeg)
    assert job["source"]["contentType"] == "image/jpeg"
    assert job["dispatchedAt"]
    for step in workers():
        [message] = aws.drain(step)
        body = JobMessage.from_json(message["Body"])
        assert (body.job_id, body.key, body.version_id) == (result["jobId"], decoded_key, put["VersionId"])


def test_the_s3_test_event_creates_no_job(aws, load_function):
    # GIVEN dispatch-tasks
    dispatch = load_function(settings().dispatch_function)

    # WHEN S3's test event arrives
    response = dispatch(S3_TEST_EVENT)

    # THEN nothing is created or published
    assert response == {"results": []}
    assert aws.all_jobs() == []
    assert aws.drain("resize") == []


def test_a_duplicate_s3_event_creates_one_job_and_publishes_once(aws, load_function, chelsea_jpeg):
    # GIVEN an uploaded image and its notification
    dispatch = load_function(settings().dispatch_function)
    put = aws.upload("uploads/chelsea.jpg", chelsea_jpeg)
    event = s3_put_event(aws.target.upload_bucket, "uploads/chelsea.jpg", put, len(chelsea_jpeg))

    # WHEN S3 delivers the notification twice
    first, second = dispatch(event), dispatch(event)

    # THEN the second is recognised as a duplicate: one job, one message per worker
    assert [first["results"][0]["action"], second["results"][0]["action"]] == ["created", "duplicate"]
    assert first["results"][0]["jobId"] == second["results"][0]["jobId"]
    assert len(aws.all_jobs()) == 1
    assert len(aws.drain("resize")) == 1
    assert len(aws.drain("analysis")) == 1


def test_an_empty_upload_fails_at_intake_without_a_message(aws, load_function):
    # GIVEN a zero-byte upload
    dispatch = load_function(settings().dispatch_function)

    # WHEN it is dispatched
    response = dispatch_upload(aws, dispatch, "uploads/empty.jpg", b"")

    # THEN its job is FAILED with the reason and no worker hears of it
    [result] = response["results"]
    assert result["action"] == "rejected"
    job = aws.jobs.get(result["jobId"])
    assert job["status"] == "FAILED"
    assert job["failureReason"].startswith("empty")
    assert job["completedAt"]
    assert aws.drain("resize") == []


# --- the workers ------------------------------------------------------------------------------


def test_a_resize_batch_reports_only_the_message_that_failed_transiently(
    aws, load_function, chelsea_jpeg, monkeypatch
):
    # GIVEN two dispatched uploads, and S3 throttling the first read of the second one
    dispatch = load_function(settings().dispatch_function)
    good = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]
    astronaut = (SKIMAGE_DATA / "astronaut.png").read_bytes()
    flaky = dispatch_upload(aws, dispatch, "uploads/astronaut.png", astronaut)["results"][0]["jobId"]
    real_read, throttled = Storage.read, []

    def read_throttled_once(self, bucket, key, version_id, max_bytes):
        if key == "uploads/astronaut.png" and not throttled:
            throttled.append(key)
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return real_read(self, bucket, key, version_id, max_bytes)

    monkeypatch.setattr(Storage, "read", read_throttled_once)
    resize = load_function("resize-worker")
    messages = aws.drain("resize")
    by_job = {JobMessage.from_json(m["Body"]).job_id: m for m in messages}
    assert set(by_job) == {good, flaky}
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}

    # WHEN resize-worker gets both in one batch
    response = resize(sqs_event(messages, aws.target.queues["resize"]["arn"], aws.target.region))

    # THEN only the throttled message is handed back for retry
    assert response == {"batchItemFailures": [{"itemIdentifier": by_job[flaky]["MessageId"]}]}
    assert throttled == ["uploads/astronaut.png"]
    # ... the good image has its thumbnails and its completion reconciled into the job
    thumbnails = aws.s3.list_objects_v2(Bucket=aws.target.thumbnail_bucket, Prefix=f"thumbnails/{good}/")
    assert sorted(o["Key"] for o in thumbnails.get("Contents", [])) == [
        f"thumbnails/{good}/{size}.jpg" for size in (1024, 256, 512)
    ]
    executions = aws.finished_executions()
    assert [e["name"] for e in executions] == [f"{good}-resize-1-S"]
    assert executions[0]["status"] == "SUCCEEDED"
    job = aws.jobs.get(good)
    assert job["steps"]["resize"]["status"] == "SUCCEEDED"
    assert job["succeededCount"] == 1
    assert [t["width"] for t in job["thumbnails"]] == [451, 451, 256]
    # ... and the throttled one is claimed (attempt 1 counted) but reported nowhere
    failed = aws.jobs.get(flaky)
    assert (failed["steps"]["resize"]["status"], failed["steps"]["resize"]["attempts"]) == ("RUNNING", 1)
    assert failed["succeededCount"] == failed["failedCount"] == 0
    assert "thumbnails" not in failed
    assert "Contents" not in aws.s3.list_objects_v2(
        Bucket=aws.target.thumbnail_bucket, Prefix=f"thumbnails/{flaky}/"
    )


def test_both_workers_complete_a_job_with_thumbnails_and_labels(aws, load_function, chelsea_jpeg):
    # GIVEN a dispatched photo of a cat
    dispatch = load_function(settings().dispatch_function)
    job_id = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]

    # WHEN each worker handles the message its queue received
    for step in workers():
        worker = workers()[step]
        response = load_function(worker.function)(
            sqs_event(aws.drain(step), aws.target.queues[step]["arn"], aws.target.region)
        )
        assert response == {"batchItemFailures": []}
        aws.finished_executions()

    # THEN the reconcile state machine has made the job COMPLETE with both results
    job = aws.jobs.get(job_id)
    assert job["status"] == "COMPLETE"
    assert (job["succeededCount"], job["failedCount"]) == (len(workers()), 0)
    assert [t["size"] for t in job["thumbnails"]] == [1024, 512, 256]
    assert job["labels"][0]["name"] in CAT_LABELS
    assert job["completedAt"]
