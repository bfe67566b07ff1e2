"""The DLQ redrive rule (pixelpipe.logic.redrive): which dead steps are reopened on which jobs."""

from __future__ import annotations

from typing import Any

from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import JobStatus, StepStatus
from pixelpipe.logic.redrive import UNKNOWN_JOB, job_id_of, reopen_for_redrive


def body(job_id: str, step: str) -> str:
    return JobMessage(job_id, "uploads-bucket", f"uploads/{job_id}.png", None, [step]).to_json()


def job(status: JobStatus, **steps: StepStatus) -> dict[str, Any]:
    return {"status": status, "steps": {name: {"status": s} for name, s in steps.items()}, "history": []}


class Jobs:
    """The jobs table as the rule sees it: records by id, and the reopenings asked for."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records, self.reopened = records, []

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.records.get(job_id)

    def reopen_steps(self, job_id, steps, at, detail, force, deadline_at) -> dict[str, Any]:
        self.reopened.append((job_id, steps, detail, force))
        return {}


def test_a_job_dead_in_two_queues_gets_both_steps_reopened_in_one_write():
    jobs = Jobs({"j1": job(JobStatus.FAILED, resize=StepStatus.FAILED, analysis=StepStatus.FAILED)})
    dead = {"resize": [(body("j1", "resize"), None)], "analysis": [(body("j1", "analysis"), None)]}
    job_ids, reopened = reopen_for_redrive(jobs, dead, deadline_seconds=900)
    assert job_ids == {"resize": ["j1"], "analysis": ["j1"]} and reopened == {"j1"}
    assert jobs.reopened == [("j1", ["resize", "analysis"], "DLQ redrive of resize, analysis", False)]


def test_a_finished_or_vanished_job_and_a_succeeded_step_are_left_alone():
    jobs = Jobs(
        {
            "done": job(JobStatus.COMPLETE, resize=StepStatus.SUCCEEDED),
            "half": job(JobStatus.FAILED, resize=StepStatus.SUCCEEDED, analysis=StepStatus.FAILED),
        }
    )
    dead = {
        "resize": [
            (body("done", "resize"), None),
            (body("gone", "resize"), None),
            (body("half", "resize"), None),
        ],
        "analysis": [(body("half", "analysis"), None)],
    }
    _, reopened = reopen_for_redrive(jobs, dead, deadline_seconds=900)
    # only half's failed analysis comes back: its resize succeeded, done finished, gone has no record
    assert reopened == {"half"}
    assert jobs.reopened == [("half", ["analysis"], "DLQ redrive of analysis", False)]


def test_an_unreadable_body_is_known_by_its_job_id_attribute_or_not_at_all():
    assert job_id_of("not json", "j7") == "j7"
    assert job_id_of("not json", None) == UNKNOWN_JOB
    assert job_id_of(body("j8", "resize"), "ignored") == "j8"
