"""The trace reader against AWS-shaped X-Ray answers (botocore Stubber; shapes from the X-Ray API reference).

What AWS really stores, and the reader must cope with:
- a job's own trace (the record's `traceId`): dispatch-tasks (annotated `jobId`) and its reconcile runs;
- one NEW trace per batched worker invocation (SQS → Lambda invokes once per batch), its function segment
  `links` to each message's trace and holds one `## {step} job` subsegment per record, annotated `jobId`,
  `step` and `sqsSentAt` (SentTimestamp, epoch seconds). No queue segment: AWS writes none;
- inferred segments: separate documents with `inferred: true` and the `parent_id` of the SDK call's
  subsegment, no `type`; subsegments sent on their own with `type: subsegment` and `parent_id`;
- BatchGetTraces: ≤ 5 ids a call, `NextToken`, `UnprocessedTraceIds`, `Traces[].LimitExceeded`;
  GetTraceSummaries: `TraceSummaries[]`, `NextToken`, a bounded StartTime → EndTime.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe_cli import trace_search, traces
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_cli.traces import job_trace, slow_jobs
from support.changed_config import use_changed_config

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
EPOCH0 = T0.timestamp()
# What the reader searches around each record change: the longest function timeout (the sweeper's 60 s in
# pipeline.json) + 1 minute before, 1 minute after.
BEFORE, AFTER = timedelta(minutes=2), timedelta(minutes=1)
EXECUTIONS = "arn:aws:states:eu-west-1:123456789012:express:pixelpipe-reconcile"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(trace_search, "sleep", slept.append)
    return slept


def aws_target(clients: dict[str, Any]) -> Target:
    target = Target(
        region="eu-west-1",
        upload_bucket="uploads",
        upload_prefix="uploads/",
        thumbnail_bucket="thumbs",
        jobs_table="jobs",
        status_index="status-index",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:jobs",
        state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:pixelpipe-reconcile",
    )
    target.client = lambda service: clients[service]  # type: ignore[method-assign]
    return target


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def trace_id(n: int) -> str:
    return f"1-673db4a0-{n:024x}"


def seg_id(label: str) -> str:
    """A 16-hex-digit segment id, the same for the same label."""
    return hashlib.sha1(label.encode()).hexdigest()[:16]


def job_record(
    job_id: str, trace: str | None, seconds: float = 3.0, retried_at: datetime | None = None
) -> dict:
    """A finished record as dispatch, the workers and the state machine leave it (docs/job-record.md)."""
    end = (retried_at or T0) + timedelta(seconds=seconds)
    started = (retried_at or T0) + timedelta(seconds=1)
    history = [{"at": iso(T0), "step": "dispatch", "event": "created", "detail": "2 steps"}]
    if retried_at:
        history += [
            {
                "at": iso(T0 + timedelta(seconds=5)),
                "step": "resize",
                "event": "FAILED",
                "detail": "x",
                "attempt": 1,
            },
            {"at": iso(T0 + timedelta(seconds=5)), "step": "job", "event": "FAILED", "detail": "resize: x"},
            {"at": iso(retried_at), "step": "operator", "event": "retry", "detail": "resize"},
        ]
    history += [
        {"at": iso(started), "step": "resize", "event": "started", "detail": "receive 1"},
        {"at": iso(end), "step": "job", "event": "COMPLETE", "detail": ""},
    ]
    record = {
        "jobId": job_id,
        "status": "COMPLETE",
        "source": {"bucket": "uploads", "key": f"uploads/{job_id}.png", "size": 10},
        "expectedSteps": ["resize"],
        "steps": {
            "resize": {
                "status": "SUCCEEDED",
                "attempts": 1,
                "startedAt": iso(started),
                "finishedAt": iso(end),
            }
        },
        "createdAt": iso(T0),
        "dispatchedAt": iso(T0),
        "updatedAt": iso(end),
        "completedAt": iso(end),
        "history": history,
    }
    if trace:
        record["traceId"] = trace
    return record


# ------------------------------------------------------------------------------ X-Ray documents, as stored


def aws_call(label: str, service: str, operation: str, start: float, end: float) -> dict[str, Any]:
    return {
        "id": seg_id(label),
        "name": service,
        "namespace": "aws",
        "start_time": EPOCH0 + start,
        "end_time": EPOCH0 + end,
        "aws": {"operation": operation, "region": "eu-west-1", "request_id": label},
    }


def inferred(label: str, trace: str, parent: str, name: str, origin: str, start: float, end: float) -> dict:
    """X-Ray's node for an SDK call: its own document, `inferred`, under the call's subsegment."""
    return {
        "id": seg_id(label),
        "name": name,
        "trace_id": trace,
        "parent_id": seg_id(parent),
        "inferred": True,
        "origin": origin,
        "start_time": EPOCH0 + start,
        "end_time": EPOCH0 + end,
        "aws": {"operation": "PutItem" if name == "DynamoDB" else "GetObject"},
    }


def dispatch_trace(job_id: str, trace: str) -> list[dict[str, Any]]:
    """The job's own trace: dispatch-tasks with its calls, the DynamoDB node X-Ray infers, a reconcile run."""
    function = {
        "id": seg_id(f"dispatch-{job_id}"),
        "trace_id": trace,
        "name": "dispatch-tasks",
        "origin": "AWS::Lambda::Function",
        "start_time": EPOCH0 + 0.0,
        "end_time": EPOCH0 + 0.2,
        "subsegments": [
            {
                "id": seg_id(f"handler-{job_id}"),
                "name": "## handler",
                "start_time": EPOCH0 + 0.01,
                "end_time": EPOCH0 + 0.19,
                "annotations": {"jobId": job_id, "step": "dispatch"},
                "subsegments": [aws_call(f"put-{job_id}", "DynamoDB", "PutItem", 0.02, 0.05)],
            }
        ],
    }
    run = {
        "id": seg_id(f"run-{job_id}"),
        "trace_id": trace,
        "name": "pixelpipe-reconcile",
        "origin": "AWS::StepFunctions::StateMachine",
        "start_time": EPOCH0 + 2.6,
        "end_time": EPOCH0 + 2.9,
        "aws": {"execution_arn": f"{EXECUTIONS}:{job_id}-resize-1-S"},
        "subsegments": [
            {
                "id": seg_id(f"state-{job_id}"),
                "name": "Record step success",
                "start_time": EPOCH0 + 2.61,
                "end_time": EPOCH0 + 2.7,
            }
        ],
    }
    node = inferred(f"ddb-{job_id}", trace, f"put-{job_id}", "DynamoDB", "AWS::DynamoDB::Table", 0.02, 0.05)
    return [function, run, node]


