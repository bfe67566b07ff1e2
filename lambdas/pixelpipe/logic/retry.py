"""Retrying one job: reopen only the steps to run again and publish one message naming just those steps.

Shared by the operator CLI (`pixelpipe retry`, the console) and the `api` function's
`POST /jobs/{id}/retry`: the Lambda cannot import the CLI, so the rule lives here and the CLI wraps it.
The job goes back to PENDING with its attempts and history kept and a fresh deadline; the message's
`steps` attribute lets each worker's subscription filter pick it up only when it names the worker's step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from pixelpipe.adapters.jobs_table import is_conditional_failure
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import JobStatus, RetryRefused, deadline_after, steps_to_retry


class RetryError(Exception):
    """A retry that did not happen (or half happened); `kind` says which, for an HTTP status or exit code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_found | refused | conflict | unpublished


class ReopensJobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...
    def reopen_steps(
        self, job_id: str, steps: list[str], at: str, detail: str, force: bool, deadline_at: str
    ) -> dict[str, Any]: ...


class Publisher(Protocol):
    def publish(self, message: JobMessage) -> str: ...


@dataclass(frozen=True)
class RetryResult:
    job_id: str
    steps: list[str]
    message_id: str
    previous_status: str


def reopen(
    jobs: ReopensJobs, job_id: str, steps: list[str], detail: str, deadline_seconds: int, force: bool = False
) -> bool:
    """Reopen `steps` of a job with a fresh deadline (a reopened job gets as long as a new one);
    False when the job changed under us."""
    now = now_iso()
    try:
        jobs.reopen_steps(job_id, steps, now, detail, force, deadline_after(now, deadline_seconds))
    except ClientError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


def retry_job(
    jobs: ReopensJobs,
    topic: Publisher,
    job_id: str,
    deadline_seconds: int,
    steps: list[str] | None = None,
    force: bool = False,
) -> RetryResult:
    """Reopen the steps to re-run and publish one message naming only them; RetryError otherwise."""
    job = jobs.get(job_id)
    if job is None:
        raise RetryError("not_found", f"no job {job_id}")
    try:
        chosen = steps_to_retry(job, steps, force)  # the rules live in the lifecycle module
    except RetryRefused as refused:
        raise RetryError("refused", str(refused)) from refused
    forced = force and job["status"] == JobStatus.COMPLETE
    detail = f"re-run {', '.join(chosen)}" + (" (forced)" if forced else "")
    if not reopen(jobs, job_id, chosen, detail, deadline_seconds, force):
        raise RetryError(
            "conflict", f"job {job_id} changed while it was being retried; look at it and try again"
        )
    source = job["source"]
    message = JobMessage(job_id, source["bucket"], source["key"], source.get("versionId"), chosen)
    try:
        message_id = topic.publish(message)
    except Exception as error:
        raise RetryError(
            "unpublished",
            f"job {job_id} was reopened but its message could not be published ({error}); the deadline "
            "sweeper will fail it, then it can be retried again",
        ) from error
    return RetryResult(job_id, chosen, message_id, job["status"])
