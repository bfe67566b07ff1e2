"""The console against an AWS target (moto in-process standing in for AWS): the job page links to the
execution, the trace and the log groups in the AWS consoles, and a source it cannot read (moto has no
X-Ray filter expressions) becomes a note in its section while the rest of the page shows."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from starlette.testclient import TestClient

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.config import settings
from pixelpipe_cli.target import Target
from pixelpipe_console.app import create_app
from pixelpipe_emulator.provision import create_jobs_table
from support.deployed import use_test_credentials

PORT = 8484
JOB_ID = "6c1b7a52-0c1e-5d7a-9a4e-3f2d1c0b9a88"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:pixelpipe-reconcile:{JOB_ID}-resize-1-S"
TRACE_ID = "1-6b076179-85d84ee437997ffb39621240"
LOG_GROUP = "/aws/vendedlogs/states/pixelpipe-reconcile"


@pytest.fixture
def aws_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    use_test_credentials(monkeypatch)
    config = settings()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_jobs_table(dynamodb)
        record = {
            "jobId": JOB_ID,
            "status": "COMPLETE",
            "source": {"bucket": "uploads", "key": "uploads/cat.png", "size": 10},
            "steps": {"resize": {"status": "SUCCEEDED", "attempts": 1}},
            "createdAt": "2026-11-25T22:00:00.000Z",
            "updatedAt": "2026-11-25T22:00:01.000Z",
            "completedAt": "2026-11-25T22:00:01.000Z",
            "history": [
                {"at": "2026-11-25T22:00:00.000Z", "step": "dispatch", "event": "created", "detail": ""}
            ],
            "executions": [EXECUTION],
            "traceId": TRACE_ID,
        }
        dynamodb.put_item(TableName=config.table.name, Item=to_item(record))
        yield Target(
            region="us-east-1",
            upload_bucket="uploads",
            upload_prefix="uploads/",
            thumbnail_bucket="thumbs",
            jobs_table=config.table.name,
            status_index=config.table.status_index,
            topic_arn="arn:aws:sns:us-east-1:123456789012:pixelpipe-jobs",
            state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:pixelpipe-reconcile",
            state_machine_log_group=LOG_GROUP,
        )


def test_an_aws_job_page_links_into_the_aws_consoles(aws_target: Target) -> None:
    browser = TestClient(create_app(lambda: aws_target, port=PORT), base_url=f"http://127.0.0.1:{PORT}")
    page = browser.get(f"/jobs/{JOB_ID}")
    assert page.status_code == 200, page.text
    assert f"#/express-executions/details/{EXECUTION}" in page.text
    assert f"#xray:traces/{TRACE_ID}" in page.text
    assert "log group /aws/lambda/resize-worker" in page.text and f"log group {LOG_GROUP}" in page.text
    # the graph still shows (the repository's ASL: no machine is deployed here), with its notes
    assert 'data-state="Mark job COMPLETE"' in page.text
    assert "drawing the repository&#39;s ASL" in page.text
    # and the trace section names what failed instead of failing the page
    assert "trace unreadable" in page.text and "GetTraceSummaries" in page.text
