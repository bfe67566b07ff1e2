"""How dead messages go back into the pipeline, in one place: `redrive` for the queues dlq.py chose.

A worker redrive reopens each dead message's step on its FAILED job first (a worker's claim needs the job
PENDING and the step PENDING/RUNNING), then moves the messages back. The dispatch failures queue has no job
to reopen: S3 invokes dispatch asynchronously, and an event it still fails on after Lambda's retries lands
there before any job record exists; its redrive re-delivers each S3 event to the dispatch function and
deletes the message only once that succeeded (dispatch is idempotent: a re-delivery never duplicates a job).

Local and AWS differ only in the Redriver, chosen once from the Target (redriver_for), which does two things:
- move a worker DLQ's messages back to the worker's queue. AWS: StartMessageMoveTask, then the task's
  own report from ListMessageMoveTasks (polled until it is no longer RUNNING, within a time limit).
  Local: moto has no StartMessageMoveTask, so the CLI sends each message back itself, then deletes it.
- re-deliver a dispatch failure's S3 event to dispatch-tasks. AWS: an asynchronous invoke
  (InvocationType=Event), so a new failure gets Lambda's retries and lands in the queue again.
  Local: the raw event back to the S3 relay queue, whose host invokes the function.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import settings
from pixelpipe.logic import redrive as redrive_rule
from pixelpipe_cli.retry import OperationError
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, S3_EVENTS_QUEUE, Target

DISPATCH = "dispatch"  # the "step" of the dispatch failures queue in listings, reports and --queue


# ListMessageMoveTasks' Status values, by what they mean for a redrive.
MOVE_TASK_ACTIVE = ("RUNNING", "CANCELLING")
MOVE_TASK_GAVE_UP = ("FAILED", "CANCELLED")


@dataclass
class RedriveReport:
    step: str
    # "moved" (local send-then-delete) or "move task" (AWS StartMessageMoveTask); for dispatch failures
    # "re-invoked" (AWS: async invoke of dispatch-tasks) or "relayed" (local: back to the S3 relay queue)
    mode: str
    found: int = 0  # messages the scan saw in the queue
    moved: int = 0  # locally: sent back and deleted; AWS move task: its ApproximateNumberOfMessagesMoved
    not_moved: int = 0
    reopened: list[str] = field(default_factory=list)
    task_handle: str | None = None  # AWS move task: what StartMessageMoveTask returned (to cancel it)
    task_status: str | None = None  # AWS move task: RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED
    to_move: int | None = None  # AWS move task: ApproximateNumberOfMessagesToMove
    failure_reason: str = ""  # AWS move task: FailureReason of a FAILED task

    @property
    def still_moving(self) -> bool:
        """The AWS move task had not ended when the command stopped following it."""
        return self.task_status in MOVE_TASK_ACTIVE

    @property
    def gave_up(self) -> bool:
        """The AWS move task ended before moving everything (failed or cancelled)."""
        return self.task_status in MOVE_TASK_GAVE_UP


class Redriver(Protocol):
    sqs: Any
    worker_mode: str
    dispatch_mode: str
    rounds: int  # how many scan-and-move rounds a worker redrive may take

    def move(self, queues: dict[str, str], messages: list[dict[str, Any]], report: RedriveReport) -> bool:
        """Move `messages` (scanned from queues["dlq_url"]) back; True when no further round should run."""
        ...

    def redeliver(self, event: dict[str, Any]) -> bool:
        """Hand one S3 event to dispatch-tasks again; False when that failed."""
        ...


# How long a scanned DLQ message stays hidden while it is reopened and moved; longer than any redrive.
SCAN_VISIBILITY_SECONDS = 300
# A message that keeps failing comes back to the DLQ: a local redrive never goes round in circles.
_MAX_LOCAL_ROUNDS = 10


def scan(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, received and hidden for the scan (receipt handles valid)."""
    seen: dict[str, dict[str, Any]] = {}
    empty_in_a_row = 0
    while empty_in_a_row < 2:  # short polling can miss messages: stop after two empty answers
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=SCAN_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty_in_a_row = 0 if messages else empty_in_a_row + 1
        for message in messages:
            seen[message["MessageId"]] = message
    return list(seen.values())


def unhide(sqs: Any, url: str, messages: Iterable[dict[str, Any]]) -> None:
    """Make scanned messages visible again (for a move task to take, or an operator to inspect)."""
    batch = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(messages)
    ]
    for start in range(0, len(batch), 10):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=batch[start : start + 10])


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }


