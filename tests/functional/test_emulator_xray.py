"""The emulator's X-Ray and SNS → SQS trace headers, through boto3, against the emulator process as the
local stack starts it. Expected answers are written from the X-Ray API reference and segment document
guide, not from what our code sends: compiled traces, inferred segments, filter expressions, windows,
paging."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pixelpipe_emulator.xray_service import MAX_SUMMARY_WINDOW_SECONDS, SUMMARIES_PER_PAGE
from support.emulator import Emulator, emulator_process


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_process(tmp_path_factory.mktemp("emulator")) as running:
        yield running


@pytest.fixture(scope="module")
def xray(emulator: Emulator) -> Any:
    return emulator.client("xray")


def trace_id(at: float | None = None) -> str:
    return f"1-{int(at or time.time()):08x}-{os.urandom(12).hex()}"


def segment_id() -> str:
    return os.urandom(8).hex()


def put(xray: Any, *documents: dict[str, Any]) -> None:
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in documents])
    assert answer["UnprocessedTraceSegments"] == []


def documents_of(xray: Any, trace: str) -> list[dict[str, Any]]:
    traces = xray.batch_get_traces(TraceIds=[trace])["Traces"]
    return [json.loads(s["Document"]) for t in traces for s in t["Segments"]]


def batch_invocation(
    trace: str, jobs: list[str], start: float, links: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """A worker invocation as the local stack sends it: the SDK streams each job subsegment (with its
    DynamoDB call inside) before the Lambda service sends the function segment."""
    function = {
        "id": segment_id(),
        "trace_id": trace,
        "name": "resize-worker",
        "origin": "AWS::Lambda::Function",
        "start_time": start,
        "end_time": start + 1,
        **({"links": links} if links else {}),
    }
    streamed = [
        {
            "id": segment_id(),
            "trace_id": trace,
            "type": "subsegment",
            "parent_id": function["id"],
            "name": "## resize job",
            "start_time": start + 0.1 * n,
            "end_time": start + 0.1 * n + 0.05,
            "annotations": {"jobId": job, "step": "resize", "sqsSentAt": start - 2},
            "subsegments": [
                {
                    "id": segment_id(),
                    "name": "dynamodb",
                    "namespace": "aws",
                    "start_time": start + 0.1 * n + 0.01,
                    "end_time": start + 0.1 * n + 0.02,
                    "http": {"response": {"status": 200}},
                    "aws": {"operation": "UpdateItem", "table_name": "pixelpipe-jobs", "region": "us-east-1"},
                }
            ],
        }
        for n, job in enumerate(jobs)
    ]
    return [*streamed, function]


def test_a_trace_is_compiled_with_inferred_segments_for_sdk_calls(xray):
    # GIVEN a batch invocation of two jobs, streamed subsegments first, then the function segment
    trace = trace_id()
    documents = batch_invocation(trace, ["job-a", "job-b"], time.time())
    for document in documents:  # one PutTraceSegments each, as the daemon may forward them
        put(xray, document)

    # WHEN the trace is read back
    stored = documents_of(xray, trace)

    # THEN the job subsegments are inside the function segment, as X-Ray returns a compiled trace
    function = next(d for d in stored if d.get("origin") == "AWS::Lambda::Function")
    jobs = [s for s in function["subsegments"] if s["name"] == "## resize job"]
    assert sorted(s["annotations"]["jobId"] for s in jobs) == ["job-a", "job-b"]
    assert not [d for d in stored if d.get("type") == "subsegment"]
    # ... and each DynamoDB call has an inferred segment of its own, pointing at the call
    calls = {s["subsegments"][0]["id"] for s in jobs}
    inferred = [d for d in stored if d.get("inferred")]
    assert {d["parent_id"] for d in inferred} == calls
    for document in inferred:
        assert document["name"] == "DynamoDB" and document["origin"] == "AWS::DynamoDB::Table"
        assert "type" not in document
        assert document["trace_id"] == trace and document["id"] not in calls
        assert document["aws"]["operation"] == "UpdateItem"
        assert document["end_time"] >= document["start_time"]
    assert len(stored) == 3


def test_a_segments_links_are_kept_as_sent(xray):
    # GIVEN a batch invocation linked to two producer traces
    producers = [trace_id(), trace_id()]
    links = [
        {
            "trace_id": producers[0],
            "id": segment_id(),
            "attributes": {"aws.xray.reserved.reference_type": "parent"},
        },
        {"trace_id": producers[1], "attributes": {"aws.xray.reserved.reference_type": "parent"}},
    ]
    trace = trace_id()
    put(xray, *batch_invocation(trace, ["job-c"], time.time(), links=links))
    # WHEN read back THEN the function segment carries exactly those links
    function = next(d for d in documents_of(xray, trace) if d.get("origin") == "AWS::Lambda::Function")
    assert function["links"] == links


def test_trace_summaries_find_every_trace_annotated_with_a_job_id(xray):
    # GIVEN the job's dispatch trace (annotated on its segment), a batch trace where the job is one of
    # two (annotated on a streamed subsegment), and a trace of another job
    now = time.time()
    dispatch = trace_id(now)
    put(
        xray,
        {
            "id": segment_id(),
            "trace_id": dispatch,
            "name": "dispatch-tasks",
            "start_time": now,
            "end_time": now + 0.2,
            "annotations": {"jobId": "job-d"},
        },
    )
    batch, other = trace_id(now), trace_id(now)
    put(xray, *batch_invocation(batch, ["job-d", "job-e"], now + 1))
    put(xray, *batch_invocation(other, ["job-f"], now + 1))

    # WHEN X-Ray is asked for the job's traces
    answer = xray.get_trace_summaries(
        StartTime=now - 60, EndTime=now + 60, FilterExpression='annotation.jobId = "job-d"'
    )

    # THEN both of its traces, and only those, come back, newest first, in X-Ray's shape
    assert [s["Id"] for s in answer["TraceSummaries"]] == [batch, dispatch]
    summary = answer["TraceSummaries"][0]
    assert summary["Duration"] == pytest.approx(1.0, abs=0.01)
    assert summary["StartTime"].timestamp() == pytest.approx(now + 1, abs=0.01)
    assert {"StringValue": "job-d"} in [v["AnnotationValue"] for v in summary["Annotations"]["jobId"]]
    assert summary["Annotations"]["step"][0]["AnnotationValue"] == {"StringValue": "resize"}
    assert summary["Annotations"]["jobId"][0]["ServiceIds"][0]["Name"] == "resize-worker"
    assert "NextToken" not in answer
    # ... and a window that ends before the batch started holds only the dispatch trace
    earlier = xray.get_trace_summaries(
        StartTime=now - 60, EndTime=now + 0.5, FilterExpression='annotation.jobId = "job-d"'
    )
    assert [s["Id"] for s in earlier["TraceSummaries"]] == [dispatch]


@pytest.mark.parametrize(
    "expression",
    [
        'service("resize-worker")',
        "annotation.jobId",
        'annotation.jobId = "a" OR annotation.jobId = "b"',
        "duration > 5",
    ],
)
def test_a_filter_expression_it_cannot_answer_is_refused_with_x_rays_error(xray, expression):
    now = time.time()
    with pytest.raises(ClientError) as refused:
        xray.get_trace_summaries(StartTime=now - 60, EndTime=now, FilterExpression=expression)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_window_wider_than_x_ray_searches_is_refused(xray):
    now = time.time()
    with pytest.raises(ClientError) as refused:
        xray.get_trace_summaries(
            StartTime=now - MAX_SUMMARY_WINDOW_SECONDS - 1,
            EndTime=now,
            FilterExpression='annotation.jobId = "x"',
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    # one exactly as wide is answered
    xray.get_trace_summaries(StartTime=now - MAX_SUMMARY_WINDOW_SECONDS, EndTime=now)


def test_summaries_come_in_pages_followed_by_next_token(xray):
    # GIVEN more annotated traces than one page holds
    now = time.time()
    traces = [trace_id(now) for _ in range(SUMMARIES_PER_PAGE + 7)]
    documents = [
        {
            "id": segment_id(),
            "trace_id": trace,
            "name": "sweeper",
            "start_time": now + n * 0.001,
            "end_time": now + n * 0.001 + 0.01,
            "annotations": {"jobId": "paged"},
        }
        for n, trace in enumerate(traces)
    ]
    for start in range(0, len(documents), 50):
        put(xray, *documents[start : start + 50])
    query = {"StartTime": now - 60, "EndTime": now + 60, "FilterExpression": 'annotation.jobId = "paged"'}

    # WHEN they are asked for page by page
    first = xray.get_trace_summaries(**query)
    second = xray.get_trace_summaries(**query, NextToken=first["NextToken"])

    # THEN the first page is full, the second holds the rest, and together they are every trace once,
    # the most recent first
    assert len(first["TraceSummaries"]) == SUMMARIES_PER_PAGE and "NextToken" not in second
    ids = [s["Id"] for s in first["TraceSummaries"] + second["TraceSummaries"]]
    assert ids == list(reversed(traces))
    # ... as boto3's paginator follows them
    pages = xray.get_paginator("get_trace_summaries").paginate(**query)
    assert [s["Id"] for page in pages for s in page["TraceSummaries"]] == ids


def test_batch_get_traces_reports_unknown_ids_as_unprocessed(xray):
    known, unknown = trace_id(), trace_id()
    put(xray, *batch_invocation(known, ["job-u"], time.time()))
    answer = xray.batch_get_traces(TraceIds=[known, unknown])
    assert [t["Id"] for t in answer["Traces"]] == [known]
    assert answer["UnprocessedTraceIds"] == [unknown]


def test_sns_carries_the_publish_requests_trace_header_to_sqs_as_aws_does(emulator):
    # GIVEN a topic with a raw-delivery queue subscribed, and a Publish made inside a trace
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    topic = sns.create_topic(Name="traced-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="traced-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    header = f"Root={trace_id()};Parent={segment_id()};Sampled=1"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    sns.meta.events.register("before-sign.sns.Publish", add_header)
    sns.publish(TopicArn=topic, Message="traced")
    sns.meta.events.unregister("before-sign.sns.Publish", add_header)
    sns.publish(TopicArn=topic, Message="untraced")

    # WHEN the queue's messages are received with their system attributes
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
    )["Messages"]

    # THEN the traced one carries the header as AWSTraceHeader (Root, Parent, Sampled); the other none
    by_body = {m["Body"]: m["Attributes"] for m in messages}
    assert by_body["traced"]["AWSTraceHeader"] == header
    assert "AWSTraceHeader" not in by_body["untraced"]
