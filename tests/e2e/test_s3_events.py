"""S3 events from the emulator name the version they are about, as S3's do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e


def test_each_event_names_the_version_its_put_created(tmp_path: Path) -> None:
    # GIVEN a stack with no functions, so the S3 events stay in the relay queue
    with LocalStack(tmp_path / "stack", functions=[], tracing=False) as stack:
        s3, sqs = stack.target.client("s3"), stack.target.client("sqs")
        key = "uploads/a folder/cat+dog.png"

        # WHEN the same bytes are put twice under one key
        versions = [
            s3.put_object(
                Bucket=stack.target.upload_bucket, Key=key, Body=(SAMPLES / "cat.png").read_bytes()
            )["VersionId"]
            for _ in range(2)
        ]

        # THEN each event names its own version, and the key is encoded as S3 encodes it
        events = []
        while len(events) < 3:
            messages = sqs.receive_message(
                QueueUrl=stack.target.queues["_s3_events"]["url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            assert messages, f"only {len(events)} events arrived"
            events += [json.loads(m["Body"]) for m in messages]
        objects = [e["Records"][0]["s3"]["object"] for e in events if "Records" in e]
        assert sorted(o["versionId"] for o in objects) == sorted(versions)
        assert {o["key"] for o in objects} == {"uploads/a+folder/cat%2Bdog.png"}
        assert len({o["sequencer"] for o in objects}) == 2


def test_the_same_bytes_uploaded_twice_in_quick_succession_make_two_jobs(stack: LocalStack) -> None:
    client = JobsClient(stack.target)
    # WHEN one photo is uploaded twice under the same key, back to back
    first = client.upload(SAMPLES / "cat.png", key_name="twice.png")
    second = client.upload(SAMPLES / "cat.png", key_name="twice.png")

    # THEN each upload (version) is its own job, and both complete
    assert first != second
    jobs = client.wait([first, second], timeout=60)
    assert [jobs[j]["status"] for j in (first, second)] == ["COMPLETE", "COMPLETE"]
    assert jobs[first]["source"]["versionId"] != jobs[second]["source"]["versionId"]
