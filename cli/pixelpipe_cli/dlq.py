"""Operator actions on a running pipeline (local or AWS): retry jobs, inspect and redrive dead letters.

A retry reopens only the steps to run again (the job back to PENDING, attempts and history kept) and
publishes ONE message whose `steps` attribute names just those steps, so only their workers receive it.
A DLQ redrive reopens each dead message's step on its FAILED job first (a worker's claim needs the job
PENDING and the step PENDING/RUNNING), then moves the messages back to the worker's queue: on AWS with
StartMessageMoveTask, locally (moto lacks it) by send-then-delete, so nothing is lost.

dispatch-tasks has no job to reopen: S3 invokes it asynchronously, and an event it still fails on after
Lambda's retries goes to the dispatch failures queue (Target.queues[DISPATCH_FAILURES_QUEUE]) before any job
record exists. Its redrive re-delivers each S3 event to dispatch-tasks (on AWS an asynchronous invoke with
the on-failure record's `requestPayload`; locally the raw event back to the S3 relay queue) and deletes the
message only once that succeeded. Dispatch is idempotent, so a re-delivery never duplicates a job.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.topic import JobsTopic
from pixelpipe.config import pipeline_config, workers
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.jobs import JobMessage
from pixelpipe.logic.lifecycle import (
    JobStatus,
    RetryRefused,
    deadline_after,
    steps_to_redrive,
    steps_to_retry,
)
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, S3_EVENTS_QUEUE, Target


class OperationError(Exception):
    """A refusal or failure to show the operator as one clear line (the CLI exits 1)."""


def _jobs(target: Target) -> JobsTable:
    return JobsTable(target.client("dynamodb"), target.jobs_table, target.status_index)


def _deadline_seconds() -> int:
    """A reopened job gets the same time to finish as a new one."""
    return pipeline_config()["limits"]["job_deadline_seconds"]


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


# ----------------------------------------------------------------------------------------------- retry


@dataclass(frozen=True)
class RetryResult:
    job_id: str
    steps: list[str]
    message_id: str
    previous_status: str


def retry_job(
    target: Target,
    job_id: str,
    steps: list[str] | None = None,
    force: bool = False,
    jobs: JobsTable | None = None,
    topic: JobsTopic | None = None,
) -> RetryResult:
    """Reopen the steps to re-run and publish one message naming only them."""
    jobs = jobs or _jobs(target)
    job = jobs.get(job_id)
    if job is None:
        raise OperationError(f"no job {job_id}")
    try:
        chosen = steps_to_retry(job, steps, force)
    except RetryRefused as refused:
        raise OperationError(str(refused)) from refused
    detail = f"re-run {', '.join(chosen)}" + (
        " (forced)" if force and job["status"] == JobStatus.COMPLETE else ""
    )
    try:
        now = now_iso()
        jobs.reopen_steps(job_id, chosen, now, detail, force, deadline_after(now, _deadline_seconds()))
    except ClientError as error:
        if _is_conditional_failure(error):
            raise OperationError(
                f"job {job_id} changed while it was being retried; look at it and try again"
            ) from error
        raise
    source = job["source"]
    message = JobMessage(job_id, source["bucket"], source["key"], source.get("versionId"), chosen)
    topic = topic or JobsTopic(target.client("sns"), target.topic_arn)
    try:
        message_id = topic.publish(message)
    except Exception as error:
        raise OperationError(
            f"job {job_id} was reopened but its message could not be published ({error}); the deadline "
            "sweeper will fail it, then it can be retried again"
        ) from error
    return RetryResult(job_id, chosen, message_id, job["status"])


def failed_jobs(target: Target, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """FAILED jobs created at or after `since` (ISO 8601), newest first."""
    jobs = _jobs(target).by_status(JobStatus.FAILED, limit=limit)
    return [job for job in jobs if since is None or job["createdAt"] >= since]


@dataclass
class BulkRetry:
    retried: list[RetryResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # job id -> why


def retry_failed(
    target: Target,
    since: str | None = None,
    limit: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> BulkRetry:
    """Retry every FAILED job (since a time); a job that can't be retried is skipped with its reason."""
    candidates = failed_jobs(target, since, limit)
    jobs = _jobs(target)
    topic = JobsTopic(target.client("sns"), target.topic_arn)
    outcome = BulkRetry()
    for done, job in enumerate(candidates, 1):
        try:
            outcome.retried.append(retry_job(target, job["jobId"], jobs=jobs, topic=topic))
        except OperationError as error:
            outcome.skipped[job["jobId"]] = str(error)
        if on_progress:
            on_progress(done, len(candidates))
    return outcome


