"""Faults the reconciler's property tests (test_reconcile_properties.py) found, each replayed as the
shortest sequence that shows it, against the real ASL."""

from __future__ import annotations

import uuid

import pytest
from test_reconcile_state_machine import DEADLINE, at, completion, job_events

from pixelpipe.adapters.reconciler import completion_input
from pixelpipe.config import pipeline_config, step_names
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record


@pytest.fixture
def job_id(reconcile_stack) -> str:
    source = SourceObject(
        bucket=pipeline_config()["storage"]["upload_bucket"],
        key=f"{pipeline_config()['storage']['upload_prefix']}{uuid.uuid4().hex}/chelsea.png",
        size=240_000,
        etag='"5d41402abc4b2a76b9719d911017c592"',
        version_id=uuid.uuid4().hex,
        content_type="image/png",
    )
    new_id = job_id_for(source)
    reconcile_stack.put_job(new_job_record(new_id, source, step_names(), at(0), deadline_at=at(DEADLINE)))
    return new_id


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
