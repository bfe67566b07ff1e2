"""Never a lost job: an S3 event dispatch-tasks keeps failing on is kept, and a redrive turns it into a job.

On AWS, S3 invokes dispatch-tasks asynchronously; Lambda retries a failed invocation
`maximum_retry_attempts` times, then sends the invocation record to the on-failure destination queue
(`failure_queue` in pipeline.json). The local stack plays this with its S3 relay queue, whose
RedrivePolicy moves the event to the same-named queue after 1 + maximum_retry_attempts tries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

from pixelpipe.config import pipeline_config
from pixelpipe_cli import dlq, retry
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_emulator.provision import create_jobs_table, provision
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli, wait_until

pytestmark = pytest.mark.e2e


def dispatch_config() -> dict[str, Any]:
    return pipeline_config()["functions"]["dispatch-tasks"]


def dispatch_log(stack: LocalStack) -> str:
    return (stack.logs / "dispatch-tasks.log").read_text(errors="replace")


def test_an_upload_dispatch_failed_on_is_kept_then_redriven_into_exactly_one_job(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "stack", tracing=False) as stack:
        client = JobsClient(stack.target)
        dynamodb = stack.target.client("dynamodb")
        # GIVEN DynamoDB is unavailable to dispatch: the jobs table is gone, so creating the record fails
        dynamodb.delete_table(TableName=stack.target.jobs_table)
        # WHEN a photo is uploaded
        job_id = client.upload(SAMPLES / "cat.png", key_name="outage-cat.png")
        # THEN dispatch is tried 1 + maximum_retry_attempts times, then the S3 event is parked in the
        # dispatch failures queue instead of being dropped
        parked = wait_until(lambda: dlq.dlq_list(stack.target, "dispatch")[0].visible == 1, timeout=30)
        assert parked, f"the S3 event never reached the failure queue:\n{dispatch_log(stack)[-3000:]}"
        tries = 1 + dispatch_config()["maximum_retry_attempts"]
        assert dispatch_log(stack).count("dispatch-tasks failed") == tries
        assert "ResourceNotFoundException" in dispatch_log(stack)
        # and `dlq list` shows it next to the workers' DLQs, naming the upload (there is no job)
        listed = cli(stack, "dlq", "list", "--json")
        assert listed.exit_code == 0, listed.output
        summaries = {s["step"]: s for s in json.loads(listed.output)}
        assert set(summaries) == {*pipeline_config()["workers"], "dispatch"}
        dispatch = summaries["dispatch"]
        assert dispatch["dlq"] == dispatch_config()["failure_queue"] and dispatch["approximate"] == 1
        ((sample,),) = [dispatch["samples"]]
        assert sample["job_id"] == ""
        assert sample["upload"] == f"s3://{stack.target.upload_bucket}/uploads/outage-cat.png"
        assert all(s["approximate"] == 0 for step, s in summaries.items() if step != "dispatch")
        table = cli(stack, "dlq", "list")
        assert "outage-cat.png" in table.output and dispatch_config()["failure_queue"] in table.output
        # the message peeked by listing is still there, and nothing brings it back on its own
        event = json.loads(
            stack.target.client("sqs").receive_message(
                QueueUrl=stack.target.queues["_dispatch_failures"]["url"], VisibilityTimeout=0
            )["Messages"][0]["Body"]
        )
        assert unquote_plus(event["Records"][0]["s3"]["object"]["key"]) == "uploads/outage-cat.png"

        # WHEN DynamoDB is back (the table re-created, empty) ...
        create_jobs_table(dynamodb)
        # ... no job appears until the operator redrives the dispatch failures, though the stack is live
        # again (a later upload completes)
        later = client.upload(SAMPLES / "coffee.png", key_name="after-outage.png")
        assert client.wait([later], timeout=60)[later]["status"] == "COMPLETE"
        assert client.get(job_id) is None and [j["jobId"] for j in client.list()] == [later]
        redriven = cli(stack, "dlq", "redrive", "--queue", "dispatch", "--json")
        assert redriven.exit_code == 0, redriven.output
        (report,) = json.loads(redriven.output)
        assert report == {**report, "step": "dispatch", "found": 1, "moved": 1, "not_moved": 0}
        assert report["mode"] == "relayed"

        # THEN the upload's job is created and completes, and the failure queue is empty
        job = client.wait([job_id], timeout=60)[job_id]
        assert job is not None and job["status"] == "COMPLETE", job
        assert len(job["thumbnails"]) == 3 and job["labels"]
        assert [e["event"] for e in job["history"] if e["step"] == "dispatch"] == ["created", "published"]
        assert dlq.dlq_list(stack.target, "dispatch")[0].approximate == 0

        # AND a second delivery of the same event (a redrive racing a retry) creates no second job
        stack.target.client("sqs").send_message(
            QueueUrl=stack.target.queues["_s3_events"]["url"], MessageBody=json.dumps(event)
        )
        assert wait_until(lambda: '"action":"duplicate"' in dispatch_log(stack), timeout=30)
        assert sorted(j["jobId"] for j in client.list()) == sorted([job_id, later])
        again = dlq.dlq_redrive(stack.target, "dispatch")
        assert [(r.step, r.found) for r in again] == [("dispatch", 0)]


# ---------------------------------------------------------------------------------------------------------
# The AWS shape: the on-failure invocation record, re-invoked asynchronously (moto in process, fake Lambda)
# ---------------------------------------------------------------------------------------------------------
class FakeLambda:
    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        return {"StatusCode": self.status}


def on_failure_record(event: dict[str, Any], function_arn: str) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination after the last retry of an async invocation."""
    return {
        "version": "1.0",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "ProvisionedThroughputExceededException",
            "errorType": "ClientError",
        },
    }


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1234, "eTag": "abc"}},
            }
        ]
    }