def batch_trace(
    trace: str, jobs: dict[str, str], start: float = 1.0, each: float = 0.5
) -> list[dict[str, Any]]:
    """One resize-worker invocation for a batch of messages (job id → its producer trace): a new trace,
    linked to each message's trace; one `## resize job` subsegment per record."""
    records = []
    documents: list[dict[str, Any]] = []
    for n, job_id in enumerate(jobs):
        begin = start + 0.05 + n * each
        get = aws_call(f"get-{trace}-{job_id}", "S3", "GetObject", begin + 0.01, begin + 0.11)
        records.append(
            {
                "id": seg_id(f"job-{trace}-{job_id}"),
                "name": "## resize job",
                "start_time": EPOCH0 + begin,
                "end_time": EPOCH0 + begin + each - 0.01,
                "annotations": {"jobId": job_id, "step": "resize", "sqsSentAt": EPOCH0 + 0.2},
                "subsegments": [get],
            }
        )
        documents.append(
            inferred(
                f"s3-{trace}-{job_id}",
                trace,
                f"get-{trace}-{job_id}",
                "S3",
                "AWS::S3::Bucket",
                begin + 0.01,
                begin + 0.11,
            )
        )
    end = start + 0.05 + len(jobs) * each + 0.05
    function = {
        "id": seg_id(f"fn-{trace}"),
        "trace_id": trace,
        "parent_id": seg_id(f"lambda-{trace}"),
        "name": "resize-worker",
        "origin": "AWS::Lambda::Function",
        "start_time": EPOCH0 + start,
        "end_time": EPOCH0 + end,
        "links": [
            {
                "trace_id": producer,
                "id": seg_id(f"sns-{producer}"),
                "attributes": {"aws.xray.reserved.reference_type": "parent"},
            }
            for producer in jobs.values()
        ],
        "subsegments": [
            {
                "id": seg_id(f"handler-{trace}"),
                "name": "## handler",
                "start_time": EPOCH0 + start + 0.02,
                "end_time": EPOCH0 + end - 0.02,
                "subsegments": records,
            },
            {
                "id": seg_id(f"overhead-{trace}"),
                "name": "Overhead",
                "start_time": EPOCH0 + end - 0.02,
                "end_time": EPOCH0 + end,
            },
        ],
    }
    service = {
        "id": seg_id(f"lambda-{trace}"),
        "trace_id": trace,
        "name": "resize-worker",
        "origin": "AWS::Lambda",
        "start_time": EPOCH0 + start - 0.01,
        "end_time": EPOCH0 + end + 0.01,
    }
    return [service, function, *documents]


