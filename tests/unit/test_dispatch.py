"""Dispatch rules (pixelpipe.logic.dispatch): one upload → one job record → one message, safe to repeat.

The table, topic and bucket are small in-memory doubles that keep the contracts of the real adapters
(conditional create, HEAD returning None for a missing object).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from pixelpipe.logic.clock import parse_iso
from pixelpipe.logic.dispatch import Dispatcher
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import SourceObject, job_id_for
from pixelpipe.logic.lifecycle import CREATE, REOPEN_UNDISPATCHED, failed_before_dispatch

BUCKET = "pixelpipe-uploads"
STEPS = ["resize", "analysis"]
MAX_BYTES = 26_214_400
DEADLINE_SECONDS = 900
RECORD_RETENTION_DAYS = 90
ETAG = "9b2cf535f27731c974343645a3985328"


class InMemoryJobs:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def create(self, record: dict[str, Any]) -> bool:
        if not CREATE.allows(self.records.get(record["jobId"], {})):
            return False
        self.records[record["jobId"]] = dict(record)
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.records.get(job_id)

    def mark_dispatched(self, job_id: str, at: str, message_id: str) -> None:
        self.records[job_id] |= {"dispatchedAt": at, "updatedAt": at}

    def reopen_undispatched(self, job: dict[str, Any], at: str, detail: str, deadline_at: str) -> bool:
        current = self.records.get(job["jobId"])
        if current is None or not failed_before_dispatch(job):
            return False
        if not REOPEN_UNDISPATCHED.allows(current, seen=job["updatedAt"]):
            return False
        current.pop("failureReason", None)
        current.pop("completedAt", None)
        current |= {"status": "PENDING", "updatedAt": at, "deadlineAt": deadline_at}
        return True


class InMemoryTopic:
    def __init__(self) -> None:
        self.published: list[JobMessage] = []

    def publish(self, message: JobMessage) -> str:
        self.published.append(message)
        return f"message-{len(self.published)}"


class InMemoryBucket:
    """HEAD answers like S3: quoted ETag, the latest VersionId, None once the object is gone."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.heads: list[tuple[str, str, str | None]] = []

    def put(self, key: str, size: int, etag: str = ETAG, version_id: str | None = "v-latest") -> None:
        self.objects[key] = {
            "ContentLength": size,
            "ContentType": "image/jpeg",
            "ETag": f'"{etag}"',
            **({"VersionId": version_id} if version_id else {}),
        }

    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        self.heads.append((bucket, key, version_id))
        return self.objects.get(key)


@pytest.fixture
def jobs() -> InMemoryJobs:
    return InMemoryJobs()


@pytest.fixture
def topic() -> InMemoryTopic:
    return InMemoryTopic()


@pytest.fixture
def bucket() -> InMemoryBucket:
    return InMemoryBucket()


@pytest.fixture
def dispatcher(jobs, topic, bucket) -> Dispatcher:
    return Dispatcher(
        jobs=jobs,
        topic=topic,
        storage=bucket,
        upload_prefix="uploads/",
        steps=STEPS,
        max_input_bytes=MAX_BYTES,
        deadline_seconds=DEADLINE_SECONDS,
        record_retention_days=RECORD_RETENTION_DAYS,
    )


def uploaded(
    bucket: InMemoryBucket, key: str, size: int = 48_213, version_id: str | None = "v1"
) -> SourceObject:
    """An object in the bucket and the source an S3 event for it names (event ETags are unquoted)."""
    bucket.put(key, size, version_id=version_id or "v-latest")
    return SourceObject(bucket=BUCKET, key=key, size=size, etag=ETAG, version_id=version_id)


def test_an_image_upload_creates_a_pending_job_and_publishes_one_message(dispatcher, jobs, topic, bucket):
    # GIVEN an uploaded image
    source = uploaded(bucket, "uploads/chelsea.jpg")

    # WHEN it is dispatched
    result = dispatcher.dispatch(source, trace_id="1-67891233-abcdef012345678912345678")

    # THEN one PENDING job exists, marked dispatched, and one message names the object and the steps
    assert result.action == "created"
    assert result.job_id == job_id_for(source)
    record = jobs.records[result.job_id]
    assert record["status"] == "PENDING"
    assert record["source"]["contentType"] == "image/jpeg"
    assert record["traceId"] == "1-67891233-abcdef012345678912345678"
    assert record["dispatchedAt"]
    assert topic.published == [JobMessage(result.job_id, BUCKET, "uploads/chelsea.jpg", "v1", STEPS)]
    assert bucket.heads == [(BUCKET, "uploads/chelsea.jpg", "v1")]


@pytest.mark.parametrize(
    "key", ["thumbnails/x/256.jpg", "chelsea.jpg", "upload/chelsea.jpg", "Uploads/a.jpg"]
)
def test_a_key_outside_the_upload_prefix_is_skipped(dispatcher, jobs, topic, bucket, key):
    # GIVEN an object outside uploads/
    source = uploaded(bucket, key)

    # WHEN it is dispatched THEN nothing is recorded or published, not even a HEAD
    result = dispatcher.dispatch(source)
    assert (result.job_id, result.action) == (None, "skipped")
    assert "outside" in result.detail
    assert (jobs.records, topic.published, bucket.heads) == ({}, [], [])


