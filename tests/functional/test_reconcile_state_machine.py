"""The Express reconcile state machine (statemachine/reconcile.asl.json), executed for real on every path.

Each test writes a real job record, claims steps with the real `JobsTable.claim_step`, starts executions
with the real worker/sweeper inputs, and then reads the record back from DynamoDB.
"""

from __future__ import annotations

from typing import Any

import pytest

from pixelpipe.adapters.reconciler import completion_input, deadline_input
from pixelpipe.config import step_names, workers
from pixelpipe.logic.deadlines import timeout_reason
from pixelpipe.logic.jobs import StepCompletion
from pixelpipe.logic.lifecycle import terminal_transitions
from support.reconcile_jobs import DEADLINE, STEPS, at

KEEP = "Keep terminal state"
DEADLINE_MOVED = "Deadline moved or job finished"
RESULTS: dict[str, Any] = {
    "thumbnails": [
        {"size": size, "key": f"thumbnails/job/{size}.jpg", "width": size, "height": round(size * 0.66)}
        for size in (1024, 512, 256)
    ],
    "labels": [{"name": "tabby cat", "confidence": 71.42}, {"name": "Egyptian cat", "confidence": 12.5}],
}


def completion(
    job_id: str, step: str, attempt: int, finished: float, error: str | None = None
) -> StepCompletion:
    field = workers()[step].result_field
    return StepCompletion(
        job_id=job_id,
        step=step,
        attempt=attempt,
        succeeded=error is None,
        started_at=at(finished - 1),
        finished_at=at(finished),
        duration_ms=1000,
        result_field=field,
        result=None if error else RESULTS[field],
        error=error,
    )


def assert_went_through(execution: Any, *states: str) -> None:
    """The execution (conftest's `Execution`) entered `states` in this order; other states (metrics,
    say) may come in between."""
    remaining = iter(execution.path)
    assert all(state in remaining for state in states), f"expected {states} in order within {execution.path}"


def job_events(record: dict[str, Any]) -> list[str]:
    """The job-level history entries (COMPLETE / FAILED), in order."""
    return [entry["event"] for entry in terminal_transitions(record)]


def step_events(record: dict[str, Any], step: str) -> list[str]:
    return [entry["event"] for entry in record["history"] if entry["step"] == step]


def test_the_two_steps_these_tests_exercise_are_configured_steps():
    # GIVEN the pipeline config WHEN its steps are listed THEN every path below runs steps it has
    assert set(STEPS) <= set(step_names()) and len(STEPS) == 2


def test_all_steps_succeeding_completes_the_job(reconcile_stack, job_id):
    # GIVEN both steps claimed (RUNNING, attempt 1)
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    resize, analysis = completion(job_id, "resize", 1, 2), completion(job_id, "analysis", 1, 3)

    # WHEN resize reports success
    first = reconcile_stack.run_ok(completion_input(resize), "resize")

    # THEN the job waits for analysis
    assert first.path[-2:] == ["Job still pending?", "Wait for other steps"]
    waiting = reconcile_stack.job(job_id)
    assert (waiting["status"], waiting["succeededCount"], waiting["failedCount"]) == ("PENDING", 1, 0)
    assert "completedAt" not in waiting

    # WHEN analysis reports success
    second = reconcile_stack.run_ok(completion_input(analysis), "analysis")

    # THEN the job is COMPLETE with both results, once
    assert_went_through(
        second,
        "Is this a deadline?",
        "Did the step succeed?",
        "Record step success",
        "Job still pending?",
        "Mark job COMPLETE",
    )
    assert KEEP not in second.path
    job = reconcile_stack.job(job_id)
    assert job["status"] == "COMPLETE"
    assert (job["succeededCount"], job["failedCount"]) == (2, 0)
    # Each step's record is the reported attempt's, written out here rather than rebuilt from the
    # completions the test sent: the claim's RUNNING record must be gone, the attempt kept.
    assert job["steps"] == {
        "resize": {
            "status": "SUCCEEDED",
            "attempts": 1,
            "startedAt": at(1),
            "finishedAt": at(2),
            "durationMs": 1000,
            "error": None,
        },
        "analysis": {
            "status": "SUCCEEDED",
            "attempts": 1,
            "startedAt": at(2),
            "finishedAt": at(3),
            "durationMs": 1000,
            "error": None,
        },
    }
    assert job["thumbnails"] == RESULTS["thumbnails"]
    assert job["labels"] == RESULTS["labels"]
    assert job["completedAt"] == analysis.finished_at
    assert "failureReason" not in job
    # created + 2 started + 2 SUCCEEDED + COMPLETE
    assert len(job["history"]) == 6
    assert job_events(job) == ["COMPLETE"]