def stored(trace: str, documents: list[dict[str, Any]], limit_exceeded: bool = False) -> dict[str, Any]:
    """One `Traces[]` entry of BatchGetTraces: every document as a JSON string, with its id."""
    ends = [d.get("end_time", d["start_time"]) for d in documents]
    starts = [d["start_time"] for d in documents]
    return {
        "Id": trace,
        "Duration": max(ends) - min(starts),
        "LimitExceeded": limit_exceeded,
        "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in documents],
    }


def summaries(ids: list[str], next_token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "TraceSummaries": [{"Id": i, "Duration": 0.5, "HasFault": False, "Annotations": {}} for i in ids],
        "ApproximateTime": T0,
        "TracesProcessedCount": len(ids),
    }
    if next_token:
        page["NextToken"] = next_token
    return page


def search(job_id: str, start: datetime, end: datetime, next_token: str | None = None) -> dict[str, Any]:
    request = {"StartTime": start, "EndTime": end, "FilterExpression": f'annotation.jobId = "{job_id}"'}
    if next_token:
        request["NextToken"] = next_token
    return request


def first_window(record: dict[str, Any]) -> tuple[datetime, datetime]:
    return T0 - BEFORE, datetime.strptime(record["completedAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    ) + AFTER


# ------------------------------------------------------------------------------------------------- tests

JOBS = ("job-a", "job-b", "job-c")
OWN = {job_id: trace_id(n + 1) for n, job_id in enumerate(JOBS)}
BATCH = trace_id(100)


def read(job_id: str, own: list[dict[str, Any]], batch: list[dict[str, Any]]) -> dict[str, Any]:
    """The reader for one job whose own trace and one batch trace are found; X-Ray answers as stored."""
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record(job_id, OWN[job_id])
    with Stubber(xray) as stub:
        stub.add_response(
            "get_trace_summaries", summaries([OWN[job_id], BATCH]), search(job_id, *first_window(record))
        )
        stub.add_response(
            "batch_get_traces",
            {"Traces": [stored(OWN[job_id], own), stored(BATCH, batch)], "UnprocessedTraceIds": []},
            {"TraceIds": [OWN[job_id], BATCH]},
        )
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    return result


def test_a_batch_trace_linking_three_jobs_gives_each_job_only_its_own_subtree() -> None:
    # GIVEN three jobs whose resize messages one worker invocation received as a batch: a new trace
    # linked to their three dispatch traces, a `## resize job` subsegment for each
    batch = batch_trace(BATCH, OWN)
    for job_id in JOBS:
        # WHEN each job's trace is read
        result = read(job_id, dispatch_trace(job_id, OWN[job_id]), batch)
        spans = result["spans"]
        ids = {span["segmentId"] for span in spans}
        # THEN it holds exactly one resize job span — its own — and no other job's segment
        jobs = [span for span in spans if span["name"] == "## resize job"]
        assert [span["segmentId"] for span in jobs] == [seg_id(f"job-{BATCH}-{job_id}")]
        others = [other for other in JOBS if other != job_id]
        theirs = {seg_id(f"{kind}-{BATCH}-{o}") for o in others for kind in ("job", "s3", "get")}
        assert not ids & theirs
        assert seg_id(f"overhead-{BATCH}") not in ids and seg_id(f"lambda-{BATCH}") not in ids
        # the invocation is there once, marked shared by the three jobs, not one of the job's own hops
        (shared,) = [span for span in spans if span["shared"]]
        assert (shared["name"], shared["sharedBy"], shared["hop"], shared["depth"]) == (
            "resize-worker",
            3,
            False,
            0,
        )
        # its own share is a hop one level under it, with its S3 call and X-Ray's S3 node below
        assert jobs[0]["depth"] == 1 and jobs[0]["hop"] and not jobs[0]["shared"]
        names = [(span["name"], span["depth"]) for span in spans]
        at = names.index(("## resize job", 1))
        assert names[at + 1 : at + 3] == [("S3 GetObject", 2), ("S3 GetObject", 3)]
        assert spans[at + 2]["kind"] == "inferred"
        # the queue wait: from the message's SentTimestamp to the invocation's start
        (wait,) = [span for span in spans if span["kind"] == "queue wait"]
        assert (wait["name"], wait["durationMs"], wait["depth"]) == ("resize-queue", 800.0, 0)
        # and the dispatch trace is whole: dispatch-tasks, its call, X-Ray's DynamoDB node, the run
        assert (
            ("dispatch-tasks", 0) in names
            and ("DynamoDB PutItem", 2) in names
            and ("DynamoDB PutItem", 3) in names
        )
        assert ("pixelpipe-reconcile", 0) in names and ("Record step success", 1) in names
        assert result["traceIds"] == [OWN[job_id], BATCH]


def test_inferred_segments_attach_under_their_call_and_never_become_hops() -> None:
    # GIVEN the job's trace with an inferred DynamoDB node, one inferred node whose call X-Ray does not
    # hold, and a batch where an inferred S3 node and a streamed subsegment hang under ANOTHER job's work
    own = dispatch_trace("job-a", OWN["job-a"])
    own.append(inferred("lost", OWN["job-a"], "no-such-call", "SNS", "AWS::SNS", 0.1, 0.12))
    batch = batch_trace(BATCH, {"job-a": OWN["job-a"], "job-b": OWN["job-b"]})
    batch.append(
        {
            "id": seg_id("streamed-b"),
            "trace_id": BATCH,
            "type": "subsegment",
            "parent_id": seg_id(f"job-{BATCH}-job-b"),
            "name": "labels",
            "start_time": EPOCH0 + 1.7,
            "end_time": EPOCH0 + 1.8,
        }
    )
    batch.append(
        {
            "id": seg_id("streamed-a"),
            "trace_id": BATCH,
            "type": "subsegment",
            "parent_id": seg_id(f"job-{BATCH}-job-a"),
            "name": "thumbnails",
            "start_time": EPOCH0 + 1.2,
            "end_time": EPOCH0 + 1.3,
        }
    )
    # WHEN job-a's trace is read
    spans = read("job-a", own, batch)["spans"]
    # THEN every inferred node sits one level under its call, none at the top
    depth_of = {span["segmentId"]: span["depth"] for span in spans}
    assert depth_of[seg_id("ddb-job-a")] == depth_of[seg_id("put-job-a")] + 1
    assert depth_of[seg_id(f"s3-{BATCH}-job-a")] == depth_of[seg_id(f"get-{BATCH}-job-a")] + 1
    assert all(span["depth"] > 0 for span in spans if span["kind"] == "inferred")
    assert seg_id("lost") not in depth_of  # nothing to attach it to: not a hop of its own
    # job-a's streamed subsegment is under its job span; job-b's and its S3 node are dropped
    assert depth_of[seg_id("streamed-a")] == depth_of[seg_id(f"job-{BATCH}-job-a")] + 1
    assert seg_id("streamed-b") not in depth_of and seg_id(f"s3-{BATCH}-job-b") not in depth_of


def test_unprocessed_trace_ids_are_asked_again_and_those_that_stay_unprocessed_are_reported(
    no_waiting: list[float],
) -> None:
    # GIVEN X-Ray answering the batch trace as unprocessed once (then returning it), and a third trace
    # (a second invocation) unprocessed on every ask
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record("job-a", OWN["job-a"])
    stuck = trace_id(200)
    with Stubber(xray) as stub:
        stub.add_response(
            "get_trace_summaries",
            summaries([BATCH, stuck, OWN["job-a"]]),
            search("job-a", *first_window(record)),
        )
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [stored(OWN["job-a"], dispatch_trace("job-a", OWN["job-a"]))],
                "UnprocessedTraceIds": [BATCH, stuck],
            },
            {"TraceIds": [OWN["job-a"], BATCH, stuck]},
        )
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [stored(BATCH, batch_trace(BATCH, {"job-a": OWN["job-a"]}))],
                "UnprocessedTraceIds": [stuck],
            },
            {"TraceIds": [BATCH, stuck]},
        )
        for _ in range(trace_search.UNPROCESSED_RETRIES - 1):
            stub.add_response(
                "batch_get_traces", {"Traces": [], "UnprocessedTraceIds": [stuck]}, {"TraceIds": [stuck]}
            )
        # WHEN the job's trace is read
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    # THEN the batch trace cleared on the retry and is read; the stuck one is reported, after a short backoff
    assert result["traceIds"] == [OWN["job-a"], BATCH]
    assert any(span["name"] == "## resize job" for span in result["spans"])
    assert result["unprocessedTraceIds"] == [stuck]
    assert any(stuck in problem for problem in result["problems"])
    assert no_waiting == [0.2, 0.4, 0.8]


