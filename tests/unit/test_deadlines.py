"""The sweep (pixelpipe.logic.deadlines): which PENDING jobs are overdue, and the reason they fail with."""

from __future__ import annotations

from typing import Any

from pixelpipe.logic.deadlines import Sweeper, timeout_reason

NOW = "2026-11-25T12:00:00.000Z"


class Jobs:
    """Answers like the two indexes: `overdue` (deadlineAt <= now) and `by_status` (createdAt < cutoff)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def overdue(self, now: str, limit: int = 500) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "PENDING" and r.get("deadlineAt", "~") <= now]

    def by_status(self, status: str, created_before: str | None = None, limit: int = 100) -> list[dict]:
        return [r for r in self.records if r["status"] == status and r["createdAt"] < (created_before or "~")]


class Deadlines:
    def __init__(self) -> None:
        self.failed: dict[str, str] = {}

    def fail_past_deadline(self, job_id: str, reason: str) -> None:
        self.failed[job_id] = reason


def job(job_id: str, created: str, deadline: str | None, status: str = "PENDING") -> dict[str, Any]:
    record = {
        "jobId": job_id,
        "status": status,
        "createdAt": created,
        "steps": {"resize": {"status": "RUNNING"}},
    }
    return record | ({"deadlineAt": deadline} if deadline else {})


def test_an_old_job_retried_recently_is_not_overdue():
    # GIVEN a job uploaded two hours ago but retried a minute ago (deadlineAt moved 15 minutes ahead)
    retried = job("retried", "2026-11-25T10:00:00.000Z", "2026-11-25T12:14:00.000Z")
    overdue = job("overdue", "2026-11-25T11:40:00.000Z", "2026-11-25T11:55:00.000Z")
    deadlines = Deadlines()

    # WHEN the sweep runs
    swept = Sweeper(Jobs([retried, overdue]), deadlines, deadline_seconds=900).sweep(NOW)

    # THEN only the job past its own deadline is failed
    assert swept == ["overdue"]
    assert deadlines.failed == {"overdue": timeout_reason(overdue, 900)}


def test_a_record_written_before_deadlines_existed_counts_from_its_creation():
    # GIVEN a legacy PENDING record without deadlineAt, older than the deadline, and a recent one
    legacy_old = job("legacy-old", "2026-11-25T11:00:00.000Z", None)
    legacy_new = job("legacy-new", "2026-11-25T11:59:00.000Z", None)

    # WHEN the sweep runs THEN only the old one is failed, once
    deadlines = Deadlines()
    assert Sweeper(Jobs([legacy_old, legacy_new]), deadlines, 900).sweep(NOW) == ["legacy-old"]


def test_the_timeout_reason_names_the_unfinished_steps():
    record = job("j", NOW, NOW) | {
        "steps": {"resize": {"status": "SUCCEEDED"}, "analysis": {"status": "RUNNING"}}
    }
    assert timeout_reason(record, 900) == (
        "timeout: still PENDING 900 s after it was created or last retried; unfinished steps: analysis"
    )
