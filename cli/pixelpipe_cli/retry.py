"""Retrying jobs: reopen only the steps to run again and publish one message naming just those steps.

The job goes back to PENDING with its attempts and history kept; the message's `steps` attribute lets
each worker's subscription filter pick it up only when it names the worker's step. Local and AWS do
exactly the same calls (DynamoDB update, SNS Publish), so nothing here depends on the target's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.topic import JobsTopic
from pixelpipe.config import settings
from pixelpipe.logic import retry as job_retry
from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli.target import Target


class OperationError(Exception):
    """A refusal or failure to show the operator as one clear line (the CLI exits 1)."""


def jobs_table(target: Target) -> JobsTable:
    return JobsTable(target.client("dynamodb"), target.jobs_table, target.status_index)


def reopen(jobs: JobsTable, job_id: str, steps: list[str], detail: str, force: bool = False) -> bool:
    """Reopen `steps` of a job with a fresh deadline; False when the job changed under us (the rule is
    `pixelpipe.logic.retry`, shared with the API's retry route)."""
    deadline_seconds = settings().limits.job_deadline_seconds
    return job_retry.reopen(jobs, job_id, steps, detail, deadline_seconds, force)


RetryResult = job_retry.RetryResult


def retry_job(
    target: Target,
    job_id: str,
    steps: list[str] | None = None,
    force: bool = False,
    jobs: JobsTable | None = None,
    topic: JobsTopic | None = None,
) -> RetryResult:
    """Reopen the steps to re-run and publish one message naming only them (pixelpipe.logic.retry)."""
    jobs = jobs or jobs_table(target)
    topic = topic or JobsTopic(target.client("sns"), target.topic_arn)
    deadline_seconds = settings().limits.job_deadline_seconds
    try:
        return job_retry.retry_job(jobs, topic, job_id, deadline_seconds, steps, force)
    except job_retry.RetryError as error:
        raise OperationError(str(error)) from error


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