def test_a_failed_step_fails_the_job_and_a_later_success_is_recorded_without_reviving_it(
    reconcile_stack, job_id
):
    # GIVEN both steps running
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))

    # WHEN analysis fails permanently
    failed = reconcile_stack.run_ok(
        completion_input(completion(job_id, "analysis", 1, 2, error="not an image: a PDF document")), "fail"
    )

    # THEN the job is FAILED with the step's reason
    assert_went_through(failed, "Record step failure", "Job still pending?", "Mark job FAILED")
    assert KEEP not in failed.path
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failureReason"] == "analysis: not an image: a PDF document"
    assert job["steps"]["analysis"]["status"] == "FAILED"
    assert job["steps"]["analysis"]["error"] == "not an image: a PDF document"
    assert job["completedAt"] == at(2)

    # WHEN resize, already running, then succeeds
    late = reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 5)), "late")

    # THEN its result is recorded but the job stays FAILED with its first reason and finish time
    assert late.path[-4:] == ["Record step success", "Count step result", "Job still pending?", KEEP]
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert (job["succeededCount"], job["failedCount"]) == (1, 1)
    assert job["steps"]["resize"]["status"] == "SUCCEEDED"
    assert job["thumbnails"] == RESULTS["thumbnails"]
    assert job["failureReason"] == "analysis: not an image: a PDF document"
    assert job["completedAt"] == at(2)
    assert job_events(job) == ["FAILED"]


def test_a_duplicate_completion_is_counted_once_and_sets_the_terminal_state_once(reconcile_stack, job_id):
    # GIVEN both steps running
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    resize = completion_input(completion(job_id, "resize", 1, 2))
    analysis = completion_input(completion(job_id, "analysis", 1, 3))

    # WHEN resize's completion is delivered twice (Express workflows are at-least-once)
    reconcile_stack.run_ok(resize, "resize")
    repeat = reconcile_stack.run_ok(resize, "resize-again")

    # THEN the repeat is recognised and changes nothing
    assert repeat.path[-3:] == [
        "Read job (result already recorded or stale)",
        "Job still pending?",
        "Wait for other steps",
    ]
    job = reconcile_stack.job(job_id)
    assert (job["status"], job["succeededCount"]) == ("PENDING", 1)
    assert step_events(job, "resize") == ["started", "SUCCEEDED"]

    # WHEN analysis's completion is also delivered twice
    reconcile_stack.run_ok(analysis, "analysis")
    done = reconcile_stack.job(job_id)
    repeat = reconcile_stack.run_ok(analysis, "analysis-again")

    # THEN the job was completed once; the repeat keeps it exactly as it was
    assert repeat.path[-2:] == ["Job still pending?", "Keep terminal state"]
    job = reconcile_stack.job(job_id)
    assert job == done
    assert job["status"] == "COMPLETE"
    assert (job["succeededCount"], job["failedCount"]) == (2, 0)
    assert job["completedAt"] == at(3)
    assert step_events(job, "analysis") == ["started", "SUCCEEDED"]
    assert job_events(job) == ["COMPLETE"]
    assert len(job["history"]) == 6


