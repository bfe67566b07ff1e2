"""`retry` and `dlq list|redrive` on AWS: moto where it implements the call (DynamoDB), botocore Stubber
with answers written from the API reference where it doesn't (StartMessageMoveTask,
ListMessageMoveTasks) or where the exact request matters (SNS Publish, SQS peek)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from pixelpipe.config import settings
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe_cli import dlq, retry
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.main import app
from pixelpipe_cli.redrivers import MoveTaskRedriver
from pixelpipe_cli.target import DISPATCH_FAILURES_QUEUE, Target
from support.deployed import deployed_on_moto

MOVE_TASK_HANDLE = "eyJ0YXNrSWQiOiJkYTFkOWRkYy0wMDAwIiwic291cmNlQXJuIjoiYXJuIn0="


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    with deployed_on_moto(monkeypatch) as deployed:
        yield deployed


def stub_service(monkeypatch: pytest.MonkeyPatch, service: str) -> tuple[Any, Stubber]:
    """From now on `service` answers only what the test stubs; the other services stay in moto."""
    client = boto3.client(service, region_name="us-east-1")
    real = Target.client
    monkeypatch.setattr(Target, "client", lambda self, name: client if name == service else real(self, name))
    return client, Stubber(client)


def failed_job(target: Target, key: str = "uploads/dead.png") -> str:
    """A FAILED job: resize gave up (its message is in the DLQ), analysis succeeded."""
    source = SourceObject(target.upload_bucket, key, 1234, f"etag-{key}")
    job_id = job_id_for(source)
    record = new_job_record(job_id, source, ["resize", "analysis"], now_iso())
    record.update(status="FAILED", succeededCount=1, failedCount=1, completedAt=record["createdAt"])
    record["steps"]["resize"] = {"status": "FAILED", "attempts": 5, "error": "NoSuchBucket"}
    record["steps"]["analysis"] = {"status": "SUCCEEDED", "attempts": 1}
    record["failureReason"] = "resize failed: NoSuchBucket"
    assert JobsClient(target).table.create(record)
    return job_id


def dead_message(job_id: str, n: int = 1) -> dict[str, Any]:
    body = JobMessage(job_id, "uploads", "uploads/dead.png", None, ["resize"]).to_json()
    return {
        "MessageId": f"0a1b2c3d-0000-4000-8000-00000000000{n}",
        "ReceiptHandle": f"receipt-{n}",
        "MD5OfBody": "0" * 32,
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "6", "SentTimestamp": "1763632800000"},
    }


def expect_scan(stub: Stubber, url: str, messages: list[dict[str, Any]]) -> None:
    """The redrive's scan: one receive with the messages, then two empty answers."""
    request = {
        "QueueUrl": url,
        "MaxNumberOfMessages": 10,
        "VisibilityTimeout": ANY,
        "WaitTimeSeconds": 0,
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    stub.add_response("receive_message", {"Messages": messages}, request)
    stub.add_response("receive_message", {}, request)
    stub.add_response("receive_message", {}, request)


def expect_move_task(stub: Stubber, queues: dict[str, str], handles: list[str]) -> None:
    stub.add_response(
        "change_message_visibility_batch",
        {"Successful": [{"Id": str(i)} for i in range(len(handles))], "Failed": []},
        {
            "QueueUrl": queues["dlq_url"],
            "Entries": [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(handles)
            ],
        },
    )
    stub.add_response(
        "start_message_move_task",
        {"TaskHandle": MOVE_TASK_HANDLE},
        {"SourceArn": queues["dlq_arn"], "DestinationArn": queues["arn"]},
    )


def move_task(queues: dict[str, str], status: str, moved: int, to_move: int, **extra: Any) -> dict[str, Any]:
    task = {
        "Status": status,
        "SourceArn": queues["dlq_arn"],
        "DestinationArn": queues["arn"],
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": to_move,
        # Started now: a task the redrive never saw RUNNING is recognised as started after it asked.
        "StartedTimestamp": int(time.time() * 1000),
        **extra,
    }
    return {"Results": [task]}


def test_a_redrive_on_aws_reports_what_the_move_task_did_following_it_until_it_completes(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FAILED job whose resize message is in resize's DLQ
    job_id = failed_job(target)
    sqs, stub = stub_service(monkeypatch, "sqs")
    queues = target.queues["resize"]
    expect_scan(stub, queues["dlq_url"], [dead_message(job_id)])
    expect_move_task(stub, queues, ["receipt-1"])
    # AND SQS's move task is RUNNING at first, then COMPLETED
    listed = {"SourceArn": queues["dlq_arn"], "MaxResults": 10}
    started = int(time.time() * 1000)
    running = move_task(queues, "RUNNING", 0, 1, TaskHandle=MOVE_TASK_HANDLE, StartedTimestamp=started)
    stub.add_response("list_message_move_tasks", running, listed)
    completed = move_task(queues, "COMPLETED", 1, 1, StartedTimestamp=started)  # no handle once stopped
    stub.add_response("list_message_move_tasks", completed, listed)
    waits: list[float] = []
    redriver = MoveTaskRedriver(sqs, None, "dispatch-tasks", wait_seconds=60, sleep=waits.append)
    # WHEN resize's DLQ is redriven
    with stub:
        (report,) = dlq.dlq_redrive(target, "resize", redriver=redriver)
        stub.assert_no_pending_responses()
    # THEN the report is the task's: COMPLETED, one moved of one, and the job's resize step reopened
    assert (
        report.mode,
        report.task_status,
        report.found,
        report.moved,
        report.to_move,
        report.not_moved,
    ) == (
        "move task",
        "COMPLETED",
        1,
        1,
        1,
        0,
    )
    assert report.reopened == [job_id] and report.task_handle == MOVE_TASK_HANDLE and len(waits) == 1
    job = JobsClient(target).get(job_id)
    assert job["status"] == "PENDING" and job["steps"]["resize"]["status"] == "PENDING"
    assert job["steps"]["analysis"]["status"] == "SUCCEEDED"


def test_a_move_task_still_running_when_the_wait_ends_is_reported_running(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = failed_job(target)
    sqs, stub = stub_service(monkeypatch, "sqs")
    queues = target.queues["resize"]
    expect_scan(stub, queues["dlq_url"], [dead_message(job_id)])
    expect_move_task(stub, queues, ["receipt-1"])
    running = move_task(queues, "RUNNING", 0, 1, TaskHandle=MOVE_TASK_HANDLE)
    stub.add_response("list_message_move_tasks", running, {"SourceArn": queues["dlq_arn"], "MaxResults": 10})
    redriver = MoveTaskRedriver(sqs, None, "dispatch-tasks", wait_seconds=0, sleep=pytest.fail)
    with stub:
        (report,) = dlq.dlq_redrive(target, "resize", redriver=redriver)
        stub.assert_no_pending_responses()
    assert (report.task_status, report.moved, report.not_moved) == ("RUNNING", 0, 0)


def test_a_failed_move_task_is_reported_with_its_reason_and_the_cli_exits_1(
    target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # GIVEN two dead resize messages, and a move task that FAILED after moving one of them
    job_ids = [failed_job(target, "uploads/a.png"), failed_job(target, "uploads/b.png")]
    _, stub = stub_service(monkeypatch, "sqs")
    queues = target.queues["resize"]
    expect_scan(stub, queues["dlq_url"], [dead_message(job_ids[0], 1), dead_message(job_ids[1], 2)])
    expect_move_task(stub, queues, ["receipt-1", "receipt-2"])
    reason = "AWS.SimpleQueueService.KmsAccessDenied"  # destination encrypted with a key the task can't use
    failed = move_task(queues, "FAILED", 1, 2, FailureReason=reason)
    stub.add_response("list_message_move_tasks", failed, {"SourceArn": queues["dlq_arn"], "MaxResults": 10})
    target.save(tmp_path / "target.json")
    monkeypatch.setenv("PIXELPIPE_TARGET", str(tmp_path / "target.json"))
    # WHEN `pixelpipe dlq redrive --queue resize` runs
    with stub:
        result = CliRunner().invoke(app, ["dlq", "redrive", "--queue", "resize", "--json"])
        stub.assert_no_pending_responses()
    # THEN it exits 1 and says what the task said: FAILED, 1 of 2 moved, and why
    assert result.exit_code == 1, result.output
    (report,) = json.loads(result.output)
    assert {k: report[k] for k in ("task_status", "moved", "to_move", "not_moved", "failure_reason")} == {
        "task_status": "FAILED",
        "moved": 1,
        "to_move": 2,
        "not_moved": 1,
        "failure_reason": reason,
    }
    assert sorted(report["reopened"]) == sorted(job_ids)


def test_dlq_list_on_aws_peeks_with_a_zero_visibility_timeout_and_names_the_jobs(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, stub = stub_service(monkeypatch, "sqs")
    url = target.queues["resize"]["dlq_url"]
    counts = {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "1"}
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": counts},
        {"QueueUrl": url, "AttributeNames": list(counts)},
    )
    peek = {
        "QueueUrl": url,
        "MaxNumberOfMessages": 3,
        "VisibilityTimeout": 0,  # a peek: nothing is hidden from the move task or the next list
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    stub.add_response(
        "receive_message", {"Messages": [dead_message("job-a", 1), dead_message("job-b", 2)]}, peek
    )
    with stub:
        (summary,) = dlq.dlq_list(target, "resize", sample=3)
        stub.assert_no_pending_responses()
    assert (summary.step, summary.visible, summary.in_flight, summary.approximate) == ("resize", 2, 1, 3)
    assert [(d.job_id, d.receive_count, d.sent_at) for d in summary.samples] == [
        ("job-a", 6, "1763632800000"),
        ("job-b", 6, "1763632800000"),
    ]


def test_retry_on_aws_publishes_one_message_whose_steps_attribute_names_only_the_failed_step(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FAILED job (resize failed, analysis succeeded)
    job_id = failed_job(target)
    _, stub = stub_service(monkeypatch, "sns")
    steps_attribute = settings().topic.steps_attribute
    stub.add_response(
        "publish",
        {"MessageId": "5d7c2a8e-0000-4000-8000-000000000001"},
        {
            "TopicArn": target.topic_arn,
            "Message": ANY,
            "MessageAttributes": {
                steps_attribute: {"DataType": "String.Array", "StringValue": '["resize"]'},
                "jobId": {"DataType": "String", "StringValue": job_id},
            },
        },
    )
    # WHEN it is retried
    with stub:
        result = retry.retry_job(target, job_id)
        stub.assert_no_pending_responses()
    # THEN the one message names only resize (the workers' filter policies read that attribute)
    assert asdict(result) == {
        "job_id": job_id,
        "steps": ["resize"],
        "message_id": "5d7c2a8e-0000-4000-8000-000000000001",
        "previous_status": "FAILED",
    }
    job = JobsClient(target).get(job_id)
    assert job["status"] == "PENDING" and job["steps"]["resize"]["status"] == "PENDING"


def test_a_dispatch_redrive_on_aws_re_invokes_dispatch_asynchronously(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an on-failure record in the dispatch failures queue (moto), and Lambda answering Invoke
    event = {
        "Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "u"}, "object": {"key": "k.png"}}}]
    }
    record = {"requestContext": {"approximateInvokeCount": 3}, "requestPayload": event}
    url = target.queues[DISPATCH_FAILURES_QUEUE]["url"]
    target.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))
    _, stub = stub_service(monkeypatch, "lambda")
    stub.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": target.dispatch_function,
            "InvocationType": "Event",
            "Payload": json.dumps(event).encode(),
        },
    )
    # WHEN it is redriven
    with stub:
        (report,) = dlq.dlq_redrive(target, "dispatch")
        stub.assert_no_pending_responses()
    # THEN dispatch got the original S3 event and the record left the queue
    assert (report.mode, report.found, report.moved, report.not_moved) == ("re-invoked", 1, 1, 0)
    assert dlq.dlq_list(target, "dispatch")[0].approximate == 0
