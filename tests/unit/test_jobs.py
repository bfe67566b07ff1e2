"""Job rules (pixelpipe.logic.jobs): identity, the initial record, the worker message, a step's completion."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import EXPIRES_AT, SourceObject, StepCompletion, job_id_for, new_job_record

NOW = "2026-11-25T08:00:00.000Z"
STEPS = ["resize", "analysis"]
SOURCE = SourceObject(
    bucket="pixelpipe-uploads",
    key="uploads/2026/11/café + cat.jpg",
    size=48_213,
    etag='"9b2cf535f27731c974343645a3985328"',
    version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
    content_type="image/jpeg",
)


def completion(**changes) -> StepCompletion:
    base = StepCompletion(
        job_id=job_id_for(SOURCE),
        step="resize",
        attempt=2,
        succeeded=True,
        started_at="2026-11-25T08:00:01.000Z",
        finished_at="2026-11-25T08:00:01.250Z",
        duration_ms=250,
        result_field="thumbnails",
        result=[{"size": 1024}, {"size": 512}, {"size": 256}],
    )
    return dataclasses.replace(base, **changes)


# --- job id -----------------------------------------------------------------------------------


# The id of SOURCE, as every release so far derived it: a change would make a redelivered S3 event of an
# existing upload a second job, and orphan the records already stored.
SOURCE_JOB_ID = "d595c8a0-c7e5-5c31-bc75-d3bad9fd5dec"


def test_the_same_object_version_always_gets_the_same_job_id():
    # GIVEN the same upload described twice, the second time with other non-identifying fields (a
    # duplicate S3 event whose size, ETag quoting or content type differ)
    again = dataclasses.replace(SOURCE, size=1, etag="9b2cf535f27731c974343645a3985328", content_type=None)

    # WHEN ids are derived THEN both are the id this version has always had, a UUIDv5
    assert job_id_for(SOURCE) == job_id_for(again) == SOURCE_JOB_ID
    assert uuid.UUID(SOURCE_JOB_ID).version == 5


@pytest.mark.parametrize(
    "change",
    [
        {"version_id": "Fa1sPDLx5UpQ8Ulj3Yd0dOq.4l.oWBDg"},
        {"key": "uploads/2026/11/café + dog.jpg"},
        {"bucket": "another-bucket"},
    ],
    ids=["new-version", "other-key", "other-bucket"],
)
def test_a_different_version_key_or_bucket_gets_a_different_job_id(change):
    # GIVEN the upload and one that differs in one identifying field
    other = dataclasses.replace(SOURCE, **change)

    # WHEN ids are derived THEN they differ
    assert job_id_for(other) != job_id_for(SOURCE)


def test_an_unversioned_object_is_identified_by_its_etag():
    # GIVEN an object without a versionId, uploaded twice with different content
    first = dataclasses.replace(SOURCE, version_id=None)
    overwritten = dataclasses.replace(first, etag='"0f343b0931126a20f133d67c2b018a3b"')

    # WHEN ids are derived
    # THEN the ETag identifies it (whatever the size or content type an event reports), new content
    # gets a new id, and neither is the versioned object's
    assert job_id_for(dataclasses.replace(first, size=7, content_type=None)) == job_id_for(first)
    assert job_id_for(first) == "cc30ae82-1eab-58c5-93c0-aa7a39e3717e"
    assert job_id_for(overwritten) != job_id_for(first)
    assert job_id_for(first) != SOURCE_JOB_ID


# --- new_job_record ---------------------------------------------------------------------------


def test_a_new_job_is_pending_with_every_step_waiting():
    # WHEN dispatch builds the record for an accepted upload
    record = new_job_record("job-1", SOURCE, STEPS, NOW, trace_id="1-67891233-abcdef012345678912345678")

    # THEN it is PENDING, expects both steps, and has no terminal fields
    assert record["jobId"] == "job-1"
    assert record["status"] == "PENDING"
    assert record["source"] == {
        "bucket": "pixelpipe-uploads",
        "key": "uploads/2026/11/café + cat.jpg",
        "versionId": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        "etag": '"9b2cf535f27731c974343645a3985328"',
        "size": 48_213,
        "contentType": "image/jpeg",
    }
    assert (record["expectedSteps"], record["expectedCount"]) == (STEPS, 2)
    assert (record["succeededCount"], record["failedCount"]) == (0, 0)
    assert record["steps"] == {step: {"status": "PENDING", "attempts": 0} for step in STEPS}
    assert record["createdAt"] == record["updatedAt"] == NOW
    assert record["traceId"] == "1-67891233-abcdef012345678912345678"
    assert [entry["event"] for entry in record["history"]] == ["created"]
    assert "completedAt" not in record
    assert "failureReason" not in record


def test_a_rejected_upload_is_failed_at_once_with_its_reason():
    # WHEN dispatch builds the record for an upload it rejects
    record = new_job_record("job-2", SOURCE, STEPS, NOW, rejection="empty file: the upload has 0 bytes")

    # THEN the job is already FAILED, finished now, with the reason recorded and in its history
    assert record["status"] == "FAILED"
    assert record["failureReason"] == "empty file: the upload has 0 bytes"
    assert record["completedAt"] == NOW
    assert record["history"][-1] == {
        "at": NOW,
        "step": "dispatch",
        "event": "FAILED",
        "detail": "empty file: the upload has 0 bytes",
    }
    assert "traceId" not in record


def test_a_new_job_record_is_plain_json():
    # WHEN the record is serialised THEN nothing in it needs a custom encoder
    record = new_job_record("job-3", SOURCE, STEPS, NOW)
    assert json.loads(json.dumps(record)) == record


# --- JobMessage -------------------------------------------------------------------------------


# The body dispatch publishes, byte for byte: workers of the previous release read what the new dispatch
# sends during a deploy (and messages wait in queues and DLQs for days), so its field names and
# encoding are a contract, pinned here rather than compared with the parser's own output.
PUBLISHED_BODY = (
    '{"job_id":"job-1","bucket":"pixelpipe-uploads","key":"uploads/2026/11/caf\\u00e9 + cat.jpg",'
    '"version_id":"3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY","steps":["resize","analysis"]}'
)


def test_dispatch_publishes_the_agreed_body():
    message = JobMessage("job-1", SOURCE.bucket, SOURCE.key, SOURCE.version_id, list(STEPS))
    assert message.to_json() == PUBLISHED_BODY


@pytest.mark.parametrize(
    ("body", "version_id"),
    [
        (PUBLISHED_BODY, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
        # An unversioned upload, with SNS's raw delivery leaving the JSON's spacing as sent.
        (
            '{"job_id": "job-1", "bucket": "pixelpipe-uploads",'
            ' "key": "uploads/2026/11/caf\\u00e9 + cat.jpg",'
            ' "version_id": null, "steps": ["resize", "analysis"]}',
            None,
        ),
    ],
)
def test_a_worker_reads_the_agreed_body(body, version_id):
    # WHEN a worker parses a body as it sits in its queue THEN it sees the upload, decoded, and the steps
    assert JobMessage.from_json(body) == JobMessage(
        "job-1", "pixelpipe-uploads", "uploads/2026/11/café + cat.jpg", version_id, ["resize", "analysis"]
    )


def test_a_job_message_ignores_fields_it_does_not_know():
    # GIVEN a body from a newer dispatcher with an extra field
    body = json.dumps({"job_id": "j", "bucket": "b", "key": "k", "version_id": None, "steps": [], "x": 1})

    # WHEN parsed THEN the known fields are read and the extra one is dropped
    assert JobMessage.from_json(body) == JobMessage("j", "b", "k", None, [])


# --- StepCompletion ---------------------------------------------------------------------------


def test_a_successful_completion_records_the_step_and_summarises_the_result():
    # GIVEN a successful second attempt of resize
    done = completion()

    # WHEN its record and history entry are built
    # THEN they carry the outcome, the attempt and the timings
    assert done.outcome == "SUCCEEDED"
    assert done.step_record() == {
        "status": "SUCCEEDED",
        "attempts": 2,
        "startedAt": "2026-11-25T08:00:01.000Z",
        "finishedAt": "2026-11-25T08:00:01.250Z",
        "durationMs": 250,
        "error": None,
    }
    assert done.history() == {
        "at": "2026-11-25T08:00:01.250Z",
        "step": "resize",
        "event": "SUCCEEDED",
        "detail": "thumbnails: 3 items",
        "attempt": 2,
    }


def test_a_failed_completion_records_the_error_in_the_step_and_history():
    # GIVEN a failed attempt
    failed = completion(succeeded=False, result=None, error="not an image: a PDF document")

    # WHEN its record and history entry are built THEN both name the error
    assert failed.outcome == "FAILED"
    assert failed.step_record()["status"] == "FAILED"
    assert failed.step_record()["error"] == "not an image: a PDF document"
    assert failed.history()["event"] == "FAILED"
    assert failed.history()["detail"] == "not an image: a PDF document"


def test_the_execution_name_is_deterministic_and_distinguishes_attempt_and_outcome():
    # GIVEN one completion, a repeat of it, and variations
    name = completion().execution_name()

    # WHEN names are derived
    # THEN it is job-step-attempt-outcome; another attempt, outcome or step gives another name
    assert name == f"{SOURCE_JOB_ID}-resize-2-S"
    assert completion(attempt=3).execution_name() != name
    assert completion(succeeded=False, error="x").execution_name() != name
    assert completion(step="analysis").execution_name() != name


def test_the_execution_name_fits_step_functions_80_character_limit():
    # GIVEN a completion with a long step name
    long_step = completion(step="a-very-long-step-name-that-some-future-worker-might-use-for-itself")

    # WHEN its execution name is derived
    name = long_step.execution_name()

    # THEN the step name is cut so that the whole is 80 characters, keeping the attempt and outcome
    # that tell attempts apart
    assert name == f"{SOURCE_JOB_ID}-a-very-long-step-name-that-some-future--2-S"
    assert len(name) == 80
    assert dataclasses.replace(long_step, attempt=3).execution_name() == name[:-3] + "3-S"


def test_a_record_given_an_expiry_carries_it_for_dynamodb_ttl():
    # WHEN dispatch passes the expiry it computed from pipeline.json's records_days
    record = new_job_record("job-4", SOURCE, STEPS, NOW, expires_at=1_800_000_000)

    # THEN the record holds it, as a number, under the attribute the table's TTL reads
    assert record[EXPIRES_AT] == 1_800_000_000
    assert EXPIRES_AT not in new_job_record("job-5", SOURCE, STEPS, NOW)