def test_completions_arriving_out_of_order_still_complete_the_job(reconcile_stack, job_id):
    # GIVEN analysis is claimed and finishes before resize has even started
    reconcile_stack.claim(job_id, "analysis", at(1))
    first = reconcile_stack.run_ok(completion_input(completion(job_id, "analysis", 1, 2)), "analysis")
    assert first.path[-1] == "Wait for other steps"
    assert reconcile_stack.job(job_id)["steps"]["resize"] == {"status": "PENDING", "attempts": 0}

    # WHEN resize runs and finishes afterwards
    reconcile_stack.claim(job_id, "resize", at(3))
    last = reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 4)), "resize")

    # THEN the job is COMPLETE, finished at the last completion
    assert_went_through(last, "Record step success", "Job still pending?", "Mark job COMPLETE")
    assert KEEP not in last.path
    job = reconcile_stack.job(job_id)
    assert job["status"] == "COMPLETE"
    assert (job["succeededCount"], job["failedCount"]) == (2, 0)
    assert job["completedAt"] == at(4)
    assert job["labels"] == RESULTS["labels"]
    assert job["thumbnails"] == RESULTS["thumbnails"]


@pytest.mark.parametrize("late_error", [None, "gave up after 5 attempts: ClientError: SlowDown"])
def test_a_completion_after_the_job_timed_out_leaves_it_failed(reconcile_stack, job_id, late_error):
    # GIVEN resize is running and analysis succeeded, but the sweeper failed the job past its deadline
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    reconcile_stack.run_ok(completion_input(completion(job_id, "analysis", 1, 2)), "analysis")
    reason = timeout_reason(reconcile_stack.job(job_id), 900)
    reconcile_stack.run_ok(deadline_input(job_id, at(900), reason), "deadline")

    # WHEN resize's completion finally arrives
    late = reconcile_stack.run_ok(
        completion_input(completion(job_id, "resize", 1, 901, error=late_error)), "late"
    )

    # THEN the step's outcome is recorded but the job stays FAILED with the timeout reason
    assert late.path[-2:] == ["Job still pending?", "Keep terminal state"]
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failureReason"] == reason
    assert job["completedAt"] == at(900)
    assert job["steps"]["resize"]["status"] == ("FAILED" if late_error else "SUCCEEDED")
    assert job_events(job) == ["FAILED"]


@pytest.mark.parametrize("stale_error", [None, "corrupt or truncated image"])
def test_a_stale_completion_from_an_earlier_attempt_is_ignored(reconcile_stack, job_id, stale_error):
    # GIVEN resize was redelivered and claimed again: attempt 2 is the one running
    reconcile_stack.claim(job_id, "resize", at(1))
    assert reconcile_stack.claim(job_id, "resize", at(3)).attempt == 2
    reconcile_stack.claim(job_id, "analysis", at(1))

    # WHEN attempt 1's completion arrives late
    stale = reconcile_stack.run_ok(
        completion_input(completion(job_id, "resize", 1, 4, error=stale_error)), "stale"
    )

    # THEN nothing about the step or the job changes
    assert "Read job (result already recorded or stale)" in stale.path
    assert stale.path[-1] == "Wait for other steps"
    job = reconcile_stack.job(job_id)
    assert job["status"] == "PENDING"
    assert job["steps"]["resize"]["status"] == "RUNNING"
    assert job["steps"]["resize"]["attempts"] == 2
    assert (job["succeededCount"], job["failedCount"]) == (0, 0)
    assert "thumbnails" not in job
    assert "failureReason" not in job
    assert step_events(job, "resize") == ["started", "started"]

    # WHEN attempt 2 then succeeds, as does analysis
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 2, 5)), "current")
    reconcile_stack.run_ok(completion_input(completion(job_id, "analysis", 1, 6)), "analysis")

    # THEN the job completes with attempt 2 on record
    job = reconcile_stack.job(job_id)
    assert job["status"] == "COMPLETE"
    assert job["steps"]["resize"]["attempts"] == 2
    assert job["steps"]["resize"]["status"] == "SUCCEEDED"


def test_a_deadline_fails_a_pending_job_with_a_timeout_reason(reconcile_stack, job_id):
    # GIVEN a job still PENDING with resize running and analysis not started
    reconcile_stack.claim(job_id, "resize", at(1))
    reason = timeout_reason(reconcile_stack.job(job_id), 900)

    # WHEN the sweeper's deadline input arrives
    execution = reconcile_stack.run_ok(deadline_input(job_id, at(900), reason), "deadline")

    # THEN the job is FAILED with the timeout reason, finished at the deadline
    assert_went_through(execution, "Is this a deadline?", "Fail job past its deadline")
    assert KEEP not in execution.path
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failureReason"].startswith("timeout")
    assert "resize, analysis" in job["failureReason"]
    assert job["completedAt"] == at(900)
    assert job["history"][-1] == {"at": at(900), "step": "job", "event": "FAILED", "detail": reason}
    assert (job["succeededCount"], job["failedCount"]) == (0, 0)


