"""One delivery of one step (pixelpipe.logic.step_runner): claim, work, and the completion it reports."""

from __future__ import annotations

from typing import Any

import pytest

from pixelpipe.adapters.jobs_table import Claim
from pixelpipe.config import WorkerConfig
from pixelpipe.logic.errors import PermanentError, TransientError
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import StepCompletion
from pixelpipe.logic.step_runner import Delivery, GiveUp, StepRunner

MAX_RECEIVES = 5
WORKER = WorkerConfig(
    step="resize",
    function="resize-worker",
    handler="pixelpipe.handlers.resize_worker.handler",
    queue="resize-queue",
    dlq="resize-dlq",
    result_field="thumbnails",
    timeout_seconds=30,
    memory_mb=1024,
    batch_size=10,
    batching_window_seconds=1,
    visibility_timeout_seconds=180,
    max_receive_count=MAX_RECEIVES,
    max_concurrency=10,
    retry_backoff_seconds=2,
)
MESSAGE = JobMessage("job-1", "pixelpipe-uploads", "uploads/chelsea.jpg", "v1", ["resize", "analysis"])
THUMBNAILS = [{"size": 1024, "key": "thumbnails/job-1/1024.jpg", "width": 451, "height": 300}]


class Claims:
    """The jobs table's claim: grants the next attempt, or refuses (step or job already finished)."""

    def __init__(self, next_attempt: int | None) -> None:
        self.next_attempt = next_attempt
        self.calls: list[tuple[str, str, str, str]] = []

    def claim_step(self, job_id: str, step: str, at: str, detail: str) -> Claim | None:
        self.calls.append((job_id, step, at, detail))
        return None if self.next_attempt is None else Claim(attempt=self.next_attempt)

    unreported: list[tuple[str, str, int, str]]

    def note_unreported(self, job_id: str, step: str, attempt: int, at: str, reason: str) -> bool:
        self.unreported = [*getattr(self, "unreported", []), (job_id, step, attempt, reason)]
        return True


class UnreachableReconciler:
    """StartExecution failing even after the SDK's own retries."""

    def report(self, completion: StepCompletion) -> None:
        raise ConnectionError("states.us-east-1.amazonaws.com unreachable")


class Reports:
    def __init__(self) -> None:
        self.completions: list[StepCompletion] = []

    def report(self, completion: StepCompletion) -> None:
        self.completions.append(completion)


class Work:
    """The step's work function: returns `result` or raises `error`, and counts its calls."""

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.result, self.error, self.calls = result, error, []

    def __call__(self, message: JobMessage) -> Any:
        self.calls.append(message)
        if self.error:
            raise self.error
        return self.result


def ticking_clock():
    times = iter(f"2026-11-25T08:00:0{second}.000Z" for second in range(10))
    return lambda: next(times)


def runner(claims: Claims, reports: Reports, work: Work) -> StepRunner:
    return StepRunner(worker=WORKER, jobs=claims, reconcile=reports, work=work, clock=ticking_clock())


def test_a_refused_claim_skips_the_message_without_doing_the_work():
    # GIVEN a step (or job) that is already finished
    claims, reports, work = Claims(next_attempt=None), Reports(), Work(result=THUMBNAILS)

    # WHEN a redelivered message arrives
    outcome = runner(claims, reports, work).handle(Delivery(MESSAGE, receive_count=2))

    # THEN it is dropped: no work, no completion
    assert outcome == "skipped"
    assert work.calls == []
    assert reports.completions == []
    assert claims.calls == [("job-1", "resize", "2026-11-25T08:00:00.000Z", "receive 2 of 5")]


def test_a_successful_step_reports_one_succeeded_completion_with_its_result():
    # GIVEN a claim granting attempt 3
    claims, reports, work = Claims(next_attempt=3), Reports(), Work(result=THUMBNAILS)

    # WHEN the step runs
    outcome = runner(claims, reports, work).handle(Delivery(MESSAGE, receive_count=3))

    # THEN the work ran once on the message and one SUCCEEDED completion carries its result and attempt
    assert outcome == "succeeded"
    assert work.calls == [MESSAGE]
    [done] = reports.completions
    assert (done.job_id, done.step, done.attempt, done.succeeded) == ("job-1", "resize", 3, True)
    assert (done.result_field, done.result, done.error) == ("thumbnails", THUMBNAILS, None)
    assert (done.started_at, done.finished_at) == ("2026-11-25T08:00:00.000Z", "2026-11-25T08:00:01.000Z")
    assert done.duration_ms >= 0


def test_a_permanent_error_fails_the_step_at_once_without_raising():
    # GIVEN work that meets an input it can never process
    claims, reports = Claims(next_attempt=1), Reports()
    work = Work(error=PermanentError("not an image: a PDF document"))

    # WHEN the step runs on its first receive
    outcome = runner(claims, reports, work).handle(Delivery(MESSAGE, receive_count=1))

    # THEN one FAILED completion carries the reason, and the message is done with (no raise)
    assert outcome == "failed"
    [failed] = reports.completions
    assert (failed.succeeded, failed.error, failed.attempt) == (False, "not an image: a PDF document", 1)
    assert failed.result is None