def test_a_folder_placeholder_is_skipped(dispatcher, jobs, topic, bucket):
    # GIVEN the zero-byte "folder" object the S3 console creates
    source = uploaded(bucket, "uploads/holiday/", size=0)

    # WHEN it is dispatched THEN it is skipped, not rejected as an empty image
    result = dispatcher.dispatch(source)
    assert (result.job_id, result.action) == (None, "skipped")
    assert (jobs.records, topic.published) == ({}, [])


def test_an_empty_upload_is_rejected_as_a_failed_job_without_a_message(dispatcher, jobs, topic, bucket):
    # GIVEN a zero-byte upload
    source = uploaded(bucket, "uploads/empty.jpg", size=0)

    # WHEN it is dispatched
    result = dispatcher.dispatch(source)

    # THEN its job is FAILED at once, with the reason, and no worker is asked to do anything
    assert result.action == "rejected"
    record = jobs.records[result.job_id]
    assert record["status"] == "FAILED"
    assert record["failureReason"].startswith("empty")
    assert record["completedAt"]
    assert topic.published == []


def test_an_upload_over_the_size_limit_is_rejected(dispatcher, jobs, topic, bucket):
    # GIVEN an upload one byte over the limit
    source = uploaded(bucket, "uploads/huge.tif", size=MAX_BYTES + 1)

    # WHEN it is dispatched THEN it is rejected as too large and not published
    result = dispatcher.dispatch(source)
    assert result.action == "rejected"
    assert jobs.records[result.job_id]["failureReason"].startswith("too large")
    assert str(MAX_BYTES + 1) in jobs.records[result.job_id]["failureReason"]
    assert topic.published == []


def test_an_upload_exactly_at_the_size_limit_is_accepted(dispatcher, topic, bucket):
    # GIVEN an upload of exactly the maximum size WHEN dispatched THEN it is a normal job
    assert dispatcher.dispatch(uploaded(bucket, "uploads/max.jpg", size=MAX_BYTES)).action == "created"
    assert len(topic.published) == 1


def test_a_duplicate_event_publishes_nothing_new(dispatcher, jobs, topic, bucket):
    # GIVEN an upload already dispatched
    source = uploaded(bucket, "uploads/chelsea.jpg")
    first = dispatcher.dispatch(source)

    # WHEN S3 delivers the same event again
    second = dispatcher.dispatch(source)

    # THEN it is the same job, recognised as a duplicate, with still one message
    assert second.action == "duplicate"
    assert second.job_id == first.job_id
    assert len(jobs.records) == 1
    assert len(topic.published) == 1


def test_a_duplicate_of_a_rejected_upload_stays_rejected_without_a_message(dispatcher, jobs, topic, bucket):
    # GIVEN an empty upload already rejected
    source = uploaded(bucket, "uploads/empty.jpg", size=0)
    dispatcher.dispatch(source)

    # WHEN its event comes again THEN nothing is published
    assert dispatcher.dispatch(source).action == "duplicate"
    assert topic.published == []


def test_a_record_left_without_dispatched_at_is_republished(dispatcher, jobs, topic, bucket):
    # GIVEN a crash after the record was written but before the message was published
    source = uploaded(bucket, "uploads/chelsea.jpg")
    crashed = Dispatcher(
        jobs=jobs,
        topic=_ExplodingTopic(),
        storage=bucket,
        upload_prefix="uploads/",
        steps=STEPS,
        max_input_bytes=MAX_BYTES,
        deadline_seconds=DEADLINE_SECONDS,
        record_retention_days=RECORD_RETENTION_DAYS,
    )
    with pytest.raises(ConnectionError):
        crashed.dispatch(source)
    assert "dispatchedAt" not in jobs.records[job_id_for(source)]

    # WHEN S3 retries the event
    result = dispatcher.dispatch(source)

    # THEN the missed message is published once and the record is marked dispatched
    assert result.action == "republished"
    assert topic.published == [JobMessage(result.job_id, BUCKET, "uploads/chelsea.jpg", "v1", STEPS)]
    assert jobs.records[result.job_id]["dispatchedAt"]

    # ... and a further repeat is an ordinary duplicate
    assert dispatcher.dispatch(source).action == "duplicate"
    assert len(topic.published) == 1


class _ExplodingTopic:
    def publish(self, message: JobMessage) -> str:
        raise ConnectionError("SNS unreachable")


def test_an_object_deleted_before_dispatch_is_skipped(dispatcher, jobs, topic, bucket):
    # GIVEN an event for an object that no longer exists
    source = uploaded(bucket, "uploads/gone.jpg")
    del bucket.objects["uploads/gone.jpg"]

    # WHEN it is dispatched THEN nothing is recorded or published
    result = dispatcher.dispatch(source)
    assert (result.job_id, result.action) == (None, "skipped")
    assert "no longer exists" in result.detail
    assert (jobs.records, topic.published) == ({}, [])


