"""Never stuck: jobs still PENDING past the deadline are failed with reason `timeout`.

The sweep only finds them; the reconcile state machine makes the change, so a job that finished in
the meantime keeps its terminal state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.jobs import PENDING


class ListsJobs(Protocol):
    def by_status(
        self, status: str, created_before: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...


class StartsDeadlines(Protocol):
    def fail_past_deadline(self, job_id: str, reason: str) -> None: ...


def timeout_reason(job: dict[str, Any], deadline_seconds: int) -> str:
    unfinished = [
        name for name, step in job.get("steps", {}).items() if step.get("status") not in ("SUCCEEDED",)
    ]
    waiting_on = ", ".join(unfinished) or "none"
    return f"timeout: still PENDING {deadline_seconds} s after creation; unfinished steps: {waiting_on}"


@dataclass
class Sweeper:
    jobs: ListsJobs
    reconcile: StartsDeadlines
    deadline_seconds: int

    def sweep(self, now: str, limit: int = 500) -> list[str]:
        cutoff = format_iso(parse_iso(now) - timedelta(seconds=self.deadline_seconds))
        overdue = self.jobs.by_status(PENDING, created_before=cutoff, limit=limit)
        for job in overdue:
            self.reconcile.fail_past_deadline(job["jobId"], timeout_reason(job, self.deadline_seconds))
        return [job["jobId"] for job in overdue]