def test_both_apis_are_followed_to_their_last_page_and_read_five_ids_a_call() -> None:
    # GIVEN a job annotated in eleven traces besides its own, listed over two pages, and BatchGetTraces
    # answering its first group of five over two pages
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record("job-a", OWN["job-a"])
    batches = [trace_id(300 + n) for n in range(11)]
    ids = [OWN["job-a"], *batches]
    window = first_window(record)

    def batch_of(i: str) -> dict[str, Any]:
        return stored(i, batch_trace(i, {"job-a": OWN["job-a"], "job-b": OWN["job-b"]}))

    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", summaries(batches[:6], "page-2"), search("job-a", *window))
        stub.add_response("get_trace_summaries", summaries(batches[6:]), search("job-a", *window, "page-2"))
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [stored(ids[0], dispatch_trace("job-a", ids[0])), batch_of(ids[1])],
                "NextToken": "more",
            },
            {"TraceIds": ids[:5]},
        )
        stub.add_response(
            "batch_get_traces",
            {"Traces": [batch_of(i) for i in ids[2:5]]},
            {"TraceIds": ids[:5], "NextToken": "more"},
        )
        stub.add_response(
            "batch_get_traces", {"Traces": [batch_of(i) for i in ids[5:10]]}, {"TraceIds": ids[5:10]}
        )
        stub.add_response(
            # the last one over X-Ray's trace size: LimitExceeded, some of its documents missing
            "batch_get_traces",
            {"Traces": [batch_of(ids[10]), {**batch_of(ids[11]), "LimitExceeded": True}]},
            {"TraceIds": ids[10:]},
        )
        # WHEN its trace is read
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    # THEN every trace is in, once each, the record's first; each invocation shows once, as shared by two
    assert result["traceIds"] == ids
    assert [span["traceId"] for span in result["spans"] if span["shared"]] == batches
    assert {span["sharedBy"] for span in result["spans"] if span["shared"]} == {2}
    assert sum(span["name"] == "## resize job" for span in result["spans"]) == 11
    assert all(url.endswith(f"#xray:traces/{i}") for url, i in zip(result["consoleUrls"], ids, strict=True))
    assert result["limitExceededTraceIds"] == [ids[-1]]
    assert result["problems"] == [
        f"These traces are over X-Ray's size limit and miss some segments: {ids[-1]}"
    ]


