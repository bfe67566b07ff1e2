"""The job lifecycle (pixelpipe.logic.lifecycle): which transitions each record allows, the terminal
decision, and the rules of a retry — evaluated on plain records, as DynamoDB would evaluate them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelpipe.logic.conditions import holds, params_of
from pixelpipe.logic.lifecycle import (
    CLAIM,
    COMPLETE,
    CREATE,
    FAIL,
    MISS_DEADLINE,
    NOTE_UNREPORTED,
    OVERDUE,
    RECORD_FAILURE,
    RECORD_SUCCESS,
    REDRIVE,
    REJECT,
    REOPEN,
    REOPEN_FORCED,
    REOPEN_UNDISPATCHED,
    TRANSITIONS,
    JobStatus,
    RetryRefused,
    StepStatus,
    reopening,
    settle,
    steps_to_redrive,
    steps_to_retry,
)

STEPS = ("resize", "analysis")
SEEN = "2026-11-25T08:00:05.000Z"
DEADLINE = "2026-11-25T08:15:00.000Z"


def job(status: str = "PENDING", **fields: Any) -> dict[str, Any]:
    """A record as the table holds it; `resize=("RUNNING", 2)` sets a step's status and attempts."""
    steps = {name: {"status": "PENDING", "attempts": 0} for name in STEPS}
    for name in STEPS:
        if name in fields:
            step_status, attempts = fields.pop(name)
            steps[name] = {"status": step_status, "attempts": attempts}
    finished = [s["status"] for s in steps.values()]
    return {
        "jobId": "job-1",
        "status": status,
        "steps": steps,
        "expectedCount": len(STEPS),
        "succeededCount": finished.count("SUCCEEDED"),
        "failedCount": finished.count("FAILED"),
        "updatedAt": SEEN,
        "deadlineAt": DEADLINE,
        "history": [],
    } | fields


PARAMS = {"step": "resize", "attempt": 1, "at": "2026-11-25T08:00:10.000Z", "seen": SEEN}
LATE = PARAMS | {"at": "2026-11-25T08:15:00.001Z"}

# (transition, record, params, allowed): every transition with the records that allow and forbid it.
TABLE = [
    (CREATE, {}, {}, True),
    (CREATE, job(), {}, False),
    (REJECT, {}, {}, True),
    (REJECT, job("FAILED"), {}, False),
    (CLAIM, job(), PARAMS, True),
    (CLAIM, job(resize=("RUNNING", 1)), PARAMS, True),
    (CLAIM, job(resize=("SUCCEEDED", 1)), PARAMS, False),
    (CLAIM, job(resize=("FAILED", 1)), PARAMS, False),
    (CLAIM, job("FAILED"), PARAMS, False),
    (CLAIM, job("COMPLETE"), PARAMS, False),
    (NOTE_UNREPORTED, job(resize=("RUNNING", 1)), PARAMS, True),
    (NOTE_UNREPORTED, job(resize=("RUNNING", 2)), PARAMS, False),
    (NOTE_UNREPORTED, job("FAILED", resize=("RUNNING", 1)), PARAMS, False),
    (RECORD_SUCCESS, job(resize=("RUNNING", 1)), PARAMS, True),
    (RECORD_SUCCESS, job("FAILED", resize=("RUNNING", 1)), PARAMS, True),  # a late result is recorded
    (RECORD_SUCCESS, job(resize=("RUNNING", 2)), PARAMS, False),  # a stale attempt
    (RECORD_SUCCESS, job(resize=("SUCCEEDED", 1)), PARAMS, False),  # a duplicate
    (RECORD_FAILURE, job(resize=("RUNNING", 1)), PARAMS, True),
    (RECORD_FAILURE, job(resize=("PENDING", 0)), PARAMS, False),
    (COMPLETE, job(resize=("SUCCEEDED", 1), analysis=("SUCCEEDED", 1)), {}, True),
    (COMPLETE, job(resize=("SUCCEEDED", 1), analysis=("RUNNING", 1)), {}, False),
    (COMPLETE, job("FAILED", resize=("SUCCEEDED", 1), analysis=("SUCCEEDED", 1)), {}, False),
    (FAIL, job(resize=("FAILED", 1)), {}, True),
    (FAIL, job("COMPLETE"), {}, False),
    (FAIL, job("FAILED"), {}, False),
    (MISS_DEADLINE, job(), LATE, True),
    (MISS_DEADLINE, job(), PARAMS, False),  # a retry moved the deadline after the sweep read it
    (MISS_DEADLINE, {k: v for k, v in job().items() if k != "deadlineAt"}, PARAMS, True),  # legacy record
    (MISS_DEADLINE, job("COMPLETE"), LATE, False),
    (REOPEN, job("FAILED"), PARAMS, True),
    (REOPEN, job("FAILED"), PARAMS | {"seen": "2026-11-25T08:00:06.000Z"}, False),  # changed since read
    (REOPEN, job("COMPLETE"), PARAMS, False),
    (REOPEN, job(), PARAMS, False),
    (REOPEN_FORCED, job("COMPLETE"), PARAMS, True),
    (REOPEN_FORCED, job("FAILED"), PARAMS, True),
    (REOPEN_FORCED, job(), PARAMS, False),
    (REDRIVE, job("FAILED"), PARAMS, True),
    (REOPEN_UNDISPATCHED, job("FAILED"), PARAMS, True),
    (REOPEN_UNDISPATCHED, job("FAILED", dispatchedAt=SEEN), PARAMS, False),
    (REOPEN_UNDISPATCHED, job(), PARAMS, False),
]