def test_an_event_without_version_takes_heads_version_when_the_content_matches(
    dispatcher, jobs, topic, bucket
):
    # GIVEN an emulator's event without versionId, for an object HEAD reports with the same ETag
    source = uploaded(bucket, "uploads/chelsea.jpg", version_id=None)
    bucket.put("uploads/chelsea.jpg", source.size, etag=ETAG, version_id="v7")

    # WHEN it is dispatched
    result = dispatcher.dispatch(source)

    # THEN the job and the message pin HEAD's version
    assert jobs.records[result.job_id]["source"]["versionId"] == "v7"
    assert result.job_id == job_id_for(dataclasses.replace(source, version_id="v7"))
    assert topic.published[0].version_id == "v7"


def test_an_event_without_version_ignores_heads_version_when_the_object_was_overwritten(
    dispatcher, jobs, topic, bucket
):
    # GIVEN an event without versionId, and the key since overwritten with other content (another ETag)
    source = uploaded(bucket, "uploads/chelsea.jpg", version_id=None)
    bucket.put("uploads/chelsea.jpg", source.size, etag="0f343b0931126a20f133d67c2b018a3b", version_id="v8")

    # WHEN it is dispatched
    result = dispatcher.dispatch(source)

    # THEN no version is pinned and the job is identified by the event's ETag
    assert jobs.records[result.job_id]["source"]["versionId"] is None
    assert result.job_id == job_id_for(source)
    assert topic.published[0].version_id is None


def test_a_new_job_gets_a_deadline_counted_from_its_creation(dispatcher, jobs, bucket):
    # GIVEN an uploaded image WHEN it is dispatched
    result = dispatcher.dispatch(uploaded(bucket, "uploads/chelsea.jpg"))

    # THEN its record carries deadlineAt, job_deadline_seconds after createdAt
    record = jobs.records[result.job_id]
    waited = parse_iso(record["deadlineAt"]) - parse_iso(record["createdAt"])
    assert waited.total_seconds() == DEADLINE_SECONDS


def test_a_rejected_upload_has_no_deadline(dispatcher, jobs, bucket):
    result = dispatcher.dispatch(uploaded(bucket, "uploads/empty.jpg", size=0))
    assert jobs.records[result.job_id]["status"] == "FAILED"
    assert "deadlineAt" not in jobs.records[result.job_id]


def test_a_redelivered_event_publishes_a_job_the_sweeper_failed_before_its_message_went_out(
    dispatcher, jobs, topic, bucket
):
    # GIVEN a record whose publish failed, then failed by the sweeper (FAILED, never dispatched)
    source = uploaded(bucket, "uploads/chelsea.jpg")
    crashed = dataclasses.replace(dispatcher, topic=_ExplodingTopic())
    with pytest.raises(ConnectionError):
        crashed.dispatch(source)
    job_id = job_id_for(source)
    jobs.records[job_id] |= {
        "status": "FAILED",
        "failureReason": "timeout: still PENDING",
        "completedAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }

    # WHEN the event is delivered again (a redrive from the dispatch failures queue)
    result = dispatcher.dispatch(source)

    # THEN the job is PENDING again with a fresh deadline, and its one message is published
    assert result.action == "republished"
    record = jobs.records[job_id]
    assert record["status"] == "PENDING"
    assert "failureReason" not in record
    assert record["deadlineAt"] > "2026-01-01T00:00:00.000Z"
    assert topic.published == [JobMessage(job_id, BUCKET, "uploads/chelsea.jpg", "v1", STEPS)]
    assert record["dispatchedAt"]


def test_a_redelivered_event_leaves_a_failed_job_whose_steps_ran_alone(dispatcher, jobs, topic, bucket):
    # GIVEN a job that was dispatched and failed in a step
    source = uploaded(bucket, "uploads/chelsea.jpg")
    job_id = dispatcher.dispatch(source).job_id
    jobs.records[job_id]["status"] = "FAILED"
    jobs.records[job_id]["steps"]["resize"]["status"] = "FAILED"

    # WHEN its event comes again THEN it is a duplicate: the operator's retry is the way back
    assert dispatcher.dispatch(source).action == "duplicate"
    assert jobs.records[job_id]["status"] == "FAILED"
    assert len(topic.published) == 1


def test_every_new_record_expires_after_the_record_retention(dispatcher, jobs, bucket):
    # GIVEN an accepted upload and an empty (rejected) one
    accepted = dispatcher.dispatch(uploaded(bucket, "uploads/cat.png"))
    rejected = dispatcher.dispatch(uploaded(bucket, "uploads/empty.png", size=0))

    # THEN both records carry the epoch second, records_days after creation, when DynamoDB TTL deletes them
    for result in (accepted, rejected):
        record = jobs.records[result.job_id]
        created = datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
        assert record["expiresAt"] == int(created.timestamp()) + RECORD_RETENTION_DAYS * 86400
