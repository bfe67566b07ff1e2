"""Turning one uploaded object into one job: record first, then a single SNS message.

Safe to repeat: the job id is deterministic and the record is created with a conditional put, so a
duplicate S3 event publishes nothing new, while a repeat after a crash between the record and the
publish (no `dispatchedAt` yet) publishes the message that was missed — also when the sweeper failed
that never-started job in the meantime (a redrive from the dispatch failures queue): it is reopened
with a fresh deadline first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from pixelpipe.logic.clock import now_iso, parse_iso
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe.logic.lifecycle import JobStatus, deadline_after
from pixelpipe.logic.uploads import uploader_of


class JobStore(Protocol):
    def create(self, record: dict[str, Any]) -> bool: ...
    def get(self, job_id: str) -> dict[str, Any] | None: ...
    def mark_dispatched(self, job_id: str, at: str, message_id: str) -> None: ...
    def reopen_undispatched(self, job: dict[str, Any], at: str, detail: str, deadline_at: str) -> bool: ...


class Publisher(Protocol):
    def publish(self, message: JobMessage) -> str: ...


class DescribesObjects(Protocol):
    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class DispatchResult:
    job_id: str | None
    action: str  # created | rejected | republished | duplicate | skipped
    detail: str = ""


def intake_rejection(source: SourceObject, max_input_bytes: int) -> str | None:
    """Reasons to fail a job before any worker sees it: cheap facts from the S3 event alone."""
    if source.size == 0:
        return "empty file: the upload has 0 bytes"
    if source.size > max_input_bytes:
        return f"too large: {source.size} bytes exceeds the {max_input_bytes}-byte limit"
    return None


@dataclass
class Dispatcher:
    jobs: JobStore
    topic: Publisher
    storage: DescribesObjects
    upload_prefix: str
    steps: list[str]
    max_input_bytes: int
    deadline_seconds: int
    record_retention_days: int

    def dispatch(self, source: SourceObject, trace_id: str | None = None) -> DispatchResult:
        if not source.key.startswith(self.upload_prefix) or source.key.endswith("/"):
            return DispatchResult(None, "skipped", f"key outside {self.upload_prefix!r}: {source.key!r}")
        head = self.storage.head(source.bucket, source.key, source.version_id)
        if head is None:
            return DispatchResult(None, "skipped", f"object no longer exists: {source.key!r}")
        source = replace(source, content_type=head.get("ContentType"), version_id=_version_of(source, head))
        job_id = job_id_for(source)
        now = now_iso()
        rejection = intake_rejection(source, self.max_input_bytes)
        expires_at = int(parse_iso(now).timestamp()) + self.record_retention_days * 86400
        record = new_job_record(
            job_id,
            source,
            self.steps,
            now,
            trace_id=trace_id,
            rejection=rejection,
            deadline_at=deadline_after(now, self.deadline_seconds),
            expires_at=expires_at,
        )
        _record_uploader(record, head)
        if self.jobs.create(record):
            if rejection:
                return DispatchResult(job_id, "rejected", rejection)
            self._publish(job_id, source, now)
            return DispatchResult(job_id, "created")
        existing = self.jobs.get(job_id) or {}
        if existing.get("status") == JobStatus.PENDING and not existing.get("dispatchedAt"):
            self._publish(job_id, source, now)
            return DispatchResult(job_id, "republished", "record existed without a published message")
        if self.jobs.reopen_undispatched(
            existing,
            now,
            "event delivered again; the job's message was never published",
            deadline_after(now, self.deadline_seconds),
        ):
            self._publish(job_id, source, now)
            return DispatchResult(job_id, "republished", "failed before its message was published; reopened")
        return DispatchResult(job_id, "duplicate")

    def _publish(self, job_id: str, source: SourceObject, now: str) -> None:
        message = JobMessage(job_id, source.bucket, source.key, source.version_id, list(self.steps))
        message_id = self.topic.publish(message)
        self.jobs.mark_dispatched(job_id, now_iso(), message_id)


def _record_uploader(record: dict[str, Any], head: dict[str, Any]) -> None:
    """An upload through the front door names its owner and file name in its metadata (logic/uploads.py):
    the job keeps them, so `GET /jobs/{id}` shows a job only to its owner (and operators)."""
    owner, file_name = uploader_of(head)
    if owner:
        record["owner"] = owner
    if file_name:
        record["source"]["fileName"] = file_name


def _version_of(source: SourceObject, head: dict[str, Any]) -> str | None:
    """The event's versionId; failing that (an emulator's event), HEAD's, if it is the same content."""
    if source.version_id:
        return source.version_id
    same_content = head.get("ETag", "").strip('"') == source.etag.strip('"')
    return head.get("VersionId") if same_content else None
