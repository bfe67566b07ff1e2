"""A worker batch as Lambda delivers it: one invocation, one timeout, one trace of its own.

The handlers are called as Lambda calls them, against moto in-process, with the harness of
tests/support/handlers.py (real provisioning, real S3 events, real photos).
"""

from __future__ import annotations

from typing import Any

import pytest

from pixelpipe.adapters.reconciler import Reconciler
from pixelpipe.adapters.storage import Storage
from pixelpipe.config import workers
from pixelpipe.logic.job_message import JobMessage
from pixelpipe_emulator.lambda_host import LambdaContext, function_spec
from support.handlers import Aws, dispatch_upload, sqs_event


def record_time_reserve_ms() -> int:
    """Read after a function is loaded: importing a handler module reads the function's environment
    (Powertools' metrics namespace), which the `load_function` fixture sets."""
    from pixelpipe.handlers.worker_runtime import RECORD_TIME_RESERVE_MS

    return RECORD_TIME_RESERVE_MS


class RunningOutContext(LambdaContext):
    """Lambda's context on a fake clock: every image the worker reads costs `per_image_ms`."""

    def __init__(self, function: str, per_image_ms: int, used_ms: int = 0) -> None:
        spec = function_spec(function)
        super().__init__(
            function_name=function,
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        )
        self.used_ms = used_ms
        self.per_image_ms = per_image_ms

    def spend(self) -> None:
        self.used_ms += self.per_image_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_seconds * 1000 - self.used_ms)


def dispatched_messages(aws: Aws, load_function: Any, body: bytes, count: int) -> list[dict[str, Any]]:
    """`count` uploads dispatched, and the resize queue's messages for them, in dispatch order."""
    dispatch = load_function("dispatch-tasks")
    jobs = [
        dispatch_upload(aws, dispatch, f"uploads/cat-{n}.jpg", body)["results"][0]["jobId"]
        for n in range(count)
    ]
    messages = []
    while len(messages) < count:  # drained in receive order, which SQS does not promise
        messages += aws.drain("resize")
    order = {job_id: n for n, job_id in enumerate(jobs)}
    return sorted(messages, key=lambda m: order[JobMessage.from_json(m["Body"]).job_id])


def test_a_batch_hands_back_the_records_it_would_not_finish_before_its_timeout(
    aws, load_function, chelsea_jpeg, monkeypatch
):
    # GIVEN four resize messages in one batch, and images that each take 13 s of a 30 s timeout
    messages = dispatched_messages(aws, load_function, chelsea_jpeg, 4)
    resize = load_function("resize-worker")
    context = RunningOutContext("resize-worker", per_image_ms=13_000)
    assert workers()["resize"].timeout_seconds * 1000 - 2 * 13_000 < record_time_reserve_ms()
    real_read = Storage.read

    def slow_read(self, *args, **kwargs):
        context.spend()
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Storage, "read", slow_read)
    event = sqs_event(messages, aws.target.queues["resize"]["arn"], aws.target.region)

    # WHEN the worker handles the batch
    response = resize.module.handler(event, context)

    aws.finished_executions()
    # THEN the two records started in time are done, and the two it would not reach are handed back
    assert response == {
        "batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages[2:]],
    }
    done = [aws.jobs.get(JobMessage.from_json(m["Body"]).job_id) for m in messages]
    assert [job["steps"]["resize"]["status"] for job in done] == [
        "SUCCEEDED",
        "SUCCEEDED",
        "PENDING",
        "PENDING",
    ]
    # ... visible again at once (never started: no wait for the visibility timeout)
    again = {m["MessageId"] for m in aws.drain("resize")}
    assert again == {m["MessageId"] for m in messages[2:]}


def test_the_first_record_always_starts_even_with_less_than_the_reserve_left(
    aws, load_function, chelsea_jpeg, monkeypatch
):
    # GIVEN two resize messages, and an invocation with less than RECORD_TIME_RESERVE_MS left from the
    # start (e.g. a function timeout shorter than the reserve)
    messages = dispatched_messages(aws, load_function, chelsea_jpeg, 2)
    resize = load_function("resize-worker")
    timeout_ms = workers()["resize"].timeout_seconds * 1000
    context = RunningOutContext(
        "resize-worker", per_image_ms=0, used_ms=timeout_ms - record_time_reserve_ms() // 2
    )
    event = sqs_event(messages, aws.target.queues["resize"]["arn"], aws.target.region)

    # WHEN the worker handles the batch
    response = resize.module.handler(event, context)

    # THEN the first record is worked on (a new invocation would have no more time for it), the second
    # handed back
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}
    aws.finished_executions()
    first = aws.jobs.get(JobMessage.from_json(messages[0]["Body"]).job_id)
    assert first["steps"]["resize"]["status"] == "SUCCEEDED"


def test_each_record_starts_reconcile_in_its_own_jobs_trace_not_the_batchs(
    aws, load_function, chelsea_jpeg, monkeypatch
):
    # GIVEN two resize messages carrying their jobs' traces, handled in an invocation with a trace of its own
    messages = dispatched_messages(aws, load_function, chelsea_jpeg, 2)
    headers = [
        "Root=1-6a1b2c3d-000000000000000000000001;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-6a1b2c3d-000000000000000000000002;Parent=6b1e2f3a4c5d6e7f;Sampled=0",
    ]
    event = sqs_event(messages, aws.target.queues["resize"]["arn"], aws.target.region)
    for record, header in zip(event["Records"], headers, strict=True):
        record["attributes"]["AWSTraceHeader"] = header
    # (the invocation's own trace, as Lambda sets it for a batch)
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", "Root=1-6a1b2c3e-0000000000000000000000ff;Parent=1111111111111111;Sampled=1"
    )
    started: dict[str, str | None] = {}
    real_start = Reconciler.start

    def spy(self, name, payload, trace_header=None):
        started[payload["jobId"]] = trace_header
        return real_start(self, name, payload, trace_header)

    monkeypatch.setattr(Reconciler, "start", spy)
    resize = load_function("resize-worker")

    # WHEN the worker handles the batch
    assert resize(event) == {"batchItemFailures": []}

    # THEN each job's reconcile run is started in that job's trace, with its sampling decision
    jobs = [JobMessage.from_json(m["Body"]).job_id for m in messages]
    assert started == {
        jobs[0]: "Root=1-6a1b2c3d-000000000000000000000001;Sampled=1",
        jobs[1]: "Root=1-6a1b2c3d-000000000000000000000002;Sampled=0",
    }


@pytest.mark.parametrize("header", [None, "", "Sampled=1"])
def test_a_message_without_a_trace_header_reconciles_in_the_current_trace(header, monkeypatch):
    from pixelpipe.tracing import job_trace_header

    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", "Root=1-6a1b2c3e-0000000000000000000000ff;Parent=1111111111111111;Sampled=1"
    )
    assert (
        job_trace_header(header)
        == "Root=1-6a1b2c3e-0000000000000000000000ff;Parent=1111111111111111;Sampled=1"
    )