@dataclass
class LocalRedriver:
    """The local stack: send-then-delete (moto lacks StartMessageMoveTask), S3 events to the relay queue."""

    sqs: Any
    relay_url: str
    worker_mode: str = "moved"
    dispatch_mode: str = "relayed"
    rounds: int = _MAX_LOCAL_ROUNDS

    def move(self, queues: dict[str, str], messages: list[dict[str, Any]], report: RedriveReport) -> bool:
        """Send each message to the source queue, then delete from the DLQ only what was sent.

        Unsent messages stay hidden for the scan's visibility timeout: stop rather than spin on them.
        """
        failed = 0
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            sent = self.sqs.send_message_batch(
                QueueUrl=queues["url"],
                Entries=[
                    {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _message_attributes(m)}
                    for i, m in enumerate(batch)
                ],
            )
            ok = [batch[int(entry["Id"])] for entry in sent.get("Successful", [])]
            failed += len(sent.get("Failed", []))
            if ok:
                deleted = self.sqs.delete_message_batch(
                    QueueUrl=queues["dlq_url"],
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ok)],
                )
                # A copy already went back: a failed delete only means a duplicate, which the claim drops.
                report.moved += len(ok) - len(deleted.get("Failed", []))
        report.not_moved += failed
        return failed > 0

    def redeliver(self, event: dict[str, Any]) -> bool:
        try:
            self.sqs.send_message(QueueUrl=self.relay_url, MessageBody=json.dumps(event))
        except (ClientError, BotoCoreError):
            return False
        return True


_POLL_SECONDS = 2.0
# How far SQS's StartedTimestamp may lag our clock when we recognise our finished task by time alone.
_CLOCK_SKEW_MS = 1000


def own_move_task(
    tasks: list[dict[str, Any]], handle: str | None, seen_started: int | None, started_ms: int
) -> dict[str, Any]:
    """Our task among ListMessageMoveTasks' results (newest first; another operator's may be newer).

    SQS lists a task's TaskHandle only while it is RUNNING (API reference,
    ListMessageMoveTasksResultEntry), so: the task carrying our handle; once it has stopped, the one with
    the StartedTimestamp we saw while it ran; and if it finished before we ever saw it running, the
    earliest task started after we asked (one task at a time per queue: an older one ended before ours
    began, a newer one started after ours).
    """
    if handle:
        for task in tasks:
            if task.get("TaskHandle") == handle:
                return task
    if seen_started is not None:
        for task in tasks:
            if task.get("StartedTimestamp") == seen_started and task.get("Status") not in MOVE_TASK_ACTIVE:
                return task
        return {}
    later = [
        task
        for task in tasks
        if not task.get("TaskHandle") and int(task.get("StartedTimestamp", 0)) >= started_ms - _CLOCK_SKEW_MS
    ]
    return min(later, key=lambda task: int(task["StartedTimestamp"])) if later else {}


