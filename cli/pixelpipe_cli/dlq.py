"""Dead letters: list what each DLQ holds, and redrive it back into the pipeline (local or AWS).

A redrive reopens each dead message's step on its FAILED job first (a worker's claim needs the job
PENDING and the step PENDING/RUNNING), then hands the messages to the target's Redriver
(pixelpipe_cli.redrivers), which is where local and AWS differ: how messages go back to a worker's
queue, and how a dispatch failure's S3 event is re-delivered.

dispatch-tasks has no job to reopen: S3 invokes it asynchronously, and an event it still fails on after
Lambda's retries goes to the dispatch failures queue (Target.queues[DISPATCH_FAILURES_QUEUE]) before any job
record exists. Its redrive re-delivers each S3 event to dispatch-tasks and deletes the message only once
that succeeded. Dispatch is idempotent, so a re-delivery never duplicates a job.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import settings, workers
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import steps_to_redrive
from pixelpipe_cli.redrivers import Redriver, RedriveReport, redriver_for, scan, unhide
from pixelpipe_cli.retry import OperationError, jobs_table, reopen
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, Target

__all__ = [
    "DISPATCH",
    "DeadLetter",
    "DlqSummary",
    "OperationError",
    "RedriveReport",
    "dispatch_redrive",
    "dlq_list",
    "dlq_redrive",
    "names_dispatch",
    "s3_event_of",
    "worker_steps",
]


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    job_id: str  # "" for a dispatch failure: no job was created
    receive_count: int  # for a dispatch failure on AWS: how many times Lambda invoked the function
    sent_at: str
    upload: str = ""  # a dispatch failure's uploaded object(s), s3://bucket/key


@dataclass
class DlqSummary:
    step: str
    dlq: str
    visible: int
    in_flight: int
    samples: list[DeadLetter] = field(default_factory=list)

    @property
    def approximate(self) -> int:
        return self.visible + self.in_flight


DISPATCH = "dispatch"  # the "step" of the dispatch failures queue in listings and --queue


def worker_steps(target: Target, queue: str | None = None) -> list[str]:
    """The worker steps to act on: all, or the one named (by step, queue or DLQ name)."""
    steps = [step for step in workers() if step in target.queues]
    if queue is None:
        return steps
    for step in steps:
        # pipeline.json's names, and the deployed ones (name_prefix included) from the Target's ARNs
        deployed = (target.queues[step].get("arn", ""), target.queues[step].get("dlq_arn", ""))
        names = {
            step,
            workers()[step].queue,
            workers()[step].dlq,
            *(a.rsplit(":", 1)[-1] for a in deployed if a),
        }
        if queue in names:
            return [step]
    choices = [*steps, *([DISPATCH] if DISPATCH_FAILURES_QUEUE in target.queues else [])]
    raise OperationError(f"no worker queue {queue!r}; choose one of: {', '.join(choices)}")


def _dlq_name(target: Target, step: str) -> str:
    """The DLQ's deployed name (name_prefix included), as SQS and CloudWatch know it."""
    arn = target.queues[step].get("dlq_arn")
    return arn.rsplit(":", 1)[-1] if arn else workers()[step].dlq


def _failures_queue_name(target: Target) -> str:
    return target.queues[DISPATCH_FAILURES_QUEUE]["arn"].rsplit(":", 1)[-1]


def names_dispatch(target: Target, queue: str | None) -> bool:
    """Whether `queue` names the dispatch failures queue (dispatch, the function or the queue's name)."""
    if queue is None or DISPATCH_FAILURES_QUEUE not in target.queues:
        return False
    names = (DISPATCH, settings().dispatch_function, target.dispatch_function, _failures_queue_name(target))
    return queue in names


def _chosen(target: Target, queue: str | None) -> tuple[list[str], bool]:
    """The worker steps, and whether the dispatch failures queue, a dlq command acts on."""
    if names_dispatch(target, queue):
        return [], True
    return worker_steps(target, queue), queue is None and DISPATCH_FAILURES_QUEUE in target.queues


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        job_id=_job_id(message),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=attributes.get("SentTimestamp", ""),
    )


def _job_id(message: dict[str, Any]) -> str:
    try:
        return JobMessage.from_json(message["Body"]).job_id or "?"
    except (ValueError, TypeError, json.JSONDecodeError):
        return message.get("MessageAttributes", {}).get("jobId", {}).get("StringValue", "?")


def s3_event_of(body: str) -> dict[str, Any] | None:
    """The S3 event in a dispatch failures message: on AWS the `requestPayload` of Lambda's on-failure
    invocation record, locally the raw event the relay queue held; None when the body is neither."""
    try:
        record = json.loads(body)
    except (ValueError, TypeError):
        return None
    if isinstance(record, dict) and "requestPayload" in record:
        record = record["requestPayload"]
        if isinstance(record, str):
            try:
                record = json.loads(record)
            except ValueError:
                return None
    return record if isinstance(record, dict) and isinstance(record.get("Records"), list) else None