@pytest.mark.parametrize(
    "error", [TransientError("throttled"), TimeoutError("read timed out"), OSError("reset")]
)
@pytest.mark.parametrize("receive_count", [1, MAX_RECEIVES - 1])
def test_a_transient_error_before_the_last_receive_raises_for_a_retry(error, receive_count):
    # GIVEN work that fails transiently, with receives left
    claims, reports, work = Claims(next_attempt=receive_count), Reports(), Work(error=error)

    # WHEN the step runs THEN the error propagates (SQS will redeliver) and nothing is reported
    with pytest.raises(type(error)):
        runner(claims, reports, work).handle(Delivery(MESSAGE, receive_count=receive_count))
    assert reports.completions == []
    assert len(work.calls) == 1


def test_a_transient_error_on_the_last_receive_fails_the_step_and_gives_up():
    # GIVEN work still failing transiently on the last receive SQS allows
    claims, reports = Claims(next_attempt=MAX_RECEIVES), Reports()
    work = Work(error=TransientError("SlowDown"))

    # WHEN the step runs
    with pytest.raises(GiveUp) as gave_up:
        runner(claims, reports, work).handle(Delivery(MESSAGE, receive_count=MAX_RECEIVES))

    # THEN one FAILED completion says it gave up, and GiveUp (bound for the DLQ) is raised
    [failed] = reports.completions
    assert failed.succeeded is False
    assert failed.error.startswith(f"gave up after {MAX_RECEIVES} attempts")
    assert "TransientError: SlowDown" in failed.error
    assert failed.attempt == MAX_RECEIVES
    assert str(gave_up.value) == failed.error
    assert isinstance(gave_up.value.__cause__, TransientError)


def test_a_receive_past_the_limit_also_gives_up():
    # GIVEN a delivery counted beyond max_receive_count (e.g. the redrive policy was raised later)
    claims, reports = Claims(next_attempt=7), Reports()

    # WHEN the work fails transiently THEN the step is failed rather than retried forever
    with pytest.raises(GiveUp):
        runner(claims, reports, Work(error=TransientError("x"))).handle(Delivery(MESSAGE, receive_count=7))
    assert [c.succeeded for c in reports.completions] == [False]


def test_a_completion_that_cannot_be_reported_is_retried_by_sqs_before_the_last_receive():
    # GIVEN the work succeeds but StartExecution fails, on an early receive
    claims, work = Claims(next_attempt=2), Work(result=THUMBNAILS)
    step_runner = StepRunner(
        worker=WORKER, jobs=claims, reconcile=UnreachableReconciler(), work=work, clock=ticking_clock()
    )

    # WHEN it is handled THEN the error goes back to SQS for another delivery and nothing is noted yet
    with pytest.raises(ConnectionError):
        step_runner.handle(Delivery(MESSAGE, receive_count=2))
    assert getattr(claims, "unreported", []) == []


@pytest.mark.parametrize("work", [Work(result=THUMBNAILS), Work(error=PermanentError("not an image"))])
def test_a_completion_that_cannot_be_reported_on_the_last_receive_leaves_its_reason_on_the_job(work):
    # GIVEN the last allowed receive, the work done (or failed for good), and StartExecution failing
    claims = Claims(next_attempt=MAX_RECEIVES)
    step_runner = StepRunner(
        worker=WORKER, jobs=claims, reconcile=UnreachableReconciler(), work=work, clock=ticking_clock()
    )

    # WHEN it is handled
    with pytest.raises(GiveUp) as gave_up:
        step_runner.handle(Delivery(MESSAGE, receive_count=MAX_RECEIVES))

    # THEN the step's own reason is written on the job, naming the attempt, its outcome and the error
    [(job_id, step, attempt, reason)] = claims.unreported
    assert (job_id, step, attempt) == ("job-1", "resize", MAX_RECEIVES)
    outcome = "SUCCEEDED" if work.error is None else "FAILED"
    assert reason == (
        f"resize: attempt {MAX_RECEIVES} finished {outcome} but could not be reported after "
        f"{MAX_RECEIVES} receives: ConnectionError: states.us-east-1.amazonaws.com unreachable"
    )
    assert str(gave_up.value) == reason


def test_a_rejected_delivery_fails_the_step_at_once_without_running_the_work():
    # GIVEN a delivery whose body was malformed but named job-1 (first receive)
    reports, work = Reports(), Work(result=THUMBNAILS)
    runner = StepRunner(worker=WORKER, jobs=Claims(next_attempt=1), reconcile=reports, work=work)

    # WHEN the runner rejects it
    outcome = runner.reject("job-1", 1, "malformed message: bucket: Field required")

    # THEN the step is reported FAILED with that reason, the work never ran, and SQS is not asked again
    assert outcome == "failed"
    assert work.calls == []
    [completion] = reports.completions
    assert (completion.job_id, completion.step, completion.succeeded) == ("job-1", "resize", False)
    assert completion.error == "malformed message: bucket: Field required"