@dataclass
class MoveTaskRedriver:
    """AWS: SQS's own DLQ redrive (StartMessageMoveTask), and asynchronous invokes of dispatch-tasks."""

    sqs: Any
    functions: Any  # a Lambda client
    dispatch_function: str
    wait_seconds: float = 60.0  # how long to follow a move task before reporting it still RUNNING
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time  # when we asked for the task, to tell it from older ones
    worker_mode: str = "move task"
    dispatch_mode: str = "re-invoked"
    rounds: int = 1  # the task moves everything in the DLQ, including what arrives while it runs

    def move(self, queues: dict[str, str], messages: list[dict[str, Any]], report: RedriveReport) -> bool:
        unhide(self.sqs, queues["dlq_url"], messages)  # the task only takes visible messages
        started_ms = int(self.wall_clock() * 1000)
        try:
            started = self.sqs.start_message_move_task(
                SourceArn=queues["dlq_arn"], DestinationArn=queues["arn"]
            )
        except ClientError as error:
            raise OperationError(f"could not start the move task for {queues['dlq_arn']}: {error}") from error
        report.task_handle = started.get("TaskHandle")
        task = self._follow(queues["dlq_arn"], report.task_handle, started_ms)
        report.task_status = task.get("Status", "UNKNOWN")
        report.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        report.to_move = task.get("ApproximateNumberOfMessagesToMove")
        report.failure_reason = task.get("FailureReason", "")
        if report.gave_up:
            expected = report.to_move if report.to_move is not None else len(messages)
            report.not_moved = max(0, expected - report.moved)
        return True

    def _follow(self, dlq_arn: str, handle: str | None, started_ms: int) -> dict[str, Any]:
        """Our move task (matched by `handle`, see `own_move_task`), once it stopped or the wait ran out;
        {} when the listing never showed it."""
        deadline = self.clock() + self.wait_seconds
        seen_started: int | None = None
        while True:
            # The 10 most recent tasks of the DLQ (the API's maximum), newest first: another operator's
            # task may be newer than ours.
            tasks = self.sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
            task = own_move_task(tasks, handle, seen_started, started_ms)
            if handle and task.get("TaskHandle") == handle:
                seen_started = task.get("StartedTimestamp")
            if task.get("Status") not in MOVE_TASK_ACTIVE or self.clock() >= deadline:
                return task
            self.sleep(_POLL_SECONDS)

    def redeliver(self, event: dict[str, Any]) -> bool:
        try:
            response = self.functions.invoke(
                FunctionName=self.dispatch_function,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
        except (ClientError, BotoCoreError):
            return False
        return response.get("StatusCode") == 202


def redriver_for(target: Target, wait_seconds: float = 60.0) -> Redriver:
    """The target's way of redriving: chosen here once, so no operation asks which target it runs on."""
    if target.is_local:
        return LocalRedriver(target.client("sqs"), target.queues[S3_EVENTS_QUEUE]["url"])
    return MoveTaskRedriver(
        target.client("sqs"), target.client("lambda"), target.dispatch_function, wait_seconds
    )


# ------------------------------------------------------------------------------------------ the redrive
def redrive(
    target: Target,
    steps: list[str],
    dispatch: bool,
    redriver: Redriver | None = None,
    on_progress: Callable[[str, int], None] | None = None,
) -> list[RedriveReport]:
    """Redrive the DLQs of `steps` and (when `dispatch`) the dispatch failures queue; reports in that order.

    `redriver` defaults to the target's (redriver_for). The dispatch failures go first: they need nothing
    below this module but the Redriver, while a worker redrive ends in the jobs table and the redrive rule
    (pixelpipe.logic.redrive).
    """
    redriver = redriver or redriver_for(target)
    failures = [_redrive_dispatch(target, redriver, on_progress)] if dispatch else []
    return (_redrive_workers(target, steps, redriver, on_progress) if steps else []) + failures


def job_id_of(message: dict[str, Any]) -> str:
    """The job a worker's SQS message is about (its body, else its jobId attribute); "?" if neither."""
    return redrive_rule.job_id_of(*_body_and_job_attribute(message))


def _body_and_job_attribute(message: dict[str, Any]) -> tuple[str, str | None]:
    return message["Body"], message.get("MessageAttributes", {}).get("jobId", {}).get("StringValue")


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


def _redrive_dispatch(
    target: Target, redriver: Redriver, on_progress: Callable[[str, int], None] | None
) -> RedriveReport:
    """Re-deliver every S3 event in the dispatch failures queue to dispatch; delete each once sent.

    A message that could not be re-delivered (unreadable, or the call failed) stays in the queue,
    visible again, and counts as not moved.
    """
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
    """Scan every chosen DLQ, reopen the dead steps on their FAILED jobs (all of a job's at once), then
    move the messages back; again for a Redriver that takes several rounds."""
    reports = {step: RedriveReport(step, redriver.worker_mode) for step in steps}
    deadline_seconds = settings().limits.job_deadline_seconds
    jobs: JobsTable | None = None
    for _ in range(redriver.rounds):
        scanned = {step: scan(redriver.sqs, target.queues[step]["dlq_url"]) for step in steps}
        if not any(scanned.values()):
            break
        dead = {step: [_body_and_job_attribute(m) for m in messages] for step, messages in scanned.items()}
        jobs = jobs or JobsTable(target.client("dynamodb"), target.jobs_table, target.status_index)
        job_ids, reopened = redrive_rule.reopen_for_redrive(jobs, dead, deadline_seconds)
        stop = False
        for step, messages in scanned.items():
            report = reports[step]
            report.found += len(messages)
            report.reopened += sorted(set(job_ids[step]) & reopened)
            if not messages:
                continue
            stop = redriver.move(target.queues[step], messages, report) or stop
            if on_progress:
                on_progress(step, report.moved)
        if stop:
            break
    return list(reports.values())
