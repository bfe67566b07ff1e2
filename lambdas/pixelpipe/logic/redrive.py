"""The rule of a DLQ redrive: which dead messages' steps are reopened on their jobs, and reopening them.

A worker's claim needs the job PENDING and the step PENDING/RUNNING, so a dead message can only be
processed again once its step is reopened on its FAILED job; a finished or vanished job is left alone
(the worker's claim then drops the message). The messages come as (body, jobId attribute) pairs, so this
knows nothing of SQS; pixelpipe_cli.redrivers scans and moves them.
"""

from __future__ import annotations

import json

from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import steps_to_redrive
from pixelpipe.logic.retry import ReopensJobs, reopen

UNKNOWN_JOB = "?"


def job_id_of(body: str, job_id_attribute: str | None) -> str:
    """The job a worker's message is about: from its body, else its jobId attribute, else "?"."""
    try:
        return JobMessage.from_json(body).job_id or UNKNOWN_JOB
    except (ValueError, TypeError, json.JSONDecodeError):
        return job_id_attribute or UNKNOWN_JOB


def reopen_for_redrive(
    jobs: ReopensJobs, dead: dict[str, list[tuple[str, str | None]]], deadline_seconds: int
) -> tuple[dict[str, list[str]], set[str]]:
    """The job of each dead message by step, and the jobs whose dead steps were reopened.

    Every step of a job is reopened at once, so a job with dead messages in two DLQs gets both back.
    """
    job_ids = {step: [job_id_of(body, attribute) for body, attribute in dead[step]] for step in dead}
    by_job: dict[str, list[str]] = {}
    for step, ids in job_ids.items():
        for job_id in ids:
            by_job.setdefault(job_id, []).append(step)
    reopened = set()
    for job_id, steps in by_job.items():
        again = steps_to_redrive(jobs.get(job_id), steps)
        if again and reopen(jobs, job_id, again, f"DLQ redrive of {', '.join(again)}", deadline_seconds):
            reopened.add(job_id)
    return job_ids, reopened
