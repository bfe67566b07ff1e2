"""The Lambda handlers called as Lambda calls them, against moto in-process (`mock_aws`): the harness of
the functional tests (test_handlers, test_worker_batches, test_malformed_messages, ...).

Resources come from the real `provision()` (the same pipeline.json Terraform reads), the environment from
`lambda_environment()`, events from templates in the shape AWS sends them, images from scikit-image. The
fixtures (`aws`, `load_function`, `chelsea_jpeg`) reach the tests through tests/functional/conftest.py.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import io
import pathlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
import skimage
from moto import mock_aws
from PIL import Image

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import lambda_environment, settings
from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli.target import Target
from pixelpipe_emulator.lambda_host import LambdaContext, function_spec
from pixelpipe_emulator.provision import provision

SKIMAGE_DATA = pathlib.Path(skimage.__file__).parent / "data"
LABEL_BACKEND = "onnx"  # offline; moto's Rekognition answer is canned
CAT_LABELS = {"tabby cat", "tiger cat", "Egyptian Mau"}  # what ImageNet calls chelsea.png

# An ObjectCreated:Put notification exactly as S3 delivers it (event version 2.1); keys arrive URL-encoded.
S3_PUT_EVENT_TEMPLATE: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-25T08:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.15"},
            "responseElements": {
                "x-amz-request-id": "C3D13FE58DE4C810",
                "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "pixelpipe-uploads",
                "bucket": {
                    "name": "BUCKET",
                    "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": "arn:aws:s3:::BUCKET",
                },
                "object": {
                    "key": "KEY",
                    "size": 0,
                    "eTag": "ETAG",
                    "versionId": "VERSION",
                    "sequencer": "0055AED6DCD90281E5",
                },
            },
        }
    ]
}

# What S3 sends once when a notification configuration is saved.
S3_TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-25T08:00:00.000Z",
    "Bucket": "pixelpipe-uploads",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


# --- fixtures (registered for tests/functional in its conftest.py) -----------------------------


@dataclass
class Aws:
    target: Target
    s3: Any
    dynamodb: Any
    sqs: Any
    stepfunctions: Any

    @property
    def jobs(self) -> JobsTable:
        return JobsTable(self.dynamodb, self.target.jobs_table, self.target.status_index)

    def all_jobs(self) -> list[dict[str, Any]]:
        return [job for status in JobStatus for job in self.jobs.by_status(status)]

    def upload(self, key: str, body: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
        return self.s3.put_object(
            Bucket=self.target.upload_bucket, Key=key, Body=body, ContentType=content_type
        )

    def drain(self, step: str) -> list[dict[str, Any]]:
        """Every message now in a worker's queue, as Lambda's poller would receive them."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.target.queues[step]["url"],
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages += batch

    def finished_executions(self, timeout: float = 20) -> list[dict[str, Any]]:
        """The reconcile executions started so far, once none is RUNNING any more (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            executions = self.stepfunctions.list_executions(stateMachineArn=self.target.state_machine_arn)[
                "executions"
            ]
            if all(e["status"] != "RUNNING" for e in executions):
                return executions
            if time.monotonic() > deadline:
                pytest.fail(f"reconcile executions still RUNNING after {timeout} s: {executions}")
            time.sleep(0.02)


@pytest.fixture
def aws(monkeypatch) -> Iterator[Aws]:
    region = settings().region
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "MOTO_PORT"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients = {n: boto3.client(n) for n in ("s3", "dynamodb", "sns", "sqs", "stepfunctions")}
        target = provision(clients, endpoint_url=None)
        yield Aws(target, clients["s3"], clients["dynamodb"], clients["sqs"], clients["stepfunctions"])


@dataclass
class Function:
    name: str
    module: ModuleType
    region: str

    def __call__(self, event: dict[str, Any]) -> Any:
        spec = function_spec(self.name)
        context = LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:123456789012:function:{self.name}",
        )
        return self.module.handler(event, context)


@pytest.fixture
def load_function(aws, monkeypatch):
    """A cold start of one function: its environment set, then its module imported afresh inside the mock."""

    def load(function: str) -> Function:
        for name, value in lambda_environment(aws.target.resources(), function, LABEL_BACKEND).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
        module_name = function_spec(function).handler.rpartition(".")[0]
        module = sys.modules.get(module_name)
        module = importlib.reload(module) if module else importlib.import_module(module_name)
        return Function(function, module, aws.target.region)

    return load


@pytest.fixture(scope="module")
def chelsea_jpeg() -> bytes:
    """A real photo (scikit-image's cat) as the JPEG a phone would upload."""
    buffer = io.BytesIO()
    with Image.open(SKIMAGE_DATA / "chelsea.png") as image:
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def s3_put_event(bucket: str, encoded_key: str, put_response: dict[str, Any], size: int) -> dict[str, Any]:
    event = copy.deepcopy(S3_PUT_EVENT_TEMPLATE)
    record = event["Records"][0]
    record["s3"]["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    record["s3"]["object"] |= {
        "key": encoded_key,
        "size": size,
        "eTag": put_response["ETag"].strip('"'),
        "versionId": put_response["VersionId"],
    }
    return event


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages in the shape Lambda's event source mapping delivers them."""

    def attribute(value: dict[str, Any]) -> dict[str, Any]:
        return {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }

    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message["Attributes"]["ApproximateReceiveCount"],
                    "SentTimestamp": message["Attributes"]["SentTimestamp"],
                    "SenderId": message["Attributes"].get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                    "ApproximateFirstReceiveTimestamp": message["Attributes"][
                        "ApproximateFirstReceiveTimestamp"
                    ],
                },
                "messageAttributes": {
                    name: attribute(value) for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def dispatch_upload(aws: Aws, dispatch: Function, key: str, body: bytes) -> dict[str, Any]:
    put = aws.upload(key, body)
    return dispatch(s3_put_event(aws.target.upload_bucket, key, put, len(body)))
