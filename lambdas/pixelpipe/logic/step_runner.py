"""One delivery of one step, from claim to completion: the rules every worker shares.

- A finished step or a finished job is never redone: the claim fails and the message is dropped.
- A permanent error fails the step at once (no retries); so does a malformed message that still names
  its job (`reject`).
- A transient error is retried by SQS; on the last allowed receive the step is reported FAILED and
  the message is left to go to the dead-letter queue.
- A completion that cannot be reported on the last allowed receive is written on the job as the
  step's reason, so the deadline that fails the job names it instead of a bare timeout.
- A message naming an object outside the upload bucket's upload prefix fails its step unread: the worker
  reads what the message names, so the message is held to where uploads can be (`UploadLocation`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from pixelpipe.config import WorkerConfig
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import StepCompletion
from pixelpipe.logic.lifecycle import step_failure_reason

logger = Logger(child=True)


class ClaimsSteps(Protocol):
    def claim_step(self, job_id: str, step: str, at: str, detail: str) -> Any: ...
    def note_unreported(self, job_id: str, step: str, attempt: int, at: str, reason: str) -> bool: ...


class StartsReconcile(Protocol):
    def report(self, completion: StepCompletion) -> None: ...


@dataclass(frozen=True)
class Delivery:
    message: JobMessage
    receive_count: int


@dataclass(frozen=True)
class UploadLocation:
    """Where every job's source object is: the deployed upload bucket and pipeline.json's upload prefix."""

    bucket: str
    prefix: str

    def refusal(self, message: JobMessage) -> str | None:
        """Why the worker must not read the object `message` names, or None."""
        if message.bucket != self.bucket or not message.key.startswith(self.prefix):
            return f"message names an object outside {self.bucket}/{self.prefix}: refused unread"
        return None


class GiveUp(Exception):
    """The last allowed receive failed transiently: reported FAILED, message bound for the DLQ."""


@dataclass
class StepRunner:
    worker: WorkerConfig
    jobs: ClaimsSteps
    reconcile: StartsReconcile
    work: Callable[[JobMessage], Any]
    clock: Callable[[], str] = now_iso
    uploads: UploadLocation | None = None

    def handle(self, delivery: Delivery) -> str:
        """Run the step; returns the outcome, raises to ask SQS for another delivery."""
        message = delivery.message
        refused = self.uploads.refusal(message) if self.uploads is not None else None
        if refused is not None:
            logger.error("message outside the upload location", job_id=message.job_id)
            return self.reject(message.job_id, delivery.receive_count, refused)
        return self._attempt(message.job_id, delivery.receive_count, partial(self.work, message))

    def reject(self, job_id: str, receive_count: int, reason: str) -> str:
        """Fail the step of `job_id` at once with `reason`: the delivery cannot be worked on (malformed)."""
        return self._attempt(job_id, receive_count, partial(_fail, PermanentError(reason)))

    def _attempt(self, job_id: str, receive_count: int, work: Callable[[], Any]) -> str:
        step = self.worker.step
        started_at = self.clock()
        claim = self.jobs.claim_step(
            job_id, step, started_at, f"receive {receive_count} of {self.worker.max_receive_count}"
        )
        if claim is None:
            logger.info("step already finished or job terminal; dropping message", job_id=job_id)
            return "skipped"
        began = time.perf_counter()

        def complete(result: Any = None, error: str | None = None) -> StepCompletion:
            completion = StepCompletion(
                job_id=job_id,
                step=step,
                attempt=claim.attempt,
                succeeded=error is None,
                started_at=started_at,
                finished_at=self.clock(),
                duration_ms=round((time.perf_counter() - began) * 1000),
                result_field=self.worker.result_field,
                result=result,
                error=error,
            )
            try:
                self.reconcile.report(completion)
            except Exception as error:
                if receive_count < self.worker.max_receive_count:
                    raise  # SQS delivers again; the next attempt reports its own completion
                reason = step_failure_reason(
                    step,
                    f"attempt {claim.attempt} finished {completion.outcome} but could not be reported "
                    f"after {receive_count} receives: {type(error).__name__}: {error}",
                )
                self.jobs.note_unreported(job_id, step, claim.attempt, self.clock(), reason)
                raise GiveUp(reason) from error
            return completion

        try:
            result = work()
        except PermanentError as error:
            complete(error=error.reason)
            return "failed"
        except Exception as error:
            if receive_count >= self.worker.max_receive_count:
                reason = f"gave up after {receive_count} attempts: {type(error).__name__}: {error}"
                complete(error=reason)
                raise GiveUp(reason) from error
            raise
        complete(result=result)
        return "succeeded"


def _fail(error: Exception) -> None:
    raise error
