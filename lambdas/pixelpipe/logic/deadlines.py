"""Never stuck: jobs still PENDING past their deadline are failed with reason `timeout`.

A job's `deadlineAt` is set when it is created and again when an operator retries it, so a retry of
an old job gets a full deadline. The sweep only finds overdue jobs; the reconcile state machine makes
the change, and only while the job is still PENDING with the deadline passed, so a job that finished
or was reopened after the sweep read it keeps its state.

The sweep also re-sends job-finished events that were never confirmed: the terminal transition marks
its event pending and the execution that made it clears the mark once EventBridge took the event. A
mark older than `resend_after_seconds` (more than an Express execution can live) means that execution
is gone without sending, so the sweeper starts one that re-reads the job and sends it (same eventId).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.lifecycle import JobStatus, StepStatus


class ListsJobs(Protocol):
    def overdue(self, now: str, limit: int = 500) -> list[dict[str, Any]]: ...

    def by_status(
        self, status: str, created_before: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...


class StartsDeadlines(Protocol):
    def fail_past_deadline(self, job_id: str, reason: str) -> None: ...


class ListsUnconfirmedEvents(Protocol):
    def unconfirmed(self, before: str, limit: int = 500) -> list[str]: ...


class ResendsEvents(Protocol):
    def resend_event(self, job_id: str) -> None: ...


def timeout_reason(job: dict[str, Any], deadline_seconds: int) -> str:
    unfinished = [
        name for name, step in job.get("steps", {}).items() if step.get("status") != StepStatus.SUCCEEDED
    ]
    waiting_on = ", ".join(unfinished) or "none"
    return (
        f"timeout: still PENDING {deadline_seconds} s after it was created or last retried; "
        f"unfinished steps: {waiting_on}"
    )


@dataclass
class Sweeper:
    jobs: ListsJobs
    reconcile: StartsDeadlines
    deadline_seconds: int
    events: ListsUnconfirmedEvents | None = None
    resend: ResendsEvents | None = None
    resend_after_seconds: int = 0

    def sweep(self, now: str, limit: int = 500) -> list[str]:
        overdue = self.jobs.overdue(now, limit=limit)
        # Records written before jobs carried deadlineAt: their deadline counts from creation.
        cutoff = format_iso(parse_iso(now) - timedelta(seconds=self.deadline_seconds))
        overdue += [
            job
            for job in self.jobs.by_status(JobStatus.PENDING, created_before=cutoff, limit=limit)
            if "deadlineAt" not in job
        ]
        for job in overdue:
            self.reconcile.fail_past_deadline(job["jobId"], timeout_reason(job, self.deadline_seconds))
        return [job["jobId"] for job in overdue]

    def resend_events(self, now: str, limit: int = 500) -> list[str]:
        """Start a re-send for each finished job whose event has been pending for `resend_after_seconds`."""
        if self.events is None or self.resend is None:
            return []
        before = format_iso(parse_iso(now) - timedelta(seconds=self.resend_after_seconds))
        job_ids = self.events.unconfirmed(before, limit=limit)
        for job_id in job_ids:
            self.resend.resend_event(job_id)
        return job_ids
