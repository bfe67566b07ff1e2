"""The call recorder keeps the handler's AWS calls, with their resources, and not the host's own."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.stub import Stubber

from pixelpipe_emulator.call_recorder import CallRecorder, RecordedCall, read_calls


def recorded_client(recorder: CallRecorder, service: str):
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    session.events.register("provide-client-params", recorder.on_call)
    return session.client(service)


def test_only_calls_made_inside_the_handler_are_recorded_once_each(tmp_path: Path) -> None:
    # GIVEN a recorder and an S3 client made after it was installed
    recorder = CallRecorder("resize-worker", tmp_path)
    s3 = recorded_client(recorder, "s3")
    with Stubber(s3) as stub:
        for _ in range(3):
            stub.add_response("head_object", {}, {"Bucket": "b", "Key": "uploads/a.png", "VersionId": "v1"})
        s3.head_object(Bucket="b", Key="uploads/a.png", VersionId="v1")  # the host's own call

        # WHEN the handler makes the same call twice
        def handler(event, context):
            s3.head_object(Bucket="b", Key="uploads/a.png", VersionId="v1")
            s3.head_object(Bucket="b", Key="uploads/a.png", VersionId="v1")

        recorder.wrap(handler)({}, None)

    # THEN one call is recorded, the handler's, with its resource and version
    assert read_calls(tmp_path) == [
        RecordedCall("resize-worker", "s3", "HeadObject", "b/uploads/a.png", versioned=True)
    ]


def test_each_service_names_its_resource(tmp_path: Path) -> None:
    recorder = CallRecorder("sweeper", tmp_path)
    ddb, sfn = recorded_client(recorder, "dynamodb"), recorded_client(recorder, "stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:pixelpipe-reconcile"
    with Stubber(ddb) as ddb_stub, Stubber(sfn) as sfn_stub:
        ddb_stub.add_response("query", {"Items": []})
        sfn_stub.add_response("start_execution", {"executionArn": arn + ":x", "startDate": "2026-01-01"})

        def handler(event, context):
            ddb.query(TableName="jobs", IndexName="by-status", KeyConditionExpression="s = :s")
            sfn.start_execution(stateMachineArn=arn, name="x", input="{}")

        recorder.wrap(handler)({}, None)
    assert [(c.service, c.operation, c.resource) for c in read_calls(tmp_path)] == [
        ("dynamodb", "Query", "jobs/index/by-status"),
        ("states", "StartExecution", "pixelpipe-reconcile"),
    ]
