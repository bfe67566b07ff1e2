"""The job lifecycle, in one place: the statuses of a job and of its steps, every allowed transition with
who performs it and the condition that guards its write, and the rules of a retry.

Each condition is data (pixelpipe.logic.conditions): JobsTable renders it as the ConditionExpression of
its write, the reconcile state machine (statemachine/reconcile.asl.json, which executes the step results
and terminal transitions) carries the same expressions — tests/unit/test_lifecycle_asl.py holds it to
them — and tests evaluate them on plain records. docs/job-record.md draws these transitions; a test
holds the drawing to TRANSITIONS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.conditions import (
    Absent,
    AnyOf,
    AtMost,
    Condition,
    Equals,
    Greater,
    IsIn,
    Not,
    Param,
    all_of,
    field,
    holds,
)


class JobStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


TERMINAL = (JobStatus.COMPLETE, JobStatus.FAILED)


class StepStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Actor(StrEnum):
    """Who performs a transition, as docs/job-record.md labels it."""

    DISPATCH = "dispatch-tasks"
    WORKERS = "workers"
    STATE_MACHINE = "workers via state machine"
    SWEEPER = "sweeper via state machine"
    RETRY = "pixelpipe retry"
    FORCED_RETRY = "pixelpipe retry --force"
    REDRIVE = "dlq redrive"


# The record's attributes the conditions read (docs/job-record.md).
JOB_ID = field("jobId")
STATUS = field("status")
STEP = field("steps", Param("step"))
STEP_STATUS = STEP / "status"
STEP_ATTEMPTS = STEP / "attempts"
DEADLINE_AT = field("deadlineAt")
DISPATCHED_AT = field("dispatchedAt")
UPDATED_AT = field("updatedAt")
SUCCEEDED_COUNT = field("succeededCount")
FAILED_COUNT = field("failedCount")
EXPECTED_COUNT = field("expectedCount")


@dataclass(frozen=True)
class Move:
    """A status change: from any of `sources` (None: the record does not exist yet) to `target`."""

    sources: tuple[str | None, ...]
    target: str


@dataclass(frozen=True)
class Transition:
    """One allowed change of the record. `job`/`step` None: that status is left as it is.

    `condition` guards the write (parameters: `step`, `attempt`, `at`, `seen` — the `updatedAt` the
    writer read); `executed_by` names the reconcile state machine's state that makes the write.
    """

    name: str
    actors: tuple[Actor, ...]
    condition: Condition
    job: Move | None = None
    step: Move | None = None
    executed_by: str | None = None

    def allows(self, record: dict[str, Any], **params: Any) -> bool:
        return holds(self.condition, record, params)


_JOB_PENDING = Equals(STATUS, JobStatus.PENDING)
# The completion is the one of the attempt the step is running now: stale and duplicate ones are ignored.
_CURRENT_ATTEMPT = all_of(Equals(STEP_STATUS, StepStatus.RUNNING), Equals(STEP_ATTEMPTS, Param("attempt")))
# An operator's or dispatch's write based on a read: refused when the job changed in between.
_UNCHANGED = Equals(UPDATED_AT, Param("seen"))
_ANY_STEP = tuple(StepStatus)
_NEW = Absent(JOB_ID)  # the job id is deterministic: a duplicate S3 event creates nothing

CREATE = Transition(
    "create",
    (Actor.DISPATCH,),
    _NEW,
    job=Move((None,), JobStatus.PENDING),
    step=Move((None,), StepStatus.PENDING),
)
REJECT = dataclasses.replace(CREATE, name="reject at intake", job=Move((None,), JobStatus.FAILED))
CLAIM = Transition(
    "claim",
    (Actor.WORKERS,),
    all_of(_JOB_PENDING, IsIn(STEP_STATUS, (StepStatus.PENDING, StepStatus.RUNNING))),
    step=Move((StepStatus.PENDING, StepStatus.RUNNING), StepStatus.RUNNING),
)
NOTE_UNREPORTED = Transition(
    "note unreported",
    (Actor.WORKERS,),
    all_of(_JOB_PENDING, _CURRENT_ATTEMPT),
    step=Move((StepStatus.RUNNING,), StepStatus.RUNNING),
)
RECORD_SUCCESS = Transition(
    "record success",
    (Actor.STATE_MACHINE,),
    _CURRENT_ATTEMPT,
    step=Move((StepStatus.RUNNING,), StepStatus.SUCCEEDED),
    executed_by="Record step success",
)
RECORD_FAILURE = dataclasses.replace(
    RECORD_SUCCESS,
    name="record failure",
    step=Move((StepStatus.RUNNING,), StepStatus.FAILED),
    executed_by="Record step failure",
)
COMPLETE = Transition(
    "complete",
    (Actor.STATE_MACHINE,),
    all_of(_JOB_PENDING, Equals(SUCCEEDED_COUNT, EXPECTED_COUNT), Equals(FAILED_COUNT, 0)),
    job=Move((JobStatus.PENDING,), JobStatus.COMPLETE),
    executed_by="Mark job COMPLETE",
)
FAIL = Transition(
    "fail",
    (Actor.STATE_MACHINE,),
    _JOB_PENDING,
    job=Move((JobStatus.PENDING,), JobStatus.FAILED),
    executed_by="Mark job FAILED",
)
# Re-checked at the write: a job retried after the sweep read it has a new deadline and keeps running.
MISS_DEADLINE = Transition(
    "miss deadline",
    (Actor.SWEEPER,),
    all_of(_JOB_PENDING, AnyOf((Absent(DEADLINE_AT), AtMost(DEADLINE_AT, Param("at"))))),
    job=Move((JobStatus.PENDING,), JobStatus.FAILED),
    executed_by="Fail job past its deadline",
)
REOPEN = Transition(
    "reopen",
    (Actor.RETRY,),
    all_of(Equals(STATUS, JobStatus.FAILED), _UNCHANGED),
    job=Move((JobStatus.FAILED,), JobStatus.PENDING),
    step=Move(_ANY_STEP, StepStatus.PENDING),
)
REOPEN_FORCED = Transition(
    "reopen",
    (Actor.FORCED_RETRY,),
    all_of(IsIn(STATUS, (JobStatus.FAILED, JobStatus.COMPLETE)), _UNCHANGED),
    job=Move((JobStatus.FAILED, JobStatus.COMPLETE), JobStatus.PENDING),
    step=Move(_ANY_STEP, StepStatus.PENDING),
)
# A redrive is a retry of the dead messages' steps that have not succeeded (steps_to_redrive).
REDRIVE = dataclasses.replace(
    REOPEN,
    actors=(Actor.REDRIVE,),
    step=Move((StepStatus.PENDING, StepStatus.RUNNING, StepStatus.FAILED), StepStatus.PENDING),
)
# The sweeper failed a job whose message was never published; the redriven S3 event reopens it
# (only when `failed_before_dispatch` too: no step ever started, not rejected at intake).
REOPEN_UNDISPATCHED = Transition(
    "reopen undispatched",
    (Actor.REDRIVE,),
    all_of(Equals(STATUS, JobStatus.FAILED), Absent(DISPATCHED_AT), _UNCHANGED),
    job=Move((JobStatus.FAILED,), JobStatus.PENDING),
)

TRANSITIONS: tuple[Transition, ...] = (
    CREATE,
    REJECT,
    CLAIM,
    NOTE_UNREPORTED,
    RECORD_SUCCESS,
    RECORD_FAILURE,
    COMPLETE,
    FAIL,
    MISS_DEADLINE,
    REOPEN,
    REOPEN_FORCED,
    REDRIVE,
    REOPEN_UNDISPATCHED,
)

# The part of MISS_DEADLINE's condition the deadline index answers (the sweep's query); records
# without `deadlineAt` are found by creation time instead (logic/deadlines.py).
OVERDUE = all_of(_JOB_PENDING, AtMost(DEADLINE_AT, Param("at")))

# After a step result, in order ("Job still pending?" in the state machine): the first rule that holds
# names the terminal transition to attempt (None: the job is terminal already); none holds: wait.
SETTLE: tuple[tuple[Condition, Transition | None], ...] = (
    (Not(_JOB_PENDING), None),
    (Greater(FAILED_COUNT, 0), FAIL),
    (Equals(SUCCEEDED_COUNT, EXPECTED_COUNT), COMPLETE),
)


def settle(record: dict[str, Any]) -> Transition | None:
    """The terminal transition a step result leads to, or None (terminal already, or steps outstanding)."""
    for condition, outcome in SETTLE:
        if holds(condition, record):
            return outcome
    return None


def reopen_transition(force: bool) -> Transition:
    return REOPEN_FORCED if force else REOPEN


# ------------------------------------------------------------------------------------------ the rules


def deadline_after(now: str, seconds: int) -> str:
    """When a job started (or reopened) at `now` is overdue."""
    return format_iso(parse_iso(now) + timedelta(seconds=seconds))


def step_failure_reason(step: str, error: str) -> str:
    """A job's failureReason when a step failed: the step's own reason, prefixed by its name."""
    return f"{step}: {error}"


def history_entry(at: str, step: str, event: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {"at": at, "step": step, "event": event, "detail": detail, **extra}


def terminal_transitions(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The job-level history entries, one per move to COMPLETE or FAILED (the state machine writes them
    with step `job`; dispatch's intake rejection is its own)."""
    return [entry for entry in record.get("history", []) if entry["step"] == "job"]


