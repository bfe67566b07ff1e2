"""Never a lost job, on AWS: the on-failure invocation record Lambda leaves after an async dispatch-tasks
invocation exhausted its retries, listed by its upload and re-invoked asynchronously by a redrive.

moto in process plays SQS/DynamoDB/SNS; Lambda is a test double recording the Invoke calls. The local
stack's version of the same guarantee runs in tests/e2e/test_dispatch_failures.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pixelpipe_cli import dlq, retry
from pixelpipe_cli.target import Target
from support.deployed import deployed_on_moto


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
def aws_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    with deployed_on_moto(monkeypatch) as target:
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
