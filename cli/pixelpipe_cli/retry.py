"""Retrying jobs: reopen only the steps to run again and publish one message naming just those steps.

The job goes back to PENDING with its attempts and history kept; the message's `steps` attribute lets
each worker's subscription filter pick it up only when it names the worker's step. Local and AWS do
exactly the same calls (DynamoDB update, SNS Publish), so nothing here depends on the target's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.adapters.jobs_table import JobsTable, is_conditional_failure
from pixelpipe.adapters.topic import JobsTopic
from pixelpipe.config import pipeline_config
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import JobStatus, RetryRefused, deadline_after, steps_to_retry
from pixelpipe_cli.target import Target


class OperationError(Exception):
    """A refusal or failure to show the operator as one clear line (the CLI exits 1)."""


def jobs_table(target: Target) -> JobsTable:
    return JobsTable(target.client("dynamodb"), target.jobs_table, target.status_index)


def reopen(jobs: JobsTable, job_id: str, steps: list[str], detail: str, force: bool = False) -> bool:
    """Reopen `steps` of a job with a fresh deadline; False when the job changed under us.

    A reopened job gets the same time to finish as a new one (limits.job_deadline_seconds).
    """
    now = now_iso()
    deadline = deadline_after(now, pipeline_config()["limits"]["job_deadline_seconds"])
    try:
        jobs.reopen_steps(job_id, steps, now, detail, force, deadline)
    except ClientError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


@dataclass(frozen=True)
class RetryResult:
    job_id: str
    steps: list[str]
    message_id: str
    previous_status: str


def retry_job(
    target: Target,
    job_id: str,
    steps: list[str] | None = None,
    force: bool = False,
    jobs: JobsTable | None = None,
    topic: JobsTopic | None = None,
) -> RetryResult:
    """Reopen the steps to re-run and publish one message naming only them."""
    jobs = jobs or jobs_table(target)
    job = jobs.get(job_id)
    if job is None:
        raise OperationError(f"no job {job_id}")
    try:
        chosen = steps_to_retry(job, steps, force)  # the rules live in the lifecycle module
    except RetryRefused as refused:
        raise OperationError(str(refused)) from refused
    forced = force and job["status"] == JobStatus.COMPLETE
    detail = f"re-run {', '.join(chosen)}" + (" (forced)" if forced else "")
    if not reopen(jobs, job_id, chosen, detail, force):
        raise OperationError(f"job {job_id} changed while it was being retried; look at it and try again")
    source = job["source"]
    message = JobMessage(job_id, source["bucket"], source["key"], source.get("versionId"), chosen)
    topic = topic or JobsTopic(target.client("sns"), target.topic_arn)
    try:
        message_id = topic.publish(message)
    except Exception as error:
        raise OperationError(
            f"job {job_id} was reopened but its message could not be published ({error}); the deadline "
            "sweeper will fail it, then it can be retried again"
        ) from error
    return RetryResult(job_id, chosen, message_id, job["status"])


def failed_jobs(target: Target, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """FAILED jobs created at or after `since` (ISO 8601), newest first."""
    return jobs_table(target).by_status(JobStatus.FAILED, limit=limit, created_since=since)


@dataclass
class BulkRetry:
    retried: list[RetryResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # job id -> why


def retry_failed(
    target: Target,
    since: str | None = None,
    limit: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> BulkRetry:
    """Retry every FAILED job (since a time); a job that can't be retried is skipped with its reason."""
    candidates = failed_jobs(target, since, limit)
    jobs = jobs_table(target)
    topic = JobsTopic(target.client("sns"), target.topic_arn)
    outcome = BulkRetry()
    for done, job in enumerate(candidates, 1):
        try:
            outcome.retried.append(retry_job(target, job["jobId"], jobs=jobs, topic=topic))
        except OperationError as error:
            outcome.skipped[job["jobId"]] = str(error)
        if on_progress:
            on_progress(done, len(candidates))
    return outcome
