"""The queue metric AWS publishes and moto does not: ApproximateAgeOfOldestMessage, into CloudWatch.

SQS answers a queue's oldest message age only as a CloudWatch metric (namespace AWS/SQS, dimension
QueueName, one datapoint a minute); a peek would count as a receive and push messages towards their
DLQ. The console reads the metric on both targets, so the emulator publishes it into moto's CloudWatch
from the queues' own state, without receiving, following the SQS developer guide:
- a datapoint only while the queue holds a message (visible or in flight);
- a standard queue's age skips messages received three times or more (SQS moves those to the back);
- a dead-letter queue's age counts from a message's arrival there, not its first send (moto keeps the
  original send time when it moves one); arrival is when this publisher first saw it, so the age is
  short by at most one period.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.sqs.models import sqs_backends

PERIOD_ENV = "PIXELPIPE_EMULATOR_SQS_METRICS_SECONDS"
DEFAULT_PERIOD_SECONDS = 60.0  # as SQS publishes
POISON_RECEIVES = 3
NAMESPACE = "AWS/SQS"
METRIC = "ApproximateAgeOfOldestMessage"


def period_seconds() -> float:
    raw = os.environ.get(PERIOD_ENV, "")
    try:
        period = float(raw) if raw.strip() else DEFAULT_PERIOD_SECONDS
    except ValueError:
        raise SystemExit(f"{PERIOD_ENV} must be a number of seconds, not {raw!r}") from None
    if period <= 0:
        raise SystemExit(f"{PERIOD_ENV} must be above 0, not {raw!r}")
    return period


class OldestMessageAges:
    """Each queue's oldest message age by AWS's rules; remembers when messages reached a DLQ."""

    def __init__(self) -> None:
        self._arrived: dict[str, dict[str, int]] = {}  # DLQ arn -> message id -> ms first seen

    def age_s(self, queue: Any, is_dead_letter_queue: bool, now_ms: int) -> float | None:
        messages = list(queue._messages)  # one snapshot: request threads append and remove
        if is_dead_letter_queue:
            seen = self._arrived.get(queue.queue_arn, {})
            arrived = {m.id: seen.get(m.id, now_ms) for m in messages}  # gone messages are forgotten
            self._arrived[queue.queue_arn] = arrived
            sent = list(arrived.values())
        else:
            sent = [
                m.sent_timestamp
                for m in messages
                if m.sent_timestamp is not None and m.approximate_receive_count < POISON_RECEIVES
            ]
        if not messages:
            return None
        return max(0.0, (now_ms - min(sent)) / 1000) if sent else 0.0

    def publish(self, now: datetime | None = None) -> int:
        """One datapoint per queue that holds a message, in every account and region; how many."""
        now = now or datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        published = 0
        for account, regions in list(dict.items(sqs_backends)):
            for region, backend in list(dict.items(regions)):
                queues = list(backend.queues.values())
                dead_letter_arns = {
                    q.redrive_policy["deadLetterTargetArn"] for q in queues if q.redrive_policy
                }
                data = []
                for queue in queues:
                    age = self.age_s(queue, queue.queue_arn in dead_letter_arns, now_ms)
                    if age is not None:
                        data.append(
                            {
                                "MetricName": METRIC,
                                "Value": age,
                                "Unit": "Seconds",
                                "Dimensions": [{"Name": "QueueName", "Value": queue.name}],
                                "Timestamp": now.astimezone(UTC).replace(tzinfo=None),  # as moto stores it
                            }
                        )
                if data:
                    cloudwatch_backends[account][region].put_metric_data(NAMESPACE, data)
                    published += len(data)
        return published


def publish_every(period: float, stop: threading.Event) -> None:
    ages = OldestMessageAges()
    while True:
        try:
            ages.publish()
        except Exception:  # the publisher must never take the emulator down
            logging.getLogger(__name__).exception("publishing SQS metrics failed")
        if stop.wait(period):
            return


def start(period: float | None = None) -> threading.Event:
    """Publish every `period` s (PIXELPIPE_EMULATOR_SQS_METRICS_SECONDS, 60) until the event is set."""
    stop = threading.Event()
    threading.Thread(
        target=publish_every, args=(period or period_seconds(), stop), name="sqs-metrics", daemon=True
    ).start()
    return stop