@pytest.mark.parametrize("outcome", ["COMPLETE", "FAILED"])
def test_a_deadline_leaves_a_finished_job_unchanged(reconcile_stack, job_id, outcome):
    # GIVEN a job that already finished
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 2)), "resize")
    error = "not an image: a ZIP archive" if outcome == "FAILED" else None
    reconcile_stack.run_ok(completion_input(completion(job_id, "analysis", 1, 3, error=error)), "analysis")
    finished = reconcile_stack.job(job_id)
    assert finished["status"] == outcome

    # WHEN a deadline input for it arrives (the sweep raced with the last completion)
    execution = reconcile_stack.run_ok(deadline_input(job_id, at(900), "timeout: late sweep"), "deadline")

    # THEN the record is exactly as it was
    assert execution.path == ["Is this a deadline?", "Fail job past its deadline", DEADLINE_MOVED]
    assert reconcile_stack.job(job_id) == finished


def test_both_steps_failing_fail_the_job_once_with_the_first_reason(reconcile_stack, job_id):
    # GIVEN both steps running
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))

    # WHEN resize fails, then analysis fails too
    first = reconcile_stack.run_ok(
        completion_input(completion(job_id, "resize", 1, 2, error="too large: 90000000 pixels")), "resize"
    )
    second = reconcile_stack.run_ok(
        completion_input(completion(job_id, "analysis", 1, 3, error="Rekognition refused the image")),
        "analysis",
    )

    # THEN the job was failed once, by the first failure, and both failures are counted
    assert_went_through(first, "Record step failure", "Mark job FAILED")
    assert KEEP not in first.path
    assert second.path[-4:] == ["Record step failure", "Count step result", "Job still pending?", KEEP]
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert (job["succeededCount"], job["failedCount"]) == (0, 2)
    assert job["failureReason"] == "resize: too large: 90000000 pixels"
    assert job["completedAt"] == at(2)
    assert job["steps"]["analysis"]["error"] == "Rekognition refused the image"
    assert job_events(job) == ["FAILED"]


def test_a_job_reaching_a_terminal_state_is_counted_once_in_the_metrics(reconcile_stack, job_id):
    if reconcile_stack.cloudwatch is None:
        pytest.skip("this emulator does not run the CloudWatch SDK integration")
    # GIVEN both steps running, and the job metrics as they stand
    for step in ("resize", "analysis"):
        reconcile_stack.claim(job_id, step, at(1))
    completed_before = reconcile_stack.metric_sum("JobsCompleted")
    failed_before = reconcile_stack.metric_sum("JobsFailed")

    # WHEN both completions arrive, the last one twice, and then a late deadline
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 2)), "resize")
    last = completion_input(completion(job_id, "analysis", 1, 3))
    reconcile_stack.run_ok(last, "analysis")
    reconcile_stack.run_ok(last, "analysis-again")
    reconcile_stack.run_ok(deadline_input(job_id, at(900), "timeout: late sweep"), "deadline")

    # THEN exactly one completed job was counted, and no failed one
    assert reconcile_stack.metric_sum("JobsCompleted") - completed_before == 1
    assert reconcile_stack.metric_sum("JobsFailed") - failed_before == 0


def test_a_deadline_keeps_the_reason_a_step_already_recorded(reconcile_stack, job_id):
    # GIVEN a job still PENDING whose resize left its own reason (its completion could not be reported)
    reconcile_stack.claim(job_id, "resize", at(1))
    reason = "resize: attempt 1 finished SUCCEEDED but could not be reported after 5 receives: Throttling"
    assert reconcile_stack.jobs.note_unreported(job_id, "resize", 1, at(2), reason)

    # WHEN the deadline passes
    reconcile_stack.run_ok(deadline_input(job_id, at(DEADLINE), "timeout: still PENDING"), "deadline")

    # THEN the job is FAILED with the step's reason, not the bare timeout
    job = reconcile_stack.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failureReason"] == reason
    assert job["history"][-1]["detail"] == "timeout: still PENDING"


