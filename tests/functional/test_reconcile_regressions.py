"""Faults the reconciler's property tests (test_reconcile_properties.py) found, each replayed as the
shortest sequence that shows it, against the real ASL."""

from __future__ import annotations

from test_reconcile_state_machine import completion, job_events

from pixelpipe.adapters.reconciler import completion_input
from support.reconcile_jobs import DEADLINE, at


def test_retrying_only_a_succeeded_step_of_a_failed_job_keeps_the_failed_steps_reason(
    reconcile_stack, job_id
):
    # GIVEN a job FAILED because analysis failed, while resize succeeded
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 2)), "resize")
    reconcile_stack.run_ok(
        completion_input(completion(job_id, "analysis", 1, 3, error="not an image: a PDF")), "analysis"
    )
    assert reconcile_stack.job(job_id)["status"] == "FAILED"

    # WHEN an operator retries resize alone (`pixelpipe retry JOB --step resize`), and it succeeds again
    reconcile_stack.jobs.reopen_steps(
        job_id, ["resize"], at(10), "re-run resize", force=False, deadline_at=at(10 + DEADLINE)
    )
    reopened = reconcile_stack.job(job_id)
    claim = reconcile_stack.claim(job_id, "resize", at(11))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", claim.attempt, 12)), "resize-again")

    # THEN the PENDING job still says which step failed, and so does the FAILED job it becomes again
    # (the reopen used to remove failureReason, and the job ended FAILED without one)
    assert reopened["status"] == "PENDING"
    assert reopened["failureReason"] == "analysis: not an image: a PDF"
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failureReason"] == "analysis: not an image: a PDF"
    assert job_events(job) == ["FAILED", "FAILED"]


def test_retrying_every_failed_step_clears_the_reason(reconcile_stack, job_id):
    # GIVEN a job FAILED because analysis failed
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    failure = completion(job_id, "analysis", 1, 2, error="truncated")
    reconcile_stack.run_ok(completion_input(failure), "analysis")

    # WHEN analysis is retried
    reopened = reconcile_stack.jobs.reopen_steps(
        job_id, ["analysis"], at(10), "re-run analysis", force=False, deadline_at=at(10 + DEADLINE)
    )

    # THEN the job is PENDING with no reason until a step fails again
    assert reopened["status"] == "PENDING"
    assert "failureReason" not in reopened and "completedAt" not in reopened