# ------------------------------------------------------------------------------------------------- dlq


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
        if queue in (step, workers()[step].queue, workers()[step].dlq):
            return [step]
    choices = [*steps, *([DISPATCH] if DISPATCH_FAILURES_QUEUE in target.queues else [])]
    raise OperationError(f"no worker queue {queue!r}; choose one of: {', '.join(choices)}")


def _failures_queue_name(target: Target) -> str:
    return target.queues[DISPATCH_FAILURES_QUEUE]["arn"].rsplit(":", 1)[-1]


def names_dispatch(target: Target, queue: str | None) -> bool:
    """Whether `queue` names the dispatch failures queue (dispatch, the function or the queue's name)."""
    if queue is None or DISPATCH_FAILURES_QUEUE not in target.queues:
        return False
    return queue in (DISPATCH, "dispatch-tasks", target.dispatch_function, _failures_queue_name(target))


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
        _summary(sqs, target.queues[step]["dlq_url"], step, workers()[step].dlq, sample, _dead_letter)
        for step in steps
    ]
    if dispatch:
        url = target.queues[DISPATCH_FAILURES_QUEUE]["url"]
        summaries.append(
            _summary(sqs, url, DISPATCH, _failures_queue_name(target), sample, _dispatch_failure)
        )
    return summaries


@dataclass
class RedriveReport:
    step: str
    # "moved" (local send-then-delete) or "move task" (AWS StartMessageMoveTask); for dispatch failures
    # "re-invoked" (AWS: async invoke of dispatch-tasks) or "relayed" (local: back to the S3 relay queue)
    mode: str
    found: int = 0
    moved: int = 0
    not_moved: int = 0
    reopened: list[str] = field(default_factory=list)
    task_handle: str | None = None


# How long a scanned DLQ message stays hidden while it is reopened and moved; longer than any redrive.
_SCAN_VISIBILITY_SECONDS = 300