def rejected_at_intake(job: dict[str, Any]) -> bool:
    """Failed by dispatch before any worker saw it (empty, too large): running the steps can't help."""
    return any(
        e.get("step") == "dispatch" and e.get("event") == JobStatus.FAILED for e in job.get("history", [])
    )


def failed_before_dispatch(job: dict[str, Any]) -> bool:
    """FAILED (by the deadline) although its message was never published and no step ever started:
    a later delivery of its S3 event may reopen it and publish the message."""
    started = any(step.get("status") != StepStatus.PENDING for step in job.get("steps", {}).values())
    return (
        job.get("status") == JobStatus.FAILED
        and not job.get("dispatchedAt")
        and not started
        and not rejected_at_intake(job)
    )


class RetryRefused(Exception):
    """The job must not be retried (or not with those steps); the message says why and what to do."""


def steps_to_retry(job: dict[str, Any], steps: list[str] | None = None, force: bool = False) -> list[str]:
    """Which steps a retry runs again; raises RetryRefused when the job must not be retried.

    By default: the FAILED steps of a FAILED job (a step still RUNNING is left to finish), or every
    unfinished step when none failed (a missed deadline); with `force` on a COMPLETE job, every step.
    `steps` names them explicitly (each must be one of the job's); leaving out a FAILED step needs
    `force`, since the job could only fail again.
    """
    job_id, status = job["jobId"], job.get("status")
    if status == JobStatus.PENDING:
        raise RetryRefused(f"job {job_id} is PENDING: it is still running; retry it once it has finished")
    if status == JobStatus.COMPLETE and not force:
        raise RetryRefused(f"job {job_id} is COMPLETE; use --force to run its steps again")
    if status not in (JobStatus.FAILED, JobStatus.COMPLETE):
        raise RetryRefused(f"job {job_id} has status {status!r}; only FAILED (or COMPLETE) jobs are retried")
    if rejected_at_intake(job):
        raise RetryRefused(
            f"job {job_id} was rejected at intake ({job.get('failureReason')}); upload a fixed file instead"
        )
    known = list(job.get("steps", {}))
    if steps:
        unknown = [s for s in steps if s not in known]
        if unknown:
            raise RetryRefused(
                f"job {job_id} has no step {', '.join(unknown)} (its steps: {', '.join(known)})"
            )
        chosen = list(dict.fromkeys(steps))
        left_failed = [name for name in _failed_steps(job) if name not in chosen]
        if left_failed and not force:
            raise RetryRefused(
                f"job {job_id} would fail again: {', '.join(left_failed)} stays FAILED; add it with --step, "
                "or use --force to re-run only the steps named"
            )
        return chosen
    if status == JobStatus.COMPLETE:
        return known
    # The FAILED steps; when none failed (the deadline sweeper failed the job), every unfinished one.
    chosen = _failed_steps(job) or [
        name for name, step in job["steps"].items() if step.get("status") != StepStatus.SUCCEEDED
    ]
    if not chosen:
        raise RetryRefused(f"job {job_id} has no failed step; name one with --step")
    return chosen