def test_a_job_retried_two_days_later_is_searched_in_two_short_windows() -> None:
    # GIVEN a job that failed at once and was retried two days later
    retried = T0 + timedelta(days=2, minutes=-30)
    record = job_record("job-a", OWN["job-a"], seconds=4, retried_at=retried)
    xray = boto3.client("xray", region_name="eu-west-1")
    first = (T0 - BEFORE, T0 + timedelta(seconds=5) + AFTER)
    second = (retried - BEFORE, retried + timedelta(seconds=4) + AFTER)
    late = trace_id(400)
    with Stubber(xray) as stub:
        # THEN exactly two GetTraceSummaries windows are asked for, each a few minutes around its moments
        stub.add_response("get_trace_summaries", summaries([OWN["job-a"]]), search("job-a", *first))
        stub.add_response("get_trace_summaries", summaries([late]), search("job-a", *second))
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [
                    stored(OWN["job-a"], dispatch_trace("job-a", OWN["job-a"])),
                    stored(late, batch_trace(late, {"job-a": OWN["job-a"]}, start=2 * 86400 - 1800 + 1)),
                ]
            },
            {"TraceIds": [OWN["job-a"], late]},
        )
        # WHEN its trace is read
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    assert all(end - start < timedelta(minutes=10) for start, end in (first, second))
    assert result["searchWindows"] == [[iso(first[0]), iso(first[1])], [iso(second[0]), iso(second[1])]]
    # and the late invocation is part of the waterfall
    assert result["traceIds"] == [OWN["job-a"], late]
    assert any(span["shared"] and span["traceId"] == late for span in result["spans"])


