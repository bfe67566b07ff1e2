"""`dlq redrive` on AWS follows ITS OWN move task, not whichever ListMessageMoveTasks lists first.

Answers written from the SQS API reference: ListMessageMoveTasks returns up to 10 of the source queue's
most recent tasks, newest first, and a result's TaskHandle "is only populated for tasks that are in
RUNNING status" (ListMessageMoveTasksResultEntry). One task runs per queue at a time, so a newer task is
another operator's, started after ours stopped.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pixelpipe_cli.redrivers import MoveTaskRedriver, RedriveReport, own_move_task

ACCOUNT = "123456789012"
DLQ_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:resize-dlq"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:resize-queue"
QUEUES = {
    "url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/resize-queue",
    "arn": QUEUE_ARN,
    "dlq_url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/resize-dlq",
    "dlq_arn": DLQ_ARN,
}
OURS = "eyJ0YXNrSWQiOiJvdXJzIn0="
THEIRS = "eyJ0YXNrSWQiOiJ0aGVpcnMifQ=="
ASKED_AT = 1_796_300_000.0  # our wall clock when the redrive asked for its task (s)
ASKED_MS = int(ASKED_AT * 1000)
LISTED = {"SourceArn": DLQ_ARN, "MaxResults": 10}


def task(status: str, started_ms: int, moved: int, to_move: int, handle: str | None = None) -> dict[str, Any]:
    entry = {
        "Status": status,
        "SourceArn": DLQ_ARN,
        "DestinationArn": QUEUE_ARN,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": to_move,
        "StartedTimestamp": started_ms,
    }
    if handle:
        entry["TaskHandle"] = handle
    return entry


YESTERDAYS = task("COMPLETED", ASKED_MS - 86_400_000, 40, 40)


def redrive(listings: list[list[dict[str, Any]]]) -> RedriveReport:
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(sqs)
    stub.add_response("change_message_visibility_batch", {"Successful": [{"Id": "0"}], "Failed": []}, None)
    stub.add_response(
        "start_message_move_task", {"TaskHandle": OURS}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    for results in listings:
        stub.add_response("list_message_move_tasks", {"Results": results}, LISTED)
    redriver = MoveTaskRedriver(
        sqs, None, "dispatch-tasks", wait_seconds=60, sleep=lambda _: None, wall_clock=lambda: ASKED_AT
    )
    report = RedriveReport("resize", redriver.worker_mode)
    with stub:
        redriver.move(QUEUES, [{"ReceiptHandle": "r-0"}], report)
        stub.assert_no_pending_responses()
    return report


def test_our_task_is_followed_by_its_handle_and_then_by_its_start_when_a_newer_one_runs() -> None:
    # GIVEN our task RUNNING at first; then it COMPLETED (no handle any more) and another operator's
    # newer task is RUNNING on the same DLQ, listed first
    ours_running = task("RUNNING", ASKED_MS + 200, 3, 12, OURS)
    ours_done = task("COMPLETED", ASKED_MS + 200, 12, 12)
    theirs = task("RUNNING", ASKED_MS + 9_000, 0, 5, THEIRS)
    # WHEN the redrive follows its task
    report = redrive([[ours_running, YESTERDAYS], [theirs, ours_done, YESTERDAYS]])
    # THEN it reports its own task: COMPLETED, 12 of 12 (not the other's RUNNING 0 of 5)
    outcome = (report.task_status, report.moved, report.to_move, report.task_handle)
    assert outcome == ("COMPLETED", 12, 12, OURS)


def test_a_task_that_stopped_before_the_first_look_is_the_earliest_started_after_we_asked() -> None:
    # GIVEN our task FAILED before the redrive first listed (so it never showed its handle), and a newer
    # task of another operator has COMPLETED since; yesterday's task is listed last
    ours = task("FAILED", ASKED_MS + 150, 2, 7) | {"FailureReason": "AWS.SimpleQueueService.KmsAccessDenied"}
    theirs = task("COMPLETED", ASKED_MS + 30_000, 5, 5)
    # WHEN the redrive follows its task
    report = redrive([[theirs, ours, YESTERDAYS]])
    # THEN it reports ours: FAILED with its reason, 2 moved, 5 not moved
    assert (report.task_status, report.moved, report.not_moved, report.failure_reason) == (
        "FAILED",
        2,
        5,
        "AWS.SimpleQueueService.KmsAccessDenied",
    )


def test_a_listing_without_our_task_is_reported_unknown_not_as_someone_elses() -> None:
    # GIVEN only tasks that began before we asked (ours is not listed yet)
    report = redrive([[YESTERDAYS]])
    # THEN nothing of yesterday's task is reported as ours
    assert (report.task_status, report.moved) == ("UNKNOWN", 0)


@pytest.mark.parametrize(
    ("tasks", "seen", "expected"),
    [
        ([task("RUNNING", 5, 0, 1, THEIRS), task("RUNNING", 1, 0, 1, OURS)], None, 1),
        ([task("COMPLETED", 9, 1, 1), task("COMPLETED", 4, 1, 1)], 4, 4),
        ([task("COMPLETED", 9, 1, 1)], 4, None),  # ours left the 10 listed: not someone else's
    ],
)
def test_own_move_task(tasks: list[dict[str, Any]], seen: int | None, expected: int | None) -> None:
    found = own_move_task(tasks, OURS, seen, started_ms=0)
    assert found.get("StartedTimestamp") == expected
