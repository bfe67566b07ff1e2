"""Which steps an operator's retry runs again (pixelpipe.logic.lifecycle.steps_to_retry)."""

from __future__ import annotations

import pytest

from pixelpipe.logic.lifecycle import RetryRefused, steps_to_retry


def failed_job(**steps: str) -> dict:
    return {
        "jobId": "job-1",
        "status": "FAILED",
        "steps": {name: {"status": status} for name, status in steps.items()},
        "history": [],
    }


def test_a_retry_runs_the_failed_steps_by_default():
    assert steps_to_retry(failed_job(resize="SUCCEEDED", analysis="FAILED")) == ["analysis"]


def test_naming_a_step_that_leaves_a_failed_one_behind_is_refused():
    # GIVEN analysis failed; WHEN only resize is named THEN the job could only fail again: refused
    job = failed_job(resize="SUCCEEDED", analysis="FAILED")
    with pytest.raises(RetryRefused, match="would fail again: analysis stays FAILED"):
        steps_to_retry(job, ["resize"])


def test_force_or_naming_every_failed_step_is_allowed():
    job = failed_job(resize="SUCCEEDED", analysis="FAILED")
    assert steps_to_retry(job, ["resize"], force=True) == ["resize"]
    assert steps_to_retry(job, ["resize", "analysis", "resize"]) == ["resize", "analysis"]
