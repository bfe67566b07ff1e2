"""Dead letters: list what each DLQ holds, and choose which queues a redrive acts on.

The redrive itself — reopening each dead message's step on its FAILED job, moving the messages back, and
re-delivering a dispatch failure's S3 event — lives in pixelpipe_cli.redrivers, in one place per target.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from pixelpipe.config import settings, workers
from pixelpipe_cli.redrivers import (
    DISPATCH,
    Redriver,
    RedriveReport,
    job_id_of,
    redrive,
    s3_event_of,
)
from pixelpipe_cli.retry import OperationError
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, Target

__all__ = [
    "DISPATCH",
    "DeadLetter",
    "DlqSummary",
    "OperationError",
    "RedriveReport",
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
        job_id=job_id_of(message),
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=attributes.get("SentTimestamp", ""),
    )


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


def dlq_redrive(
    target: Target,
    queue: str | None = None,
    on_progress: Callable[[str, int], None] | None = None,
    redriver: Redriver | None = None,
) -> list[RedriveReport]:
    """Reopen the dead messages' steps on their FAILED jobs, then move the messages back to their queues.

    The queues are chosen here (`queue`, or every worker DLQ and the dispatch failures queue); all the
    redriving happens in pixelpipe_cli.redrivers, with the target's Redriver (redrivers.redriver_for).
    """
    steps, dispatch = _chosen(target, queue)
    return redrive(target, steps, dispatch, redriver, on_progress)
