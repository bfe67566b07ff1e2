"""A queue's oldest message age, published as SQS publishes it and read by the console from CloudWatch.

The emulator's publisher (`pixelpipe_emulator.sqs_metrics`) runs here against moto in-process: the rules
of the SQS developer guide (only while a queue holds a message; a standard queue skips messages
received three times or more; a DLQ counts from a message's arrival), the datapoints as
GetMetricStatistics returns them, and the console's queues table reading them (the same read on both
targets: here moto in-process stands in for AWS).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from pixelpipe.config import workers
from pixelpipe_cli.target import Target
from pixelpipe_console.data_queues import worker_queues
from pixelpipe_emulator import sqs_metrics
from pixelpipe_emulator.provision import redrive_policy
from support.deployed import use_test_credentials
from support.stacks import wait_until

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    use_test_credentials(monkeypatch)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue_with_dlq(sqs, name: str) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": redrive_policy(dlq_arn, 5), "VisibilityTimeout": "0"}
    )["QueueUrl"]
    return queue, dlq


def _age(name: str, since: datetime) -> float | None:
    """The newest Maximum of the queue's metric, as a caller of GetMetricStatistics sees it."""
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": name}],
        StartTime=since - timedelta(minutes=5),
        EndTime=since + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max(points, key=lambda p: p["Timestamp"])["Maximum"] if points else None


def test_a_waiting_message_ages_and_an_empty_queue_publishes_nothing(sqs) -> None:
    # GIVEN a queue with one waiting message and an empty one
    waiting, _ = _queue_with_dlq(sqs, "waiting")
    _queue_with_dlq(sqs, "empty")
    sqs.send_message(QueueUrl=waiting, MessageBody="one")
    # WHEN the publisher samples 90 s later
    later = datetime.now(UTC) + timedelta(seconds=90)
    published = sqs_metrics.OldestMessageAges().publish(now=later)
    # THEN the waiting queue's age is about 90 s, and no queue without a message has a datapoint
    assert published == 1
    assert 89 <= _age("waiting", later) <= 92
    assert _age("empty", later) is None and _age("empty-dlq", later) is None


def test_a_message_received_three_times_no_longer_counts_as_the_oldest(sqs) -> None:
    # GIVEN a poison message sent an hour ago and received three times, never deleted
    queue, _ = _queue_with_dlq(sqs, "work")
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    _backend_queue("work")._messages[0].sent_timestamp -= 3_600_000
    for _ in range(3):  # visibility timeout 0: each receive returns it at once
        assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "poison"
    # AND a healthy message sent now
    sqs.send_message(QueueUrl=queue, MessageBody="healthy")
    # WHEN sampled 60 s later
    later = datetime.now(UTC) + timedelta(seconds=60)
    sqs_metrics.OldestMessageAges().publish(now=later)
    # THEN the age is the healthy message's, not the poison one's (SQS moves poison to the back)
    assert 59 <= _age("work", later) <= 61


def _backend_queue(name: str):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    return sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[name]


def test_a_dead_letter_queue_counts_from_the_messages_arrival(sqs) -> None:
    # GIVEN a message that failed into the DLQ after its five receives
    queue, dlq = _queue_with_dlq(sqs, "failing")
    sqs.send_message(QueueUrl=queue, MessageBody="fails")
    for _ in range(6):  # the sixth receive moves it (moto moves on the receive after maxReceiveCount)
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)
    dead = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"])  # fmt: skip
    assert dead == 1
    ages = sqs_metrics.OldestMessageAges()
    # WHEN sampled first an hour after its first send, then 120 s after that
    first = datetime.now(UTC) + timedelta(hours=1)
    ages.publish(now=first)
    assert _age("failing-dlq", first) == 0  # seen just now: it arrived since the last sample
    second = first + timedelta(seconds=120)
    ages.publish(now=second)
    # THEN the age is the time since it was first seen there, not since its first send an hour ago
    assert _age("failing-dlq", second) == 120
    assert _age("failing", second) is None  # the worker queue is empty now


def test_the_publisher_thread_puts_datapoints_while_the_emulator_runs(sqs) -> None:
    # GIVEN a queue holding a message and the publisher started as the emulator starts it
    queue, _ = _queue_with_dlq(sqs, "live")
    sqs.send_message(QueueUrl=queue, MessageBody="wait")
    stop = sqs_metrics.start(period=0.1)
    try:
        # THEN a datapoint appears within seconds
        wait_until(lambda: _age("live", datetime.now(UTC)), timeout=10)
    finally:
        stop.set()


def test_the_console_shows_the_published_age_of_a_waiting_worker_queue(sqs) -> None:
    # GIVEN the worker queues, a message sent 75 s ago waiting in the first, and the publisher's sample
    config_steps = list(workers())
    queues = {}
    for step, worker in workers().items():
        url, dlq_url = _queue_with_dlq(sqs, worker.queue)
        queues[step] = {"url": url, "arn": "", "dlq_url": dlq_url, "dlq_arn": ""}
    sqs.send_message(QueueUrl=queues[config_steps[0]]["url"], MessageBody="waiting")
    _backend_queue(workers()[config_steps[0]].queue)._messages[0].sent_timestamp -= 75_000
    sqs_metrics.OldestMessageAges().publish()
    target = Target(REGION, "u", "uploads/", "t", "jobs", "idx", "topic", "machine", queues=queues)
    # WHEN the console reads the queues table
    rows = {row.step: row for row in worker_queues(target)}
    # THEN the waiting queue shows about 75 s and one visible message; the empty ones show 0
    first = rows[config_steps[0]]
    assert first.visible == 1 and 74 <= first.oldest_age_s <= 77
    assert all(rows[step].oldest_age_s == 0 for step in config_steps[1:])
