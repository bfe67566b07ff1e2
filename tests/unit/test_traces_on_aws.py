"""`trace` and `slow` against AWS-shaped X-Ray answers (botocore Stubber, shapes from the API reference).

On AWS a job's hops are separate traces (SQS → Lambda starts a new trace, only linked to the
producer's), found with GetTraceSummaries and `annotation.jobId`; BatchGetTraces takes 5 ids a call
and pages with NextToken.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_cli.traces import job_trace, slow_jobs

CREATED = "2026-11-20T10:00:00.000Z"
COMPLETED = "2026-11-20T10:00:12.000Z"
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def aws_target(clients: dict[str, Any]) -> Target:
    target = Target(
        region="eu-west-1",
        upload_bucket="uploads",
        upload_prefix="uploads/",
        thumbnail_bucket="thumbs",
        jobs_table="jobs",
        status_index="status-index",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:jobs",
        state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:reconcile",
    )
    target.client = lambda service: clients[service]  # type: ignore[method-assign]
    return target


def trace_id(n: int) -> str:
    return f"1-673db4a0-{n:024x}"


def segment(trace: str, name: str, start: float, end: float) -> dict[str, Any]:
    document = {
        "id": trace[-16:],
        "trace_id": trace,
        "name": name,
        "origin": "AWS::Lambda::Function",
        "start_time": T0 + start,
        "end_time": T0 + end,
    }
    return {"Id": document["id"], "Document": json.dumps(document)}


def traces(ids: list[str], name: str = "resize", seconds: float = 0.5) -> list[dict[str, Any]]:
    return [
        {
            "Id": i,
            "Duration": seconds,
            "LimitExceeded": False,
            "Segments": [segment(i, f"{name}-{i[-2:]}", 1.0, 1.0 + seconds)],
        }
        for i in ids
    ]


def summaries(ids: list[str], next_token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "TraceSummaries": [{"Id": i, "Duration": 0.5, "HasFault": False, "Annotations": {}} for i in ids],
        "ApproximateTime": datetime(2026, 11, 20, 10, 1, tzinfo=UTC),
        "TracesProcessedCount": len(ids),
    }
    if next_token:
        page["NextToken"] = next_token
    return page


def window_request(job_id: str, next_token: str | None = None) -> dict[str, Any]:
    request = {
        "StartTime": datetime(2026, 11, 20, 10, tzinfo=UTC) - timedelta(minutes=1),
        "EndTime": datetime(2026, 11, 20, 10, 0, 12, tzinfo=UTC) + timedelta(minutes=1),
        "FilterExpression": f'annotation.jobId = "{job_id}"',
    }
    if next_token:
        request["NextToken"] = next_token
    return request


def job(job_id: str = "job-1", trace: str | None = None, seconds: float = 12.0) -> dict[str, Any]:
    completed = datetime(2026, 11, 20, 10, tzinfo=UTC) + timedelta(seconds=seconds)
    record = {
        "jobId": job_id,
        "status": "COMPLETE",
        "source": {"bucket": "uploads", "key": f"uploads/{job_id}.png"},
        "createdAt": CREATED,
        "updatedAt": completed.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "completedAt": completed.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "steps": {},
    }
    if trace:
        record["traceId"] = trace
    return record


def test_trace_on_aws_follows_the_jobs_linked_traces_and_reads_them_five_ids_at_a_time() -> None:
    # GIVEN a job whose record keeps its dispatch trace, and X-Ray holding 11 more traces annotated with
    # its id (SQS → Lambda hops start new, linked traces), listed over two pages
    xray = boto3.client("xray", region_name="eu-west-1")
    ids = [trace_id(n) for n in range(12)]
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", summaries(ids[:7], "page-2"), window_request("job-1"))
        stub.add_response("get_trace_summaries", summaries(ids[7:]), window_request("job-1", "page-2"))
        # BatchGetTraces: 5 + 5 + 2 ids; the first group answers over two pages
        stub.add_response(
            "batch_get_traces", {"Traces": traces(ids[:3]), "NextToken": "more"}, {"TraceIds": ids[:5]}
        )
        stub.add_response(
            "batch_get_traces",
            {"Traces": traces(ids[3:5]), "UnprocessedTraceIds": []},
            {"TraceIds": ids[:5], "NextToken": "more"},
        )
        stub.add_response("batch_get_traces", {"Traces": traces(ids[5:10])}, {"TraceIds": ids[5:10]})
        stub.add_response("batch_get_traces", {"Traces": traces(ids[10:])}, {"TraceIds": ids[10:]})
        # WHEN its trace is read
        result = job_trace(aws_target({"xray": xray}), job(trace=ids[0]))
        stub.assert_no_pending_responses()
    # THEN every trace is in it: the record's first, each once, with a span from each of the 12
    assert result["traceIds"] == ids
    assert len({span["name"] for span in result["spans"]}) == 12
    assert all(url.endswith(f"#xray:traces/{i}") for url, i in zip(result["consoleUrls"], ids, strict=True))


def test_trace_of_a_local_job_reads_only_the_records_trace() -> None:
    # GIVEN the local stack (moto answers a FilterExpression with a 500): only BatchGetTraces is allowed
    xray = boto3.client("xray", region_name="eu-west-1")
    target = aws_target({"xray": xray})
    target.endpoint_url = "http://127.0.0.1:1"
    with Stubber(xray) as stub:
        stub.add_response("batch_get_traces", {"Traces": traces([trace_id(1)])}, {"TraceIds": [trace_id(1)]})
        result = job_trace(target, job(trace=trace_id(1)))
        stub.assert_no_pending_responses()
    assert result["traceIds"] == [trace_id(1)] and result["consoleUrls"] == []


def test_slow_on_aws_ranks_finished_jobs_and_finds_the_slowest_hop_in_a_linked_trace() -> None:
    # GIVEN three finished jobs in the status index: 12 s and 2 s COMPLETE, 5 s FAILED
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    xray = boto3.client("xray", region_name="eu-west-1")
    slowest, quick, failed = job("slowest", trace_id(1)), job("quick", seconds=2), job("failed", seconds=5)
    failed["status"] = "FAILED"
    with Stubber(dynamodb) as db, Stubber(xray) as stub:
        db.add_response("query", {"Items": [to_item(slowest), to_item(quick)], "Count": 2})
        db.add_response("query", {"Items": [to_item(failed)], "Count": 1})
        # the slowest job: its dispatch trace (the record's) and a worker trace found by its annotation
        stub.add_response(
            "get_trace_summaries", summaries([trace_id(1), trace_id(2)]), window_request("slowest")
        )
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [
                    *traces([trace_id(1)], name="dispatch-tasks", seconds=0.2),
                    *traces([trace_id(2)], name="resize", seconds=9.0),
                ]
            },
            {"TraceIds": [trace_id(1), trace_id(2)]},
        )
        # the failed one: no trace id on its record; one worker trace
        window = window_request("failed")
        window["EndTime"] = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC) + timedelta(minutes=1)
        stub.add_response("get_trace_summaries", summaries([trace_id(3)]), window)
        stub.add_response(
            "batch_get_traces",
            {"Traces": traces([trace_id(3)], name="analysis")},
            {"TraceIds": [trace_id(3)]},
        )
        # WHEN the two slowest are asked for
        target = aws_target(
            {"dynamodb": dynamodb, "xray": xray, "s3": boto3.client("s3", region_name="eu-west-1")}
        )
        rows = slow_jobs(JobsClient(target), top=2, since=None)
        stub.assert_no_pending_responses()
        db.assert_no_pending_responses()
    # THEN they come slowest first, each with the slowest hop of all its traces
    assert [(r["jobId"], r["durationMs"]) for r in rows] == [("slowest", 12000.0), ("failed", 5000.0)]
    assert rows[0]["slowestHop"]["name"] == "resize-02" and rows[0]["slowestHop"]["durationMs"] == 9000.0
    assert rows[1]["slowestHop"]["name"] == "analysis-03"
    assert len(rows[0]["consoleUrls"]) == 2
