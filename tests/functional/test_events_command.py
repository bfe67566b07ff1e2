"""`pixelpipe events` against an SQS queue shaped as EventBridge fills it (moto): each eventId printed
once however often it is delivered, every read message deleted, a message that is not an event left on
the queue (its redrive policy takes it to the DLQ), and hostile text printed literally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from pixelpipe_cli.job_events import EventReader, event_line

REGION = "us-east-1"


def envelope(event_id: str, status: str = "COMPLETE", key: str = "uploads/cat.png") -> dict[str, Any]:
    """An event as EventBridge delivers it to an SQS target (the envelope fields of its documentation)."""
    return {
        "version": "0",
        "id": f"eventbridge-{event_id}-{status}",
        "detail-type": "Pixel-Pipe Job Finished",
        "source": "pixelpipe",
        "account": "123456789012",
        "time": "2026-11-25T08:08:50Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventId": event_id,
            "jobId": f"job-{event_id}",
            "status": status,
            "key": key,
            "thumbnails": [],
            "labels": [{"name": "tabby cat", "confidence": 71.42}],
            "reason": None if status == "COMPLETE" else "resize: not an image",
            "finishedAt": "2026-11-25T08:08:50.171Z",
        },
    }


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def test_each_event_id_is_printed_once_and_read_messages_are_deleted(sqs):
    # GIVEN a queue holding two events, one of them delivered three times (a re-send and redeliveries),
    # and a message that is not an event
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    bodies = [envelope("a"), envelope("b", "FAILED"), envelope("a"), envelope("a")]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=url, MessageBody="not json")

    # WHEN the command reads it (without --follow: until the queue has nothing more)
    reader = EventReader(sqs, url)
    read = list(reader.read(follow=False))

    # THEN each eventId once, in order of arrival; the junk is counted and left, everything else deleted
    assert [event["detail"]["eventId"] for event in read] == ["a", "b"]
    assert reader.unreadable >= 1
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    left = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    assert left == 1


def test_an_event_line_shows_hostile_text_literally():
    # GIVEN an event whose key and reason hold rich markup and a terminal escape sequence
    event = envelope("x", "FAILED", key="uploads/[link=https://evil.example]cat[/link]\x1b[2J.png")
    event["detail"]["reason"] = "resize: [bold red]boom[/bold red]"

    # WHEN it is printed
    console = Console(record=True, width=200, color_system=None)
    console.print(event_line(event))
    text = console.export_text()

    # THEN the markup reads back as text and the escape is shown, not executed
    assert "[link=https://evil.example]cat[/link]\\x1b[2J.png" in text
    assert "resize: [bold red]boom[/bold red]" in text
    assert "\x1b" not in text
