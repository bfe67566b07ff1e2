"""Job records and messages: identity, the initial record, the message that starts steps, and a step's
completion. The statuses and the rules that move them are in logic/lifecycle.py.

The record layout is the public contract documented in docs/job-record.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pixelpipe.logic.lifecycle import JobStatus, StepStatus, history_entry

# The record's expiry, epoch seconds: DynamoDB TTL deletes the record after it (terraform/modules/jobs_table).
EXPIRES_AT = "expiresAt"
INTAKE_EVENT_SUFFIX = ":rejected-at-intake"

# Fixed namespace: the same upload always maps to the same job id, so a duplicate S3 event is a no-op.
_JOB_NAMESPACE = uuid.UUID("6f1c1f0e-4b7a-4d8e-9a57-5d2f7f1c0b11")


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None = None
    content_type: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "contentType": self.content_type,
        }


def job_id_for(source: SourceObject) -> str:
    """Deterministic id: bucket + key + version (or ETag when the bucket is unversioned)."""
    revision = source.version_id or source.etag
    return str(uuid.uuid5(_JOB_NAMESPACE, f"{source.bucket}\n{source.key}\n{revision}"))


def new_job_record(
    job_id: str,
    source: SourceObject,
    steps: list[str],
    now: str,
    trace_id: str | None = None,
    rejection: str | None = None,
    deadline_at: str | None = None,
    expires_at: int | None = None,
) -> dict[str, Any]:
    """The record dispatch writes. A `rejection` (e.g. empty or too large) makes the job FAILED at intake.

    A PENDING job carries `deadlineAt`, the moment the sweeper may fail it; a retry moves it.
    `expires_at` (epoch seconds, from pipeline.json retention.records_days) lets DynamoDB TTL delete the
    record: it names the uploader's object, which expires too.
    """
    record: dict[str, Any] = {
        "jobId": job_id,
        "status": JobStatus.FAILED if rejection else JobStatus.PENDING,
        "source": source.to_record(),
        "expectedSteps": steps,
        "expectedCount": len(steps),
        "succeededCount": 0,
        "failedCount": 0,
        "steps": {name: {"status": StepStatus.PENDING, "attempts": 0} for name in steps},
        "createdAt": now,
        "updatedAt": now,
        "history": [history_entry(now, "dispatch", "created", f"{len(steps)} steps: {', '.join(steps)}")],
    }
    if trace_id:
        record["traceId"] = trace_id
    if deadline_at and not rejection:
        record["deadlineAt"] = deadline_at
    if expires_at is not None:
        record[EXPIRES_AT] = expires_at
    if rejection:
        record["failureReason"] = rejection
        record["completedAt"] = now
        # No reconcile run finishes a job rejected at intake: its job-finished event is left pending for
        # the sweeper to send at its next sweep (docs/job-record.md#job-finished-events).
        record["eventId"] = intake_event_id(job_id)
        record["eventPendingAt"] = now
        record["history"].append(history_entry(now, "dispatch", JobStatus.FAILED, rejection))
    return record


def intake_event_id(job_id: str) -> str:
    """The job-finished event id of a job rejected at intake (a job id is one upload's, so it is unique)."""
    return f"{job_id}{INTAKE_EVENT_SUFFIX}"


def is_intake_event(event_id: str) -> bool:
    """An event no execution owns: the sweeper may send it at once, with no execution to wait for."""
    return event_id.endswith(INTAKE_EVENT_SUFFIX)


@dataclass(frozen=True)
class StepCompletion:
    """One worker's final word on one attempt of one step: the reconcile state machine's input."""

    job_id: str
    step: str
    attempt: int
    succeeded: bool
    started_at: str
    finished_at: str
    duration_ms: int
    result_field: str
    result: Any = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        return StepStatus.SUCCEEDED if self.succeeded else StepStatus.FAILED

    def step_record(self) -> dict[str, Any]:
        return {
            "status": self.outcome,
            "attempts": self.attempt,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "durationMs": self.duration_ms,
            "error": self.error,
        }

    def history(self) -> dict[str, Any]:
        detail = self.error if self.error else f"{self.result_field}: {_summary(self.result)}"
        return history_entry(self.finished_at, self.step, self.outcome, detail, attempt=self.attempt)

    def execution_name(self) -> str:
        """Deterministic, so a repeated start for the same attempt is recognisably the same execution."""
        suffix = f"-{self.attempt}-{self.outcome[0]}"  # kept whole: it is what tells attempts apart
        return f"{self.job_id}-{self.step}"[: 80 - len(suffix)] + suffix


def _summary(result: Any) -> str:
    return f"{len(result)} items" if isinstance(result, list) else "recorded"