def test_a_wide_window_is_split_at_the_search_limit() -> None:
    # GIVEN a job whose record changed every few minutes for a whole day (one merged window)
    record = job_record("job-a", OWN["job-a"])
    record["history"] = [{"at": iso(T0 + timedelta(minutes=2 * n)), "event": "x"} for n in range(720)]
    # WHEN its windows are made
    windows = trace_search.search_windows(record, now=T0 + timedelta(days=3))
    # THEN none is wider than one call may ask for, and together they cover the day without gaps
    assert all(end - start <= trace_search.MAX_SEARCH_WINDOW for start, end in windows)
    assert windows[0][0] == T0 - BEFORE
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert windows[-1][1] == T0 + timedelta(minutes=2 * 719) + AFTER


def test_a_job_with_no_trace_says_it_was_not_sampled() -> None:
    # GIVEN a job X-Ray did not sample: its record keeps a trace id, X-Ray holds nothing for it
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record("job-a", OWN["job-a"])
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", summaries([]), search("job-a", *first_window(record)))
        stub.add_response(
            "batch_get_traces", {"Traces": [], "UnprocessedTraceIds": []}, {"TraceIds": [OWN["job-a"]]}
        )
        # WHEN its trace is read
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    # THEN it says so, naming the sampling rule, rather than showing an empty waterfall
    assert result["sampled"] is False and result["spans"] == [] and result["traceIds"] == []
    assert result["notSampled"].startswith("This job was not sampled")
    assert "sampling rule" in result["notSampled"] and "30 days" in result["notSampled"]


