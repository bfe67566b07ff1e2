"""On the local stack, worker batches are traced as AWS traces them: one invocation per batch under a
trace of its own, linked to each message's trace, each job's share found by its `jobId` annotation;
inferred segments as X-Ray stores them, and no segment kind AWS does not write."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli, wait_until

pytestmark = pytest.mark.e2e

BURST = 12
PHOTOS = ["cat.png", "coffee.png", "rocket.jpg"]


def job_documents(xray: Any, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stored document of every trace that names the job (its dispatch trace and every batch
    it was in), found the way the reader finds them on AWS: the annotation filter, then BatchGetTraces."""
    created = datetime.fromisoformat(job["createdAt"].replace("Z", "+00:00"))
    ids: set[str] = {job["traceId"]}
    for page in xray.get_paginator("get_trace_summaries").paginate(
        StartTime=created - timedelta(minutes=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        FilterExpression=f'annotation.jobId = "{job["jobId"]}"',
    ):
        ids |= {summary["Id"] for summary in page["TraceSummaries"]}
    ordered = sorted(ids)
    documents = []
    for start in range(0, len(ordered), 5):  # BatchGetTraces takes 5 ids a call
        for trace in xray.batch_get_traces(TraceIds=ordered[start : start + 5])["Traces"]:
            documents += [json.loads(segment["Document"]) for segment in trace["Segments"]]
    return documents


def walk(entity: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield entity
    for child in entity.get("subsegments", []):
        yield from walk(child)


def job_subsegments(function: dict[str, Any], step: str) -> list[dict[str, Any]]:
    return [s for s in walk(function) if s.get("name") == f"## {step} job"]


def worker_invocations(documents: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("origin") == "AWS::Lambda::Function" and d.get("name") == function]


@pytest.fixture(scope="module")
def burst(client: JobsClient) -> list[dict[str, Any]]:
    """A dozen uploads at once, finished, with every worker segment stored."""
    job_ids = [
        client.upload(SAMPLES / PHOTOS[n % len(PHOTOS)], key_name=f"burst-{n}-{PHOTOS[n % len(PHOTOS)]}")
        for n in range(BURST)
    ]
    jobs = client.wait(job_ids, timeout=180)
    assert all(job and job["status"] == "COMPLETE" for job in jobs.values()), jobs
    return [jobs[job_id] for job_id in job_ids]


def test_a_burst_is_processed_in_shared_batch_invocations_each_linked_to_its_jobs_traces(
    burst: list[dict[str, Any]], stack: LocalStack
) -> None:
    xray = stack.target.client("xray")

    # GIVEN a burst of uploads, processed; WHEN each job's traces are read from X-Ray
    def every_job_traced() -> dict[str, list[dict[str, Any]]] | None:
        found = {job["jobId"]: job_documents(xray, job) for job in burst}
        complete = all(
            any(job_subsegments(f, "resize") for f in worker_invocations(docs, "resize-worker"))
            and any(job_subsegments(f, "analysis") for f in worker_invocations(docs, "analysis-worker"))
            for docs in found.values()
        )
        return found if complete else None

    documents = wait_until(every_job_traced, timeout=30, every=0.5)

    # THEN some resize invocation did the work of at least two jobs: its one function segment holds
    # both jobs' `## resize job` subsegments
    invocations = {
        f["id"]: f for docs in documents.values() for f in worker_invocations(docs, "resize-worker")
    }
    shared = [
        f
        for f in invocations.values()
        if len({s["annotations"]["jobId"] for s in job_subsegments(f, "resize")}) >= 2
    ]
    assert shared, [len(job_subsegments(f, "resize")) for f in invocations.values()]
    by_id = {job["jobId"]: job for job in burst}
    for invocation in invocations.values():
        # ... each invocation is a trace of its own, linked to the trace of every job it worked on
        jobs = [s["annotations"]["jobId"] for s in job_subsegments(invocation, "resize")]
        assert invocation["trace_id"] not in {by_id[j]["traceId"] for j in jobs}
        linked = {link["trace_id"] for link in invocation.get("links", [])}
        assert linked == {by_id[j]["traceId"] for j in jobs}
        for link in invocation["links"]:
            assert link["attributes"] == {"aws.xray.reserved.reference_type": "parent"}
            assert len(link["id"]) == 16  # the producer's Publish subsegment, from AWSTraceHeader's Parent
        # ... and each job subsegment says when SQS got its message, before the invocation began
        for job_work in job_subsegments(invocation, "resize"):
            assert job_work["annotations"]["step"] == "resize"
            assert job_work["annotations"]["sqsSentAt"] <= invocation["start_time"]
            assert invocation["start_time"] - job_work["annotations"]["sqsSentAt"] < 60
    # ... and every job is in exactly one resize and one analysis invocation
    for job_id, docs in documents.items():
        for step, function in (("resize", "resize-worker"), ("analysis", "analysis-worker")):
            mine = [
                s
                for f in {d["id"]: d for d in worker_invocations(docs, function)}.values()
                for s in job_subsegments(f, step)
                if s["annotations"]["jobId"] == job_id
            ]
            assert len(mine) == 1, (job_id, step, len(mine))


def test_no_stored_document_is_a_segment_aws_does_not_write_nor_a_response_and_inferred_ones_hang_off_calls(
    burst: list[dict[str, Any]], stack: LocalStack
) -> None:
    # GIVEN the burst's traces, complete WHEN every stored document is read
    xray = stack.target.client("xray")
    time.sleep(1)  # the daemon forwards in batches
    documents = [d for job in burst for d in job_documents(xray, job)]
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_trace.setdefault(document["trace_id"], []).append(document)

    # THEN no queue segment is written by anyone (SQS writes none on AWS) ...
    queues = [d for d in documents if d.get("origin") == "AWS::SQS::Queue" and not d.get("inferred")]
    assert queues == []
    # ... no handler's response is kept in X-Ray (dispatch's names object keys; Powertools would put it
    # in the handler subsegment's metadata)
    responses = [
        e["id"]
        for d in documents
        for e in walk(d)
        for values in (e.get("metadata") or {}).values()
        if isinstance(values, dict) and any(key.endswith("response") for key in values)
    ]
    assert responses == []
    # ... and every inferred segment hangs off an AWS SDK call subsegment of its own trace
    inferred = [d for d in documents if d.get("inferred")]
    assert {d["name"] for d in inferred} >= {"DynamoDB", "S3", "SNS", "STEPFUNCTIONS"}
    for document in inferred:
        assert "type" not in document
        calls = {
            e["id"]: e
            for d in by_trace[document["trace_id"]]
            if not d.get("inferred")
            for e in walk(d)
            if e.get("namespace") == "aws"
        }
        assert document["parent_id"] in calls, document
        assert document["start_time"] == calls[document["parent_id"]]["start_time"]


def test_pixelpipe_trace_shows_each_burst_job_exactly_its_own_worker_spans(
    burst: list[dict[str, Any]], stack: LocalStack
) -> None:
    # GIVEN the burst, with every job's worker subsegments stored (and so each job's own subsegment ids)
    xray = stack.target.client("xray")

    def own_job_subsegments() -> dict[str, dict[str, str]] | None:
        found: dict[str, dict[str, str]] = {}
        for job in burst:
            docs = job_documents(xray, job)
            found[job["jobId"]] = {
                step: s["id"]
                for step, function in (("resize", "resize-worker"), ("analysis", "analysis-worker"))
                for f in worker_invocations(docs, function)
                for s in job_subsegments(f, step)
                if s["annotations"]["jobId"] == job["jobId"]
            }
        return found if all(len(ids) == 2 for ids in found.values()) else None

    own = wait_until(own_job_subsegments, timeout=30, every=0.5)

    for job in burst:
        # WHEN the operator asks for the job's trace
        result = cli(stack, "trace", job["jobId"], "--json")
        assert result.exit_code == 0, result.output
        spans = json.loads(result.output)["spans"]
        # THEN it holds exactly one resize job span and one analysis job span, and they are its own
        for step in ("resize", "analysis"):
            mine = [s for s in spans if s["name"].endswith(f"{step} job")]
            assert [s["segmentId"] for s in mine] == [own[job["jobId"]][step]], (job["jobId"], step, mine)