@pytest.fixture
def aws_target(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name="us-east-1")
            for name in ("s3", "dynamodb", "sns", "sqs", "stepfunctions")
        }
        target = provision(clients, endpoint_url=None)  # no endpoint: the CLI treats it as AWS
        target.queues.pop("_s3_events")  # AWS has no relay queue
        target.dispatch_function = "dev-dispatch-tasks"  # a name_prefix'ed deployment
        yield target


def fake_lambda(monkeypatch: pytest.MonkeyPatch, target: Target, functions: FakeLambda) -> None:
    real = Target.client
    monkeypatch.setattr(
        target, "client", lambda service: functions if service == "lambda" else real(target, service)
    )


def test_on_aws_a_redrive_re_invokes_dispatch_asynchronously_with_the_original_s3_event(
    aws_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = FakeLambda()
    fake_lambda(monkeypatch, aws_target, functions)
    sqs = aws_target.client("sqs")
    url = aws_target.queues["_dispatch_failures"]["url"]
    event = s3_event(aws_target.upload_bucket, "uploads/throttled.png")
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{aws_target.dispatch_function}"
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(event, arn)))
    # GIVEN the on-failure record is listed by the upload it names, with Lambda's invoke count
    ((summary,),) = [dlq.dlq_list(aws_target, "dispatch")]
    assert [(d.upload, d.receive_count, d.job_id) for d in summary.samples] == [
        (f"s3://{aws_target.upload_bucket}/uploads/throttled.png", 3, "")
    ]
    # WHEN it is redriven
    (report,) = dlq.dlq_redrive(aws_target, "dispatch-failures")
    # THEN dispatch-tasks is invoked asynchronously with the original S3 event, and the record deleted
    assert (report.step, report.mode, report.found, report.moved, report.not_moved) == (
        "dispatch",
        "re-invoked",
        1,
        1,
        0,
    )
    (call,) = functions.calls
    assert call["FunctionName"] == "dev-dispatch-tasks" and call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == event
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_on_aws_a_record_that_could_not_be_re_invoked_stays_visible_in_the_queue(
    aws_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_lambda(monkeypatch, aws_target, FakeLambda(status=500))
    sqs = aws_target.client("sqs")
    url = aws_target.queues["_dispatch_failures"]["url"]
    sqs.send_message(
        QueueUrl=url, MessageBody=json.dumps(on_failure_record(s3_event("b", "uploads/x.png"), "arn"))
    )
    sqs.send_message(QueueUrl=url, MessageBody="not an invocation record")
    (report,) = dlq.dlq_redrive(aws_target, "dispatch")
    assert (report.found, report.moved, report.not_moved) == (2, 0, 2)
    assert dlq.dlq_list(aws_target, "dispatch")[0].visible == 2  # kept, and visible again
    # naming a worker's queue redrives only that one; naming none adds the dispatch queue last
    assert [r.step for r in dlq.dlq_redrive(aws_target, "resize")] == ["resize"]
    assert [r.step for r in dlq.dlq_redrive(aws_target)][-1] == "dispatch"
    with pytest.raises(retry.OperationError, match="dispatch"):
        dlq.dlq_list(aws_target, "no-such-queue")