def test_slow_ranks_by_the_jobs_own_slowest_hop_never_the_shared_invocation() -> None:
    # GIVEN two finished jobs: job-a, batched with job-b in a 2.1 s invocation where its own share took
    # 0.99 s after 0.8 s in the queue; job-c, never sampled
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    xray = boto3.client("xray", region_name="eu-west-1")
    job_a, job_c = job_record("job-a", OWN["job-a"], seconds=12), job_record("job-c", None, seconds=5)
    job_c["status"] = "FAILED"
    batch = batch_trace(BATCH, {"job-b": OWN["job-b"], "job-a": OWN["job-a"]}, each=1.0)
    with Stubber(dynamodb) as db, Stubber(xray) as stub:
        db.add_response("query", {"Items": [to_item(job_a)], "Count": 1})
        db.add_response("query", {"Items": [to_item(job_c)], "Count": 1})
        stub.add_response("get_trace_summaries", summaries([BATCH]), search("job-a", *first_window(job_a)))
        stub.add_response(
            "batch_get_traces",
            {"Traces": [stored(OWN["job-a"], dispatch_trace("job-a", OWN["job-a"])), stored(BATCH, batch)]},
            {"TraceIds": [OWN["job-a"], BATCH]},
        )
        stub.add_response("get_trace_summaries", summaries([]), search("job-c", *first_window(job_c)))
        # WHEN the slowest jobs are asked for
        target = aws_target(
            {"dynamodb": dynamodb, "xray": xray, "s3": boto3.client("s3", region_name="eu-west-1")}
        )
        rows = slow_jobs(JobsClient(target), top=2, since=None)
        stub.assert_no_pending_responses()
    # THEN job-a's slowest hop is its own job span, not the 2.1 s shared invocation
    assert [row["jobId"] for row in rows] == ["job-a", "job-c"]
    hop = rows[0]["slowestHop"]
    assert hop["name"] == "## resize job" and hop["durationMs"] == 990.0 and not hop["shared"]
    # and the job with no trace says why it has no hop
    assert rows[1]["slowestHop"] is None and rows[1]["notSampled"].startswith("This job was not sampled")


def test_the_jobs_end_to_end_time_is_its_own_not_the_shared_invocations() -> None:
    # GIVEN job-a, first of three in a 4.1 s resize invocation, its own share over at 2.04 s
    own = [doc for doc in dispatch_trace("job-a", OWN["job-a"]) if doc["name"] != "pixelpipe-reconcile"]
    batch = batch_trace(BATCH, OWN, each=1.0)
    # WHEN its trace is read
    result = read("job-a", own, batch)
    # THEN it took 2.04 s end to end, from dispatch to the end of its share; the shared span runs past
    assert result["totalMs"] == 2040.0
    (shared,) = [span for span in result["spans"] if span["shared"]]
    assert shared["offsetMs"] + shared["durationMs"] == 4100.0


LAMBDA_RATE = (
    "Lambda traces the first request each second and 5% of the rest of each function, "
    "a rate no sampling rule changes"
)


