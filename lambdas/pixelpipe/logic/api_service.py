"""What the front door's routes do, with no HTTP and no Lambda event in sight.

`FrontDoor` takes a `Caller` and plain values, returns plain data and raises the errors below; the
handler (handlers/api.py) maps each error to its documented status (docs/api.md). Every dependency is a
small protocol, so tests drive it with moto or with fakes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Protocol

from pixelpipe.logic import retry as job_retry
from pixelpipe.logic.api_auth import Caller
from pixelpipe.logic.uploads import (
    UploadRequest,
    allowed_content_types,
    is_upload_id,
    new_upload_id,
    upload_job_id,
    upload_key,
    uploader_of,
)


class ApiError(Exception):
    """An answer other than success: `status` and `code` are the documented ones (docs/api.md)."""

    status = 400
    code = "BadRequest"


class BadRequest(ApiError):
    pass


class NotFound(ApiError):
    status, code = 404, "NotFound"


class Conflict(ApiError):
    status, code = 409, "Conflict"


class Unavailable(ApiError):
    status, code = 503, "ServiceUnavailable"


@dataclass(frozen=True)
class ApiSettings:
    """The `api` section of pipeline.json and the limits the routes apply."""

    upload_prefix: str
    upload_bucket: str
    thumbnail_bucket: str
    max_input_bytes: int
    allowed_formats: list[str]
    upload_expiry_seconds: int
    download_expiry_seconds: int
    page_size: int
    job_deadline_seconds: int
    # Every worker's result field (pipeline.json): a worker added there is in the public record with no
    # change here.
    result_fields: tuple[str, ...] = ()


class Presigner(Protocol):
    def post(self, request: UploadRequest) -> dict[str, Any]: ...
    def get_url(self, bucket: str, key: str, expires_in: int) -> str: ...


class HeadsObjects(Protocol):
    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None: ...


class ReadsJobs(job_retry.ReopensJobs, Protocol):
    def page_by_status(
        self, status: str, since: str | None, limit: int, start_key: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]: ...


# The record's fields a client sees besides the workers' results (docs/job-record.md, docs/api.md);
# bookkeeping and tracing stay inside.
PUBLIC_FIELDS = (
    "jobId",
    "status",
    "expectedSteps",
    "steps",
    "failureReason",
    "createdAt",
    "updatedAt",
    "completedAt",
)
PUBLIC_SOURCE_FIELDS = ("key", "size", "contentType", "fileName")
_CURSOR_KEYS = frozenset({"jobId", "status", "createdAt"})


def encode_cursor(last_key: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, status: str) -> dict[str, str]:
    """The index position a cursor names; BadRequest for anything `encode_cursor` did not make for this
    status (a cursor is opaque: it is handed back, never built)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise BadRequest("malformed cursor") from error
    if (
        not isinstance(key, dict)
        or set(key) != _CURSOR_KEYS
        or not all(isinstance(v, str) and v for v in key.values())
        or key["status"] != status
    ):
        raise BadRequest("malformed cursor")
    return key


@dataclass
class FrontDoor:
    settings: ApiSettings
    jobs: ReadsJobs
    storage: HeadsObjects
    presigner: Presigner
    topic: job_retry.Publisher

    def new_upload(self, caller: Caller, file_name: str, content_type: str) -> dict[str, Any]:
        caller.require_upload()
        allowed = allowed_content_types(self.settings.allowed_formats)
        if content_type not in allowed:
            raise BadRequest(f"contentType must be one of {', '.join(allowed)}")
        upload_id = new_upload_id()
        request = UploadRequest(
            bucket=self.settings.upload_bucket,
            key=upload_key(self.settings.upload_prefix, upload_id),
            content_type=content_type,
            owner=caller.owner,
            file_name=file_name,
            max_bytes=self.settings.max_input_bytes,
            expires_in=self.settings.upload_expiry_seconds,
        )
        form = self.presigner.post(request)
        return {
            "uploadId": upload_id,
            "key": request.key,
            "url": form["url"],
            "fields": form["fields"],
            "expiresInSeconds": request.expires_in,
            "maxBytes": request.max_bytes,
            "contentType": content_type,
            "status": f"/uploads/{upload_id}",
        }

    def upload_status(self, caller: Caller, upload_id: str) -> dict[str, Any]:
        """Where an upload is: not yet received, received (its job id), and the job once dispatched."""
        caller.require_upload()
        if not is_upload_id(upload_id):
            raise NotFound("no such upload")
        key = upload_key(self.settings.upload_prefix, upload_id)
        head = self.storage.head(self.settings.upload_bucket, key)
        if head is None:
            return {"uploadId": upload_id, "key": key, "uploaded": False, "jobId": None, "job": None}
        owner, _ = uploader_of(head)
        if not caller.may_read(owner):
            raise NotFound("no such upload")  # 404, not 403: another caller's upload is not named
        job_id = upload_job_id(self.settings.upload_bucket, key, head)
        job = self.jobs.get(job_id)
        return {
            "uploadId": upload_id,
            "key": key,
            "uploaded": True,
            "jobId": job_id,
            "job": self._public(job) if job else None,
        }

    def get_job(self, caller: Caller, job_id: str) -> dict[str, Any]:
        caller.require_upload()
        job = self.jobs.get(job_id) if len(job_id) <= 64 else None
        if job is None or not caller.may_read(job.get("owner")):
            raise NotFound(f"no job {job_id}")
        return self._public(job)

    def list_jobs(self, caller: Caller, status: str, since: str | None, cursor: str | None) -> dict[str, Any]:
        caller.require_operator()
        start = decode_cursor(cursor, status) if cursor else None
        try:
            jobs, last = self.jobs.page_by_status(status, since, self.settings.page_size, start)
        except ValueError as error:  # the store refused the position (adapters/job_pages.CursorRefused)
            raise BadRequest("malformed cursor") from error
        return {
            "jobs": [self._public(job, urls=False) for job in jobs],
            "cursor": encode_cursor(last) if last else None,
        }

    def retry(self, caller: Caller, job_id: str, steps: list[str] | None, force: bool) -> dict[str, Any]:
        caller.require_operator()
        try:
            result = job_retry.retry_job(
                self.jobs, self.topic, job_id, self.settings.job_deadline_seconds, steps, force
            )
        except job_retry.RetryError as error:
            statuses = {"not_found": NotFound, "refused": Conflict, "conflict": Conflict}
            kind = statuses.get(error.kind, Unavailable)
            raise kind(str(error)) from error
        return {
            "jobId": result.job_id,
            "steps": result.steps,
            "previousStatus": result.previous_status,
            "messageId": result.message_id,
        }

    def _public(self, job: dict[str, Any], urls: bool = True) -> dict[str, Any]:
        """The public record (docs/api.md), with short-lived GET URLs for the thumbnails."""
        public = {name: job[name] for name in (*PUBLIC_FIELDS, *self.settings.result_fields) if name in job}
        source = job.get("source") or {}
        public["source"] = {name: source.get(name) for name in PUBLIC_SOURCE_FIELDS}
        if urls and job.get("thumbnails"):
            public["thumbnails"] = [
                {
                    **thumb,
                    "url": self.presigner.get_url(
                        self.settings.thumbnail_bucket, thumb["key"], self.settings.download_expiry_seconds
                    ),
                }
                for thumb in job["thumbnails"]
            ]
        return public
