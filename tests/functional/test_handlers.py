"""The deployed Lambda handlers, called as Lambda calls them, against moto in-process (`mock_aws`).

Resources come from the real `provision()` (the same pipeline.json Terraform reads), the environment from
`lambda_environment()`, events from templates in the shape AWS sends them, images from scikit-image.
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
from botocore.exceptions import ClientError
from moto import mock_aws
from PIL import Image

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.storage import Storage
from pixelpipe.config import lambda_environment, settings, workers
from pixelpipe.logic.job_message import JobMessage
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


# --- fixtures ---------------------------------------------------------------------------------


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
        return (
            self.jobs.by_status("PENDING") + self.jobs.by_status("FAILED") + self.jobs.by_status("COMPLETE")
        )

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


# --- dispatch-tasks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded_key", "decoded_key"),
    [
        ("uploads/summer+holiday.jpg", "uploads/summer holiday.jpg"),
        ("uploads/cat%2Bdog.jpg", "uploads/cat+dog.jpg"),
        ("uploads/caf%C3%A9.jpg", "uploads/café.jpg"),
        ("uploads/2026/11/my+caf%C3%A9+%2B+cat.jpg", "uploads/2026/11/my café + cat.jpg"),
    ],
)
def test_an_upload_with_an_encoded_key_becomes_one_job_for_the_decoded_key(
    aws, load_function, chelsea_jpeg, encoded_key, decoded_key
):
    # GIVEN an image uploaded under a key S3 will send URL-encoded
    dispatch = load_function("dispatch-tasks")
    put = aws.upload(decoded_key, chelsea_jpeg)

    # WHEN dispatch-tasks receives S3's notification
    response = dispatch(s3_put_event(aws.target.upload_bucket, encoded_key, put, len(chelsea_jpeg)))

    # THEN one PENDING job names the object by its real key and version, and both workers got that key
    [result] = response["results"]
    assert (result["action"], result["key"]) == ("created", decoded_key)
    job = aws.jobs.get(result["jobId"])
    assert job is not None
    assert job["status"] == "PENDING"
    assert job["source"]["key"] == decoded_key
    assert job["source"]["versionId"] == put["VersionId"]
    assert job["source"]["size"] == len(chelsea_jpeg)
    assert job["source"]["contentType"] == "image/jpeg"
    assert job["dispatchedAt"]
    for step in workers():
        [message] = aws.drain(step)
        body = JobMessage.from_json(message["Body"])
        assert (body.job_id, body.key, body.version_id) == (result["jobId"], decoded_key, put["VersionId"])


def test_the_s3_test_event_creates_no_job(aws, load_function):
    # GIVEN dispatch-tasks
    dispatch = load_function("dispatch-tasks")

    # WHEN S3's test event arrives
    response = dispatch(S3_TEST_EVENT)

    # THEN nothing is created or published
    assert response == {"results": []}
    assert aws.all_jobs() == []
    assert aws.drain("resize") == []


def test_a_duplicate_s3_event_creates_one_job_and_publishes_once(aws, load_function, chelsea_jpeg):
    # GIVEN an uploaded image and its notification
    dispatch = load_function("dispatch-tasks")
    put = aws.upload("uploads/chelsea.jpg", chelsea_jpeg)
    event = s3_put_event(aws.target.upload_bucket, "uploads/chelsea.jpg", put, len(chelsea_jpeg))

    # WHEN S3 delivers the notification twice
    first, second = dispatch(event), dispatch(event)

    # THEN the second is recognised as a duplicate: one job, one message per worker
    assert [first["results"][0]["action"], second["results"][0]["action"]] == ["created", "duplicate"]
    assert first["results"][0]["jobId"] == second["results"][0]["jobId"]
    assert len(aws.all_jobs()) == 1
    assert len(aws.drain("resize")) == 1
    assert len(aws.drain("analysis")) == 1


def test_an_empty_upload_fails_at_intake_without_a_message(aws, load_function):
    # GIVEN a zero-byte upload
    dispatch = load_function("dispatch-tasks")

    # WHEN it is dispatched
    response = dispatch_upload(aws, dispatch, "uploads/empty.jpg", b"")

    # THEN its job is FAILED with the reason and no worker hears of it
    [result] = response["results"]
    assert result["action"] == "rejected"
    job = aws.jobs.get(result["jobId"])
    assert job["status"] == "FAILED"
    assert job["failureReason"].startswith("empty")
    assert job["completedAt"]
    assert aws.drain("resize") == []


# --- the workers ------------------------------------------------------------------------------


def test_a_resize_batch_reports_only_the_message_that_failed_transiently(
    aws, load_function, chelsea_jpeg, monkeypatch
):
    # GIVEN two dispatched uploads, and S3 throttling the first read of the second one
    dispatch = load_function("dispatch-tasks")
    good = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]
    astronaut = (SKIMAGE_DATA / "astronaut.png").read_bytes()
    flaky = dispatch_upload(aws, dispatch, "uploads/astronaut.png", astronaut)["results"][0]["jobId"]
    real_read, throttled = Storage.read, []

    def read_throttled_once(self, bucket, key, version_id, max_bytes):
        if key == "uploads/astronaut.png" and not throttled:
            throttled.append(key)
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return real_read(self, bucket, key, version_id, max_bytes)

    monkeypatch.setattr(Storage, "read", read_throttled_once)
    resize = load_function("resize-worker")
    messages = aws.drain("resize")
    by_job = {JobMessage.from_json(m["Body"]).job_id: m for m in messages}
    assert set(by_job) == {good, flaky}
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}

    # WHEN resize-worker gets both in one batch
    response = resize(sqs_event(messages, aws.target.queues["resize"]["arn"], aws.target.region))

    # THEN only the throttled message is handed back for retry
    assert response == {"batchItemFailures": [{"itemIdentifier": by_job[flaky]["MessageId"]}]}
    assert throttled == ["uploads/astronaut.png"]
    # ... the good image has its thumbnails and its completion reconciled into the job
    thumbnails = aws.s3.list_objects_v2(Bucket=aws.target.thumbnail_bucket, Prefix=f"thumbnails/{good}/")
    assert sorted(o["Key"] for o in thumbnails.get("Contents", [])) == [
        f"thumbnails/{good}/{size}.jpg" for size in (1024, 256, 512)
    ]
    executions = aws.finished_executions()
    assert [e["name"] for e in executions] == [f"{good}-resize-1-S"]
    assert executions[0]["status"] == "SUCCEEDED"
    job = aws.jobs.get(good)
    assert job["steps"]["resize"]["status"] == "SUCCEEDED"
    assert job["succeededCount"] == 1
    assert [t["width"] for t in job["thumbnails"]] == [451, 451, 256]
    # ... and the throttled one is claimed (attempt 1 counted) but reported nowhere
    failed = aws.jobs.get(flaky)
    assert (failed["steps"]["resize"]["status"], failed["steps"]["resize"]["attempts"]) == ("RUNNING", 1)
    assert failed["succeededCount"] == failed["failedCount"] == 0
    assert "thumbnails" not in failed
    assert "Contents" not in aws.s3.list_objects_v2(
        Bucket=aws.target.thumbnail_bucket, Prefix=f"thumbnails/{flaky}/"
    )


def test_both_workers_complete_a_job_with_thumbnails_and_labels(aws, load_function, chelsea_jpeg):
    # GIVEN a dispatched photo of a cat
    dispatch = load_function("dispatch-tasks")
    job_id = dispatch_upload(aws, dispatch, "uploads/chelsea.jpg", chelsea_jpeg)["results"][0]["jobId"]

    # WHEN each worker handles the message its queue received
    for step in workers():
        worker = workers()[step]
        response = load_function(worker.function)(
            sqs_event(aws.drain(step), aws.target.queues[step]["arn"], aws.target.region)
        )
        assert response == {"batchItemFailures": []}
        aws.finished_executions()

    # THEN the reconcile state machine has made the job COMPLETE with both results
    job = aws.jobs.get(job_id)
    assert job["status"] == "COMPLETE"
    assert (job["succeededCount"], job["failedCount"]) == (len(workers()), 0)
    assert [t["size"] for t in job["thumbnails"]] == [1024, 512, 256]
    assert job["labels"][0]["name"] in CAT_LABELS
    assert job["completedAt"]