def test_a_retried_old_job_is_not_failed_by_a_sweep_that_read_it_before_the_retry(reconcile_stack, job_id):
    # GIVEN a job that failed long ago, retried by an operator an hour after its upload
    reconcile_stack.claim(job_id, "resize", at(1))
    reconcile_stack.claim(job_id, "analysis", at(1))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 2, error="SlowDown")), "fail")
    reconcile_stack.run_ok(completion_input(completion(job_id, "analysis", 1, 3)), "ok")
    assert reconcile_stack.job(job_id)["status"] == "FAILED"
    retried_at = at(3600)
    reconcile_stack.jobs.reopen_steps(
        job_id, ["resize"], retried_at, "re-run resize", force=False, deadline_at=at(3600 + DEADLINE)
    )

    # WHEN a sweep that saw the job as overdue (read before the retry) delivers its deadline
    execution = reconcile_stack.run_ok(deadline_input(job_id, at(3601), "timeout: stale sweep"), "stale")

    # THEN the job stays PENDING with its new deadline
    assert execution.path[-1] == DEADLINE_MOVED
    job = reconcile_stack.job(job_id)
    assert job["status"] == "PENDING"
    assert job["deadlineAt"] == at(3600 + DEADLINE)

    # WHEN the retried step succeeds THEN the job completes, and its deadline is gone with it
    reconcile_stack.claim(job_id, "resize", at(3602))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 2, 3603)), "retried")
    job = reconcile_stack.job(job_id)
    assert job["status"] == "COMPLETE"
    assert "deadlineAt" not in job
    # ... and only a sweep past the new deadline would have failed it
    assert job_events(job) == ["FAILED", "COMPLETE"]


def test_a_deadline_fails_a_retried_job_past_its_new_deadline(reconcile_stack, job_id):
    # GIVEN a FAILED job retried at t=3600 whose retried step never finishes
    reconcile_stack.claim(job_id, "resize", at(1))
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 2, error="SlowDown")), "fail")
    reconcile_stack.jobs.reopen_steps(
        job_id, ["resize"], at(3600), "re-run resize", force=False, deadline_at=at(3600 + DEADLINE)
    )

    # WHEN the sweep runs past the new deadline THEN the job fails with the timeout, deadline removed
    reconcile_stack.run_ok(deadline_input(job_id, at(3600 + DEADLINE), "timeout: retried"), "deadline")
    job = reconcile_stack.job(job_id)
    assert (job["status"], job["failureReason"]) == ("FAILED", "timeout: retried")
    assert "deadlineAt" not in job


def test_step_metrics_count_only_the_attempt_the_machine_recorded(reconcile_stack, job_id):
    if reconcile_stack.cloudwatch is None:
        pytest.skip("this emulator does not run the CloudWatch SDK integration")
    # GIVEN resize redelivered (attempt 2 running) and the step metrics as they stand
    reconcile_stack.claim(job_id, "resize", at(1))
    reconcile_stack.claim(job_id, "resize", at(2))
    step = {"Name": "step", "Value": "resize"}
    succeeded_before = reconcile_stack.metric_sum("StepSucceeded", [step])
    failed_before = reconcile_stack.metric_sum("StepFailed", [step])

    # WHEN the stale attempt 1 reports, then attempt 2 twice (a duplicate start)
    reconcile_stack.run_ok(completion_input(completion(job_id, "resize", 1, 3, error="late")), "stale")
    current = completion_input(completion(job_id, "resize", 2, 4))
    reconcile_stack.run_ok(current, "current")
    reconcile_stack.run_ok(current, "duplicate")

    # THEN one success is counted for resize, with its duration, and no failure
    assert reconcile_stack.metric_sum("StepSucceeded", [step]) - succeeded_before == 1
    assert reconcile_stack.metric_sum("StepFailed", [step]) - failed_before == 0