@pytest.mark.parametrize(
    ("transition", "record", "params", "allowed"),
    TABLE,
    ids=[f"{t.name}-{r.get('status', 'absent')}-{i}" for i, (t, r, _, _) in enumerate(TABLE)],
)
def test_each_transition_is_allowed_exactly_on_the_records_its_condition_admits(
    transition, record, params, allowed
):
    assert transition.allows(record, **params) is allowed


def test_the_table_covers_every_transition_and_every_declared_source_status():
    # GIVEN the table above WHEN its allowed rows are grouped by transition
    allowed = {(t, r.get("status")) for t, r, _, ok in TABLE if ok}
    # THEN every transition is allowed somewhere, from each job status it declares as a source
    for transition in TRANSITIONS:
        sources = transition.job.sources if transition.job else (JobStatus.PENDING,)
        assert {s for t, s in allowed if t is transition} >= set(sources), transition.name


statuses = st.sampled_from(list(JobStatus))
step_statuses = st.sampled_from(list(StepStatus))


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Any record the table could hold, consistent or not: the conditions must not assume consistency."""
    if draw(st.integers(0, 9)) == 0:
        return {}
    record = job(
        draw(statuses),
        resize=(draw(step_statuses), draw(st.integers(0, 3))),
        analysis=(draw(step_statuses), draw(st.integers(0, 3))),
    )
    record["failedCount"] = draw(st.integers(0, 2))
    record["succeededCount"] = draw(st.integers(0, 2))
    for optional in ("deadlineAt", "dispatchedAt"):
        if draw(st.booleans()):
            record[optional] = draw(st.sampled_from([SEEN, DEADLINE]))
        else:
            record.pop(optional, None)
    return record


params = st.fixed_dictionaries(
    {
        "step": st.sampled_from(STEPS),
        "attempt": st.integers(0, 3),
        "at": st.sampled_from([SEEN, DEADLINE, "2026-11-25T09:00:00.000Z"]),
        "seen": st.sampled_from([SEEN, DEADLINE]),
    }
)


@given(records(), params)
def test_a_transition_is_only_ever_allowed_from_the_statuses_it_declares(record, values):
    for transition in TRANSITIONS:
        if not transition.allows(record, **values):
            continue
        if transition.job:
            assert record.get("status") in transition.job.sources, transition.name
        elif transition.step and "step" in params_of(transition.condition):
            step = record["steps"][values["step"]]
            assert step["status"] in transition.step.sources, transition.name


@given(records(), params)
def test_the_terminal_decision_only_picks_a_transition_it_may_take(record, values):
    outcome = settle(record) if record else None
    if outcome is COMPLETE:
        assert COMPLETE.allows(record)
    if outcome is FAIL:
        assert FAIL.allows(record) and record["failedCount"] > 0
    if record and record["status"] != JobStatus.PENDING:
        assert outcome is None
    # THEN also: the sweep's indexed query only finds jobs the deadline transition may fail
    if record and holds(OVERDUE, record, values):
        assert MISS_DEADLINE.allows(record, **values)


def test_a_job_waits_while_a_step_is_outstanding_and_fails_on_any_failed_step():
    assert settle(job(resize=("SUCCEEDED", 1), analysis=("RUNNING", 1))) is None
    assert settle(job(resize=("FAILED", 1), analysis=("RUNNING", 1))) is FAIL
    assert settle(job(resize=("SUCCEEDED", 1), analysis=("SUCCEEDED", 1))) is COMPLETE


# --- retry rules ------------------------------------------------------------------------------------


@st.composite
def finished_jobs(draw: st.DrawFn) -> dict[str, Any]:
    """A FAILED or COMPLETE job as the reconciler leaves it: counts agree with the steps."""
    status = draw(st.sampled_from([JobStatus.FAILED, JobStatus.COMPLETE]))
    if status == JobStatus.COMPLETE:
        return job(status, resize=("SUCCEEDED", 1), analysis=("SUCCEEDED", 1))
    record = job(status, resize=(draw(step_statuses), 1), analysis=(draw(step_statuses), 1))
    for name, step in record["steps"].items():
        step["finishedAt"] = draw(st.sampled_from([SEEN, DEADLINE]))
        step["error"] = f"{name} broke" if step["status"] == StepStatus.FAILED else None
    failed = [n for n, s in record["steps"].items() if s["status"] == StepStatus.FAILED]
    if failed:
        record["failureReason"] = f"{draw(st.sampled_from(failed))}: broke"
    return record


@given(finished_jobs(), st.lists(st.sampled_from(STEPS), max_size=3), st.booleans())
def test_a_reopen_keeps_the_counts_equal_to_the_finished_steps_and_a_reason_for_any_failed_one(
    record, named, force
):
    # GIVEN the steps a retry picks (or a refusal)
    try:
        chosen = steps_to_retry(record, named, force)
    except RetryRefused:
        return  # the refusals are tested one by one below
    # WHEN the reopen is planned and applied as JobsTable writes it
    plan = reopening(record, chosen, force)
    assert plan.transition.allows(record, seen=SEEN)
    after = {name: dict(step) for name, step in record["steps"].items()}
    for name in plan.steps:
        after[name]["status"] = StepStatus.PENDING
    succeeded = record["succeededCount"] - plan.succeeded_uncounted
    failed = record["failedCount"] - plan.failed_uncounted
    # THEN the counts are the steps still finished, and a step left FAILED is what the reason names
    assert succeeded == sum(1 for s in after.values() if s["status"] == StepStatus.SUCCEEDED)
    assert failed == sum(1 for s in after.values() if s["status"] == StepStatus.FAILED)
    left_failed = [n for n, s in after.items() if s["status"] == StepStatus.FAILED]
    assert plan.keeps_reason == bool(left_failed)
    reason = plan.failure_reason or (record.get("failureReason") if plan.keeps_reason else None)
    if left_failed:
        assert any(reason.startswith(f"{n}: ") for n in left_failed), (reason, left_failed)
    # AND without force, a retry never leaves a FAILED step behind (the job could only fail again)
    if not force:
        assert not left_failed


def test_a_retry_runs_the_failed_steps_by_default_and_every_unfinished_one_after_a_deadline():
    assert steps_to_retry(job("FAILED", resize=("SUCCEEDED", 1), analysis=("FAILED", 1))) == ["analysis"]
    assert steps_to_retry(job("FAILED", resize=("SUCCEEDED", 1), analysis=("RUNNING", 1))) == ["analysis"]
    assert steps_to_retry(job("COMPLETE"), force=True) == list(STEPS)


@pytest.mark.parametrize(
    ("record", "steps", "force", "refusal"),
    [
        (job("PENDING"), None, False, "is PENDING: it is still running"),
        (job("COMPLETE"), None, False, "is COMPLETE; use --force"),
        (job("FAILED", history=[{"step": "dispatch", "event": "FAILED"}]), None, False, "rejected at intake"),
        (job("FAILED", analysis=("FAILED", 1)), ["thumbnail"], False, "has no step thumbnail"),
        (job("FAILED", analysis=("FAILED", 1)), ["resize"], False, "would fail again: analysis stays"),
        (job("FAILED", resize=("SUCCEEDED", 1), analysis=("SUCCEEDED", 1)), None, False, "no failed step"),
    ],
)
def test_a_retry_that_cannot_help_is_refused_with_what_to_do(record, steps, force, refusal):
    with pytest.raises(RetryRefused, match=refusal):
        steps_to_retry(record, steps, force)


def test_a_redrive_reopens_only_unsucceeded_steps_of_a_failed_job():
    failed = job("FAILED", resize=("SUCCEEDED", 1), analysis=("FAILED", 5))
    assert steps_to_redrive(failed, ["resize", "analysis", "analysis"]) == ["analysis"]
    assert steps_to_redrive(job("COMPLETE"), ["analysis"]) == []
    assert steps_to_redrive(None, ["analysis"]) == []


def test_a_reopen_of_no_step_or_an_unknown_step_is_refused():
    with pytest.raises(ValueError, match="no steps"):
        reopening(job("FAILED"), [], force=False)
    with pytest.raises(ValueError, match="has no step ocr"):
        reopening(job("FAILED"), ["ocr"], force=False)


def test_a_reopen_that_leaves_a_failed_step_names_it_when_the_reason_named_another():
    # GIVEN both steps FAILED, analysis first, and the reason naming resize (it landed first)
    record = job("FAILED", resize=("FAILED", 1), analysis=("FAILED", 1), failureReason="resize: cut off")
    record["steps"]["resize"] |= {"finishedAt": DEADLINE, "error": "cut off"}
    record["steps"]["analysis"] |= {"finishedAt": SEEN, "error": "not an image"}

    # WHEN only resize is reopened (forced) THEN the reason becomes analysis's
    plan = reopening(record, ["resize"], force=True)
    assert (plan.keeps_reason, plan.failure_reason) == (True, "analysis: not an image")
    assert (plan.failed_uncounted, plan.succeeded_uncounted) == (1, 0)
    assert plan.transition is REOPEN_FORCED
