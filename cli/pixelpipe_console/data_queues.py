"""The queues and the pipeline map for the console, through pixelpipe_cli.dlq (one place to
adapt, like data.py for jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pixelpipe.config import settings, workers
from pixelpipe.logic.lifecycle import JobStatus, StepStatus
from pixelpipe_cli import dlq
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, Target
from pixelpipe_console.data import hour_ago

# -------------------------------------------------------------------------------------------- queues


@dataclass
class QueueRow:
    step: str
    name: str
    url: str
    visible: int
    in_flight: int
    oldest_age_s: int | None  # None until CloudWatch has a datapoint (SQS publishes once a minute)


def _queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)), int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


# SQS pushes its metrics at one-minute intervals, but a datapoint can reach CloudWatch several minutes
# after the minute it describes (up to about 15 minutes is commonly reported); a short look-back shows
# "no datapoint yet" for a queue that has been backed up for minutes. The newest datapoint within it wins.
AGE_LOOK_BACK = timedelta(minutes=15)


def queue_name(target: Target, step: str, dlq: bool = False) -> str:
    """The deployed name (name_prefix included) of a step's queue or DLQ, from its ARN in the Target:
    what SQS publishes as the `QueueName` dimension. pipeline.json's name lacks the prefix."""
    arn = target.queues[step].get("dlq_arn" if dlq else "arn")
    worker = workers()[step]
    return arn.rsplit(":", 1)[-1] if arn else (worker.dlq if dlq else worker.queue)


def _oldest_age_s(target: Target, name: str, messages: int) -> int | None:
    """SQS keeps a queue's oldest message age only as a CloudWatch metric (a peek at a live worker queue
    would count as a receive); the local emulator publishes it as SQS does. An empty queue is 0: SQS
    stops publishing then, and the last datapoint would show an age that is gone."""
    if messages == 0:
        return 0
    now = datetime.now(UTC)
    answer = target.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": name}],
        StartTime=now - AGE_LOOK_BACK,
        EndTime=now + timedelta(minutes=1),  # the current minute's datapoint included
        Period=60,
        Statistics=["Maximum"],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return int(points[-1]["Maximum"]) if points else None


def worker_queues(target: Target) -> list[QueueRow]:
    sqs = target.client("sqs")
    rows = []
    for step in workers():
        if step not in target.queues:
            continue
        visible, in_flight = _queue_counts(sqs, target.queues[step]["url"])
        name = queue_name(target, step)
        rows.append(
            QueueRow(
                step,
                name,
                target.queues[step]["url"],
                visible,
                in_flight,
                _oldest_age_s(target, name, visible + in_flight),
            )
        )
    return rows


@dataclass
class DeadLetterView:
    message_id: str
    job_id: str
    upload: str
    receive_count: int
    age_s: int | None
    reason: str
    job_status: str = ""  # "" for a dispatch failure (no job yet)


@dataclass
class DlqView:
    step: str
    name: str
    visible: int
    in_flight: int
    oldest_age_s: int | None
    messages: list[DeadLetterView]


def _age_s(sent_at: str) -> int | None:
    try:
        return max(0, int(datetime.now(UTC).timestamp() - int(sent_at) / 1000))
    except (TypeError, ValueError):
        return None


def dead_letter_queues(target: Target) -> list[DlqView]:
    """dlq.dlq_list (a peek: nothing is consumed), with each message's job and its failure reason."""
    client = JobsClient(target)
    views = []
    for summary in dlq.dlq_list(target):
        messages = []
        for letter in summary.samples:
            job = client.get(letter.job_id) if letter.job_id and letter.job_id != "?" else None
            status = job.get("status", "") if job else ""
            if status == JobStatus.FAILED:
                reason = job.get("failureReason", "")
            elif job:
                reason = f"job is {status} (retried since): a redrive drops this message"
            else:
                failed_on = f"the S3 event {target.dispatch_function} failed on"
                reason = failed_on if letter.upload else "no such job"
            messages.append(
                DeadLetterView(
                    letter.message_id,
                    letter.job_id,
                    letter.upload,
                    letter.receive_count,
                    _age_s(letter.sent_at),
                    reason,
                    status,
                )
            )
        ages = [m.age_s for m in messages if m.age_s is not None]
        views.append(
            DlqView(
                summary.step,
                summary.dlq,
                summary.visible,
                summary.in_flight,
                max(ages) if ages else None,
                messages,
            )
        )
    return views