def _scan(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, received and hidden for the scan (receipt handles valid)."""
    seen: dict[str, dict[str, Any]] = {}
    empty_in_a_row = 0
    while empty_in_a_row < 2:  # short polling can miss messages: stop after two empty answers
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=_SCAN_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty_in_a_row = 0 if messages else empty_in_a_row + 1
        for message in messages:
            seen[message["MessageId"]] = message
    return list(seen.values())


def _reopen_for_redrive(jobs: JobsTable, by_job: dict[str, list[str]]) -> list[str]:
    """Reopen, on each FAILED job, the steps whose dead messages are about to be redriven."""
    reopened = []
    for job_id, steps in by_job.items():
        again = steps_to_redrive(jobs.get(job_id), steps)
        if not again:
            continue  # a finished or vanished job: the worker's claim will drop the message
        try:
            now = now_iso()
            jobs.reopen_steps(
                job_id,
                again,
                now,
                f"DLQ redrive of {', '.join(again)}",
                force=False,
                deadline_at=deadline_after(now, _deadline_seconds()),
            )
            reopened.append(job_id)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
    return reopened


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }


def _move_back(sqs: Any, dlq_url: str, queue_url: str, messages: list[dict[str, Any]]) -> tuple[int, int]:
    """Send each message to the source queue, then delete from the DLQ only what was sent."""
    moved = failed = 0
    for start in range(0, len(messages), 10):
        batch = messages[start : start + 10]
        sent = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _message_attributes(m)}
                for i, m in enumerate(batch)
            ],
        )
        ok = [batch[int(entry["Id"])] for entry in sent.get("Successful", [])]
        failed += len(sent.get("Failed", []))
        if ok:
            deleted = sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ok)],
            )
            # A copy already went back: a failed delete only means a duplicate, which the claim drops.
            moved += len(ok) - len(deleted.get("Failed", []))
    return moved, failed


def _by_job(scanned: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    by_job: dict[str, list[str]] = {}
    for step, messages in scanned.items():
        for message in messages:
            by_job.setdefault(_job_id(message), []).append(step)
    return by_job


_MAX_ROUNDS = 10  # a message that keeps failing comes back to the DLQ: never redrive in circles


def dlq_redrive(
    target: Target,
    queue: str | None = None,
    on_progress: Callable[[str, int], None] | None = None,
) -> list[RedriveReport]:
    """Reopen the dead messages' steps on their FAILED jobs, then move the messages back to their queues.

    Every chosen DLQ is scanned before anything is reopened, so a job with dead messages in two DLQs
    gets both steps reopened at once. The dispatch failures queue is redriven (its S3 events
    re-delivered to dispatch-tasks) when `queue` names it or none is named.
    """
    steps, dispatch = _chosen(target, queue)
    reports = _redrive_workers(target, steps, on_progress) if steps else []
    if dispatch:
        reports.append(dispatch_redrive(target, on_progress))
    return reports


def dispatch_redrive(target: Target, on_progress: Callable[[str, int], None] | None = None) -> RedriveReport:
    """Re-deliver every S3 event in the dispatch failures queue to dispatch-tasks; delete each once sent.

    On AWS: an asynchronous invoke (InvocationType=Event) with the on-failure record's requestPayload,
    so a new failure takes the same retries and lands in the queue again. Locally: the raw event back
    to the S3 relay queue, whose host invokes the function. A message that could not be re-delivered
    (unreadable, or the call failed) stays in the queue, visible again, and counts as not moved.
    """
    sqs = target.client("sqs")
    url = target.queues[DISPATCH_FAILURES_QUEUE]["url"]
    report = RedriveReport(DISPATCH, "relayed" if target.is_local else "re-invoked")
    functions = None if target.is_local else target.client("lambda")
    kept = []
    messages = _scan(sqs, url)
    report.found = len(messages)
    for message in messages:
        event = s3_event_of(message["Body"])
        if event is None or not _redeliver(target, sqs, functions, event):
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
        _unhide(sqs, url, kept)  # left for the operator to inspect, not hidden for the scan's timeout
    return report


def _redeliver(target: Target, sqs: Any, functions: Any, event: dict[str, Any]) -> bool:
    payload = json.dumps(event)
    try:
        if functions is None:
            sqs.send_message(QueueUrl=target.queues[S3_EVENTS_QUEUE]["url"], MessageBody=payload)
            return True
        response = functions.invoke(
            FunctionName=target.dispatch_function, InvocationType="Event", Payload=payload.encode()
        )
        return response.get("StatusCode") == 202
    except (ClientError, BotoCoreError):
        return False


def _redrive_workers(
    target: Target, steps: list[str], on_progress: Callable[[str, int], None] | None
) -> list[RedriveReport]:
    sqs = target.client("sqs")
    jobs = _jobs(target)
    mode = "moved" if target.is_local else "move task"
    reports = {step: RedriveReport(step, mode) for step in steps}
    for _ in range(_MAX_ROUNDS if target.is_local else 1):
        scanned = {step: _scan(sqs, target.queues[step]["dlq_url"]) for step in steps}
        if not any(scanned.values()):
            break
        reopened = set(_reopen_for_redrive(jobs, _by_job(scanned)))
        stuck = False
        for step, messages in scanned.items():
            report, queues = reports[step], target.queues[step]
            report.found += len(messages)
            report.reopened += sorted({_job_id(m) for m in messages} & reopened)
            if not messages:
                continue
            if target.is_local:
                moved, failed = _move_back(sqs, queues["dlq_url"], queues["url"], messages)
                report.moved += moved
                report.not_moved += failed
                stuck = stuck or failed > 0
            else:
                _unhide(sqs, queues["dlq_url"], messages)
                try:
                    task = sqs.start_message_move_task(
                        SourceArn=queues["dlq_arn"], DestinationArn=queues["arn"]
                    )
                except ClientError as error:
                    raise OperationError(
                        f"could not start the move task for {queues['dlq_arn']}: {error}"
                    ) from error
                report.task_handle = task.get("TaskHandle")
                report.moved += len(messages)
            if on_progress:
                on_progress(step, report.moved)
        if stuck:
            break  # unsent messages stay hidden for the scan's visibility timeout: report, don't spin
    return list(reports.values())


def _unhide(sqs: Any, url: str, messages: Iterable[dict[str, Any]]) -> None:
    """Make scanned messages visible again, so the move task takes them straight away."""
    batch = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(messages)
    ]
    for start in range(0, len(batch), 10):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=batch[start : start + 10])