def steps_to_redrive(job: dict[str, Any] | None, dead_steps: list[str]) -> list[str]:
    """The steps a DLQ redrive reopens on the job of its dead messages: none unless the job is FAILED
    (and not rejected at intake), and never a step that succeeded — its worker would redo finished work."""
    if job is None or job.get("status") != JobStatus.FAILED or rejected_at_intake(job):
        return []
    return [
        s for s in dict.fromkeys(dead_steps) if job["steps"].get(s, {}).get("status") != StepStatus.SUCCEEDED
    ]


@dataclass(frozen=True)
class Reopening:
    """What reopening `steps` of a job writes, beyond the status, deadline and history.

    The reopened steps no longer count: their next completions add to the counts again. A step left
    FAILED fails the job again at its next reconcile, so the job keeps a reason naming such a step
    (`failure_reason`, or the one it has when `keeps_reason`); otherwise the reason goes.
    """

    transition: Transition
    steps: tuple[str, ...]
    succeeded_uncounted: int
    failed_uncounted: int
    keeps_reason: bool
    failure_reason: str | None = None


def reopening(job: dict[str, Any], steps: list[str], force: bool) -> Reopening:
    """Validate and plan a reopen of `steps`; ValueError for no steps or a step the job does not have.

    Whether the job may be reopened at all is the transition's condition, checked at the write.
    """
    chosen = tuple(dict.fromkeys(steps))  # a step named twice would be two overlapping paths
    if not chosen:
        raise ValueError("no steps to reopen")
    unknown = [s for s in chosen if s not in job.get("steps", {})]
    if unknown:
        raise ValueError(f"job {job['jobId']} has no step {', '.join(unknown)}")
    status_of = {name: record.get("status") for name, record in job["steps"].items()}
    still_failed = [name for name in _failed_steps(job) if name not in chosen]
    reason = None
    kept = job.get("failureReason", "")
    if still_failed and not any(kept.startswith(step_failure_reason(s, "")) for s in still_failed):
        first = min(still_failed, key=lambda s: job["steps"][s].get("finishedAt") or "")
        reason = step_failure_reason(first, job["steps"][first].get("error") or "")
    return Reopening(
        transition=reopen_transition(force),
        steps=chosen,
        succeeded_uncounted=sum(1 for s in chosen if status_of[s] == StepStatus.SUCCEEDED),
        failed_uncounted=sum(1 for s in chosen if status_of[s] == StepStatus.FAILED),
        keeps_reason=bool(still_failed),
        failure_reason=reason,
    )


def _failed_steps(job: dict[str, Any]) -> list[str]:
    return [name for name, step in job.get("steps", {}).items() if step.get("status") == StepStatus.FAILED]