def redrive(target: Target, queue: str | None) -> list[dlq.RedriveReport]:
    return dlq.dlq_redrive(target, queue)


# ---------------------------------------------------------------------------------------- pipeline map


@dataclass
class MapNode:
    id: str
    kind: str
    name: str
    counts: dict[str, int | str]


@dataclass
class PipelineMap:
    intake: list[MapNode]  # upload bucket, dispatch, dispatch failures, topic
    lanes: list[list[MapNode]]  # per worker: queue, function, DLQ
    outlet: list[MapNode]  # state machine, jobs table, thumbnails bucket


def _failures_name(target: Target) -> str:
    arn = target.queues.get(DISPATCH_FAILURES_QUEUE, {}).get("arn")
    return arn.rsplit(":", 1)[-1] if arn else settings().dispatch.failure_queue


def pipeline_map(target: Target, counts: dict[str, int]) -> PipelineMap:
    """The architecture from pipeline.json (a new worker gets its own lane), each part under its deployed
    name (name_prefix included), with live counts (the jobs per status as the console's StatusCounts gives
    them)."""
    sqs = target.client("sqs")
    recent_failed = [
        job
        for job in JobsClient(target).table.by_status(JobStatus.FAILED, limit=1000)
        if job.get("updatedAt", "") >= hour_ago()
    ]
    failures: dict[str, int | str] = {}
    if DISPATCH_FAILURES_QUEUE in target.queues:
        visible, in_flight = _queue_counts(sqs, target.queues[DISPATCH_FAILURES_QUEUE]["url"])
        failures = {"waiting": visible, "in flight": in_flight}
    intake = [
        MapNode("upload-bucket", "bucket", target.upload_bucket, {"prefix": target.upload_prefix}),
        MapNode("dispatch", "function", target.dispatch_function, {}),
        MapNode("dispatch-failures", "dlq", _failures_name(target), failures),
        MapNode("topic", "topic", target.topic_arn.rsplit(":", 1)[-1], {}),
    ]
    lanes = []
    for step, worker in workers().items():
        if step not in target.queues:
            continue
        visible, in_flight = _queue_counts(sqs, target.queues[step]["url"])
        dead, dead_in_flight = _queue_counts(sqs, target.queues[step]["dlq_url"])
        failed_here = sum(
            1
            for job in recent_failed
            if job.get("steps", {}).get(step, {}).get("status") == StepStatus.FAILED
        )
        lanes.append(
            [
                MapNode(
                    f"queue-{step}",
                    "queue",
                    queue_name(target, step),
                    {"waiting": visible, "in flight": in_flight},
                ),
                MapNode(f"worker-{step}", "function", worker.function, {"failed last hour": failed_here}),
                MapNode(
                    f"dlq-{step}", "dlq", queue_name(target, step, dlq=True), {"dead": dead + dead_in_flight}
                ),
            ]
        )
    outlet = [
        MapNode(
            "state-machine",
            "state machine",
            target.state_machine_arn.rsplit(":", 1)[-1],
            {"running jobs": counts[JobStatus.PENDING]},
        ),
        MapNode(
            "table",
            "table",
            target.jobs_table,
            {**{s.lower(): n for s, n in counts.items()}, "failed last hour": len(recent_failed)},
        ),
        MapNode("thumbnail-bucket", "bucket", target.thumbnail_bucket, {}),
    ]
    return PipelineMap(intake, lanes, outlet)