def _dispatch_failure(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    receive_count = int(attributes.get("ApproximateReceiveCount", 0))
    try:
        record = json.loads(message["Body"])
        receive_count = int(record["requestContext"]["approximateInvokeCount"])
    except (ValueError, TypeError, KeyError):
        pass  # the local stack's raw S3 event: SQS's receive count is the number of tries
    event = s3_event_of(message["Body"]) or {"Records": []}
    uploads = []
    for record in event["Records"]:
        s3 = record.get("s3", {}) if isinstance(record, dict) else {}
        key = unquote_plus(s3.get("object", {}).get("key", "?"))  # S3 sends keys URL-encoded
        uploads.append(f"s3://{s3.get('bucket', {}).get('name', '?')}/{key}")
    return DeadLetter(
        message_id=message["MessageId"],
        job_id="",
        receive_count=receive_count,
        sent_at=attributes.get("SentTimestamp", ""),
        upload=" ".join(uploads) or "?",
    )


def _summary(
    sqs: Any, url: str, step: str, name: str, sample: int, read: Callable[[dict[str, Any]], DeadLetter]
) -> DlqSummary:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    summary = DlqSummary(
        step=step,
        dlq=name,
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )
    if sample and summary.visible:
        # VisibilityTimeout=0: a peek, the messages stay where they are and visible.
        peeked = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, sample),
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        summary.samples = list({m["MessageId"]: read(m) for m in peeked}.values())
    return summary


def dlq_list(target: Target, queue: str | None = None, sample: int = 10) -> list[DlqSummary]:
    """Per worker DLQ: approximate counts and a sample peeked at with a zero visibility timeout.

    The dispatch failures queue (step "dispatch") is listed too when `queue` names it or none is
    named (last, after the workers' DLQs).
    """
    sqs = target.client("sqs")
    steps, dispatch = _chosen(target, queue)
    summaries = [
        _summary(sqs, target.queues[step]["dlq_url"], step, _dlq_name(target, step), sample, _dead_letter)
        for step in steps
    ]
    if dispatch:
        url = target.queues[DISPATCH_FAILURES_QUEUE]["url"]
        summaries.append(
            _summary(sqs, url, DISPATCH, _failures_queue_name(target), sample, _dispatch_failure)
        )
    return summaries


def _reopen_for_redrive(jobs: JobsTable, by_job: dict[str, list[str]]) -> list[str]:
    """Reopen, on each FAILED job, the steps whose dead messages are about to be redriven."""
    reopened = []
    for job_id, steps in by_job.items():
        again = steps_to_redrive(jobs.get(job_id), steps)
        if not again:
            continue  # a finished or vanished job: the worker's claim will drop the message
        if reopen(jobs, job_id, again, f"DLQ redrive of {', '.join(again)}"):
            reopened.append(job_id)
    return reopened


def _by_job(scanned: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    by_job: dict[str, list[str]] = {}
    for step, messages in scanned.items():
        for message in messages:
            by_job.setdefault(_job_id(message), []).append(step)
    return by_job


def dlq_redrive(
    target: Target,
    queue: str | None = None,
    on_progress: Callable[[str, int], None] | None = None,
    redriver: Redriver | None = None,
) -> list[RedriveReport]:
    """Reopen the dead messages' steps on their FAILED jobs, then move the messages back to their queues.

    Every chosen DLQ is scanned before anything is reopened, so a job with dead messages in two DLQs
    gets both steps reopened at once. The dispatch failures queue is redriven (its S3 events
    re-delivered to dispatch-tasks) when `queue` names it or none is named. `redriver` defaults to the
    target's (redrivers.redriver_for).
    """
    redriver = redriver or redriver_for(target)
    steps, dispatch = _chosen(target, queue)
    reports = _redrive_workers(target, steps, redriver, on_progress) if steps else []
    if dispatch:
        reports.append(dispatch_redrive(target, on_progress, redriver))
    return reports


def dispatch_redrive(
    target: Target,
    on_progress: Callable[[str, int], None] | None = None,
    redriver: Redriver | None = None,
) -> RedriveReport:
    """Re-deliver every S3 event in the dispatch failures queue to dispatch-tasks; delete each once sent.

    A message that could not be re-delivered (unreadable, or the call failed) stays in the queue,
    visible again, and counts as not moved.
    """
    redriver = redriver or redriver_for(target)
    sqs = redriver.sqs
    url = target.queues[DISPATCH_FAILURES_QUEUE]["url"]
    report = RedriveReport(DISPATCH, redriver.dispatch_mode)
    kept = []
    messages = scan(sqs, url)
    report.found = len(messages)
    for message in messages:
        event = s3_event_of(message["Body"])
        if event is None or not redriver.redeliver(event):
            kept.append(message)
            continue
        # Re-delivered already: if the delete fails, the copy left is a no-op duplicate for dispatch.
        with contextlib.suppress(ClientError):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        report.moved += 1
        if on_progress:
            on_progress(DISPATCH, report.moved)
    report.not_moved = len(kept)
    if kept:
        unhide(sqs, url, kept)  # left for the operator to inspect, not hidden for the scan's timeout
    return report


def _redrive_workers(
    target: Target,
    steps: list[str],
    redriver: Redriver,
    on_progress: Callable[[str, int], None] | None,
) -> list[RedriveReport]:
    jobs = jobs_table(target)
    reports = {step: RedriveReport(step, redriver.worker_mode) for step in steps}
    for _ in range(redriver.rounds):
        scanned = {step: scan(redriver.sqs, target.queues[step]["dlq_url"]) for step in steps}
        if not any(scanned.values()):
            break
        reopened = set(_reopen_for_redrive(jobs, _by_job(scanned)))
        stop = False
        for step, messages in scanned.items():
            report = reports[step]
            report.found += len(messages)
            report.reopened += sorted({_job_id(m) for m in messages} & reopened)
            if not messages:
                continue
            stop = redriver.move(target.queues[step], messages, report) or stop
            if on_progress:
                on_progress(step, report.moved)
        if stop:
            break
    return list(reports.values())