def test_not_sampled_names_the_sampling_rule_in_force(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # GIVEN pipeline.json with a sampling rule of its own
    rule = {"reservoir_per_second": 2, "fixed_rate": 0.1}
    use_changed_config(tmp_path, monkeypatch, lambda config: config.update(xray_sampling=rule))
    # WHEN a job without a trace is read
    empty = traces.JobTrace("job-a", [], [])
    # THEN the sentence names that rule, and the 30 days X-Ray keeps traces
    said = (
        f"{LAMBDA_RATE}; the reconcile runs follow the xray_sampling rule in pipeline.json "
        "(2 a second, then 10%)"
    )
    assert (
        empty.not_sampled
        == f"This job was not sampled: X-Ray holds no trace of it ({said}; X-Ray keeps a trace for 30 days)."
    )


def test_a_job_whose_own_trace_was_not_sampled_shows_its_sampled_batch_work_and_says_what_is_missing() -> (
    None
):
    # GIVEN a job whose dispatch trace X-Ray did not sample, in a batch invocation Lambda did sample
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record("job-a", OWN["job-a"])
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", summaries([BATCH]), search("job-a", *first_window(record)))
        stub.add_response(
            "batch_get_traces",
            {"Traces": [stored(BATCH, batch_trace(BATCH, OWN))]},
            {"TraceIds": [OWN["job-a"], BATCH]},
        )
        # WHEN its trace is read
        result = job_trace(aws_target({"xray": xray}), record)
        stub.assert_no_pending_responses()
    # THEN its share of the batch shows, and a note says its own trace is missing — not "not sampled"
    assert result["sampled"] and result["notSampled"] is None and result["traceIds"] == [BATCH]
    assert [s["name"] for s in result["spans"] if s["hop"]] == ["resize-queue", "## resize job"]
    assert result["problems"] == [
        f"The job's own trace {OWN['job-a']} (dispatch, reconcile runs) was not sampled: only its share of "
        "worker invocations sampled on their own is shown"
    ]


def sweep_trace(trace: str, jobs: list[str]) -> list[dict[str, Any]]:
    """One sweeper run (scheduled: a trace of its own) that timed out `jobs`: a `## deadline job`
    subsegment each, and the deadline reconcile run each started, named for its job."""
    function = {
        "id": seg_id(f"sweeper-{trace}"),
        "trace_id": trace,
        "name": "sweeper",
        "origin": "AWS::Lambda::Function",
        "start_time": EPOCH0 + 300.0,
        "end_time": EPOCH0 + 301.0,
        "subsegments": [
            {
                "id": seg_id(f"deadline-{trace}-{job_id}"),
                "name": "## deadline job",
                "start_time": EPOCH0 + 300.1 + n * 0.3,
                "end_time": EPOCH0 + 300.3 + n * 0.3,
                "annotations": {"jobId": job_id, "step": "deadline"},
                "subsegments": [aws_call(f"start-{job_id}", "states", "StartExecution", 300.15, 300.25)],
            }
            for n, job_id in enumerate(jobs)
        ],
    }
    runs = [
        {
            "id": seg_id(f"deadline-run-{job_id}"),
            "trace_id": trace,
            "parent_id": function["id"],  # the traceHeader the sweeper passed: its function segment
            "name": "pixelpipe-reconcile",
            "origin": "AWS::StepFunctions::StateMachine",
            "start_time": EPOCH0 + 300.4,
            "end_time": EPOCH0 + 300.6,
            "aws": {"execution_arn": f"{EXECUTIONS}:{job_id}-deadline-1a2b3c4d"},
            "subsegments": [],
        }
        for job_id in jobs
    ]
    return [function, *runs]


def test_a_timed_out_job_sees_its_deadline_work_in_the_sweep_trace_and_not_the_other_jobs() -> None:
    # GIVEN one sweep that timed out job-a and job-b (job ids that share a prefix: b's begins with a's)
    sweep = trace_id(500)
    neighbour = "job-a-2"
    documents = sweep_trace(sweep, ["job-a", neighbour])
    xray = boto3.client("xray", region_name="eu-west-1")
    record = job_record("job-a", OWN["job-a"])
    with Stubber(xray) as stub:
        stub.add_response("get_trace_summaries", summaries([sweep]), search("job-a", *first_window(record)))
        stub.add_response(
            "batch_get_traces",
            {
                "Traces": [
                    stored(OWN["job-a"], dispatch_trace("job-a", OWN["job-a"])),
                    stored(sweep, documents),
                ]
            },
            {"TraceIds": [OWN["job-a"], sweep]},
        )
        # WHEN job-a's trace is read
        spans = job_trace(aws_target({"xray": xray}), record)["spans"]
        stub.assert_no_pending_responses()
    ids = {span["segmentId"] for span in spans}
    # THEN the sweep shows as shared by the two jobs, with job-a's deadline work and its own deadline run
    (shared,) = [span for span in spans if span["shared"]]
    assert (shared["name"], shared["sharedBy"]) == ("sweeper", 2)
    assert {seg_id(f"deadline-{sweep}-job-a"), seg_id("start-job-a"), seg_id("deadline-run-job-a")} <= ids
    # and nothing of the neighbour's: neither its subsegment nor its run
    assert not ids & {seg_id(f"deadline-{sweep}-{neighbour}"), seg_id(f"deadline-run-{neighbour}")}
    assert not any(span["kind"] == "queue wait" for span in spans)  # a schedule, not a queue


def test_windows_skip_record_times_they_cannot_read() -> None:
    # GIVEN a record with a history entry whose time is missing and one in another format
    record = job_record("job-a", OWN["job-a"])
    record["history"] += [{"event": "x"}, {"at": "yesterday", "event": "y"}]
    # WHEN its windows are made, THEN they are the readable moments' window, nothing fails
    assert trace_search.search_windows(record) == [first_window(record)]
