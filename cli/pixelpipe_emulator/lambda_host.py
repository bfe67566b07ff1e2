"""Plays the Lambda service for one function of the local stack, in its own process.

It polls the function's event source the way AWS does and calls the *same* handler that is deployed:
- dispatch-tasks: S3 notifications (relayed through a local-only queue), one invocation per event;
- an SQS worker: batches of up to `batch_size` gathered for up to `batching_window_seconds`, the
  queue's visibility timeout, partial batch responses (only the successes are deleted), and the
  queue's redrive policy moving a message to its DLQ after maxReceiveCount receives;
- sweeper: an invocation every `sweep_interval_seconds`, as EventBridge Scheduler would.

One process per function keeps invocations apart, as Lambda execution environments are. As Lambda
does, an invocation that runs past the function's timeout ends its execution environment: the
process exits, the stack starts a new one, and the batch returns after its visibility timeout. With
a fault plan (pixelpipe_emulator.faults) the host injects AWS errors into the handler's calls. Like the
Lambda service it also writes each invocation's function segment to X-Ray (the handler's own
subsegments come from the X-Ray SDK via the local daemon). As Lambda does for an SQS event source, a
batch is one invocation under a trace of its own, its function segment linked to the trace of each
message (the message's AWSTraceHeader); nothing writes a queue segment (SQS writes none on AWS: the
worker records each message's SentTimestamp on its job subsegment).

    python -m pixelpipe_emulator.lambda_host --function resize-worker
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aws_xray_sdk import global_sdk_config

from pixelpipe.config import FunctionConfig, lambda_environment, settings, workers
from pixelpipe_emulator import call_recorder, faults
from pixelpipe_emulator.target import LOCAL_CREDENTIALS, S3_EVENTS_QUEUE, Target, target_file
from pixelpipe_emulator.xray_local import (
    MAX_LINKS_PER_SEGMENT,
    daemon_address,
    new_segment_id,
    new_trace_id,
    send_segment,
)

LABEL_BACKEND_LOCAL = "onnx"
# Between tries of a failed dispatch-tasks invocation, times the tries so far (Lambda: ~1 min, then ~2).
ASYNC_RETRY_BACKOFF_SECONDS = 1
# The host's exit status when an invocation ran past the function's timeout (the stack restarts it).
TIMED_OUT_EXIT_CODE = 124


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_spec(function: str) -> FunctionConfig:
    """The function's one entry in pipeline.json "functions" (handler, timeout, memory, event source)."""
    spec = settings().functions.get(function)
    if spec is None:
        raise SystemExit(f"unknown function {function!r}")
    return spec


def function_environment(target: Target, function: str) -> dict[str, str]:
    return {
        **lambda_environment(target.resources(), function, LABEL_BACKEND_LOCAL),
        "AWS_ENDPOINT_URL": target.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": target.region,
        "AWS_REGION": target.region,
        "AWS_LAMBDA_FUNCTION_NAME": function,
    }


class FunctionHost:
    def __init__(self, target: Target, function: str) -> None:
        self.target = target
        self.function = function
        self.spec = function_spec(function)
        os.environ.update(function_environment(target, function))
        # Before the import: handlers make their clients there, and the hooks must be on the session first.
        record_calls, inject_faults = call_recorder.install(function), faults.install(function)
        module_name, _, attribute = self.spec.handler.rpartition(".")
        self.handler = record_calls(inject_faults(getattr(importlib.import_module(module_name), attribute)))
        global_sdk_config.set_sdk_enabled(False)  # traced only inside invocations
        self.sqs = target.client("sqs")
        self.dynamodb = target.client("dynamodb")
        address = os.environ.get("AWS_XRAY_DAEMON_ADDRESS")
        self.daemon = daemon_address(address) if address and os.environ.get("LAMBDA_TASK_ROOT") else None
        self._running = True
        self._parent = os.getppid()

    @property
    def running(self) -> bool:
        """Until stopped, or until the stack that started this host is gone (never an orphan)."""
        return self._running and os.getppid() == self._parent

    def stop(self) -> None:
        self._running = False

    def invoke(self, event: dict[str, Any], links: list[dict[str, Any]] | None = None) -> Any:
        """One invocation, ended like Lambda ends it when it runs past the function's timeout; every
        invocation is a new trace (`links`: the traces it is linked to, written on its segment)."""
        watchdog = threading.Timer(self.spec.timeout_seconds, self._time_out)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._invoke(event, links or [])
        finally:
            watchdog.cancel()

    def _time_out(self) -> None:
        seconds = self.spec.timeout_seconds
        print(f"{self.function}: Task timed out after {seconds:.2f} seconds", file=sys.stderr, flush=True)
        os._exit(TIMED_OUT_EXIT_CODE)

    def _invoke(self, event: dict[str, Any], links: list[dict[str, Any]]) -> Any:
        context = LambdaContext(
            function_name=self.function,
            memory_limit_in_mb=self.spec.memory_mb,
            timeout_seconds=self.spec.timeout_seconds,
            invoked_function_arn=f"arn:aws:lambda:{self.target.region}:{self.target.account_id}:function:{self.function}",
        )
        if self.daemon is None:
            return self.handler(event, context)
        trace_id, segment_id = new_trace_id(), new_segment_id()
        # The X-Ray SDK reads this at every call and hangs its subsegments under `Parent`.
        os.environ["_X_AMZN_TRACE_ID"] = f"Root={trace_id};Parent={segment_id};Sampled=1"
        started, failed = time.time(), False
        global_sdk_config.set_sdk_enabled(True)
        try:
            return self.handler(event, context)
        except Exception:
            failed = True
            raise
        finally:
            # The host's own polling and deleting is the Lambda service's work, not the function's.
            global_sdk_config.set_sdk_enabled(False)
            send_segment(
                self.daemon,
                {
                    "id": segment_id,
                    "trace_id": trace_id,
                    "name": self.function,
                    "origin": "AWS::Lambda::Function",
                    "start_time": started,
                    "end_time": time.time(),
                    "aws": {
                        "function_arn": context.invoked_function_arn,
                        "request_id": context.aws_request_id,
                    },
                    **({"links": links} if links else {}),
                    **({"fault": True} if failed else {}),
                },
            )

    def carry_trace_headers(self, messages: list[dict[str, Any]]) -> None:
        """Give every message its job's trace as its AWSTraceHeader attribute, where it has none.

        Messages from SNS carry it already, as on AWS: the emulator copies the X-Ray header of the
        Publish request (Root, Parent = the publisher's Publish subsegment, Sampled) onto the SQS
        message (`xray_service`). Messages sent otherwise (`pixelpipe retry`, a DLQ redrive) carry none
        on AWS either; locally the job's trace is looked up, so such a run still joins the job's trace,
        without a Parent (the publishing call is not known)."""
        bare = [m for m in messages if not m.get("Attributes", {}).get("AWSTraceHeader")]
        for message_id, trace_id in self.traces_of(bare).items():
            message = next(m for m in bare if m["MessageId"] == message_id)
            message.setdefault("Attributes", {})["AWSTraceHeader"] = f"Root={trace_id};Sampled=1"

    def traces_of(self, messages: list[dict[str, Any]]) -> dict[str, str]:
        """Each job message's job trace (by MessageId), where the job has one: one BatchGetItem for the
        whole batch (not a GetItem per message: the emulator answers every call, and its CPU bounds the
        stack's throughput)."""
        job_of: dict[str, str] = {}
        for message in messages:
            with contextlib.suppress(KeyError, ValueError, TypeError):  # not a job message: no trace to carry
                job_of[message["MessageId"]] = str(json.loads(message["Body"])["job_id"])
        found: dict[str, str] = {}
        wanted = sorted(set(job_of.values()))  # BatchGetItem refuses a key named twice
        for start in range(0, len(wanted), 100):
            try:
                response = self.dynamodb.batch_get_item(
                    RequestItems={
                        self.target.jobs_table: {
                            "Keys": [{"jobId": {"S": job_id}} for job_id in wanted[start : start + 100]],
                            "ProjectionExpression": "jobId, traceId",
                        }
                    }
                )
            except Exception as error:  # tracing must never stop delivery
                print(f"trace lookup failed: {error!r}", file=sys.stderr, flush=True)
                continue
            for item in response.get("Responses", {}).get(self.target.jobs_table, []):
                if "traceId" in item:
                    found[item["jobId"]["S"]] = item["traceId"]["S"]
        return {message_id: found[job_id] for message_id, job_id in job_of.items() if job_id in found}

    def serve(self) -> None:
        source = self.spec.source
        if source.type == "worker":
            self._serve_queue(source.step)
        elif source.type == "s3":
            self._serve_s3_notifications()
        elif source.type == "schedule":
            self._serve_schedule()
        else:
            raise SystemExit(f"no local event source of type {source.type!r} for {self.function}")

    def _serve_s3_notifications(self) -> None:
        """S3 → dispatch-tasks as an asynchronous invocation, with Lambda's retries played by the relay queue.

        A failed invocation leaves its message in the relay queue, visible again after a short backoff
        (Lambda waits about 1 then 2 minutes; seconds here); the queue's RedrivePolicy, with
        maxReceiveCount = 1 + maximum_retry_attempts, then moves it to the dispatch failures queue, as
        Lambda sends a failed event to the function's on-failure destination.
        """
        url = self.target.queues[S3_EVENTS_QUEUE]["url"]
        while self.running:
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
            done = []
            for message in messages:
                event = json.loads(message["Body"])
                if event.get("Event") != "s3:TestEvent":
                    try:
                        self.invoke(event)
                    except Exception as error:  # async invoke: AWS retries; the message stays for another try
                        print(f"{self.function} failed: {error!r}", file=sys.stderr, flush=True)
                        self._retry_later(url, message)
                        continue
                done.append(message)
            self._delete(url, done)  # one call for the receive, not one per event

    def _retry_later(self, url: str, message: dict[str, Any]) -> None:
        """Make a failed event visible again after ASYNC_RETRY_BACKOFF_SECONDS x its receive count."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            self.sqs.change_message_visibility(
                QueueUrl=url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=ASYNC_RETRY_BACKOFF_SECONDS * receives,
            )
        except Exception as error:  # the queue's visibility timeout still brings it back, later
            print(f"could not schedule the retry: {error!r}", file=sys.stderr, flush=True)

    def _serve_queue(self, step: str) -> None:
        worker = workers()[step]
        queue = self.target.queues[step]
        while self.running:
            batch = self._gather(queue["url"], worker.batch_size, worker.batching_window_seconds)
            if not batch:
                continue
            self._deliver(batch, queue)

    def _deliver(self, batch: list[dict[str, Any]], queue: dict[str, str]) -> None:
        """Invoke once for the whole batch, as Lambda does, then delete what succeeded, in one call.

        The invocation is a new trace linked to each message's trace; a job's share of it is found by
        the `jobId` annotation the worker puts on its job subsegment, on both targets.
        """
        if self.daemon:
            self.carry_trace_headers(batch)
        event = {"Records": [sqs_record(message, queue["arn"], self.target.region) for message in batch]}
        try:
            response = self.invoke(event, trace_links(batch) if self.daemon else None) or {}
        except Exception as error:  # a failed invocation returns the whole batch to the queue
            print(f"{self.function} invocation failed: {error!r}", file=sys.stderr, flush=True)
            return
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        self._delete(queue["url"], [m for m in batch if m["MessageId"] not in failed])

    def _delete(self, url: str, messages: list[dict[str, Any]]) -> None:
        """DeleteMessageBatch, ten at a time (SQS's limit)."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _gather(self, url: str, batch_size: int, window_seconds: float) -> list[dict[str, Any]]:
        """Up to `batch_size` messages: the first wait is a long poll, then fill until the window closes."""
        batch: list[dict[str, Any]] = []
        closes_at = None
        while self.running and len(batch) < batch_size:
            wait = 1 if closes_at is None else max(0.0, closes_at - time.monotonic())
            if closes_at is not None and wait <= 0:
                break
            received = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, batch_size - len(batch)),
                WaitTimeSeconds=int(min(1, wait + 0.999)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch += received
            if not batch:
                return batch
            if closes_at is None:
                closes_at = time.monotonic() + window_seconds
        return batch

    def _serve_schedule(self) -> None:
        interval = settings().limits.sweep_interval_seconds
        next_run = time.monotonic() + interval
        while self.running:
            time.sleep(0.5)
            if time.monotonic() >= next_run:
                next_run = time.monotonic() + interval
                try:
                    self.invoke({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
                except Exception as error:
                    print(f"sweeper failed: {error!r}", file=sys.stderr, flush=True)


def trace_header_fields(header: str) -> dict[str, str]:
    """`Root=1-…;Parent=…;Sampled=1` as a dict."""
    return dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part)


def trace_links(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The X-Ray links of a batch invocation's segment: one per distinct message trace, as Lambda
    writes them (the producer's trace, its parent segment where the header names one), at most
    MAX_LINKS_PER_SEGMENT."""
    links: dict[str, dict[str, Any]] = {}
    for message in messages:
        fields = trace_header_fields(message.get("Attributes", {}).get("AWSTraceHeader", ""))
        if "Root" in fields and fields["Root"] not in links:
            links[fields["Root"]] = {
                "trace_id": fields["Root"],
                **({"id": fields["Parent"]} if "Parent" in fields else {}),
                "attributes": {"aws.xray.reserved.reference_type": "parent"},
            }
    return list(links.values())[:MAX_LINKS_PER_SEGMENT]


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message in the shape Lambda's event source mapping delivers it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--function", required=True)
    args = parser.parse_args()
    host = FunctionHost(Target.load(target_file()), args.function)

    signal.signal(signal.SIGTERM, lambda *_: host.stop())
    signal.signal(signal.SIGINT, lambda *_: host.stop())
    print(f"{args.function} ready", flush=True)
    host.serve()


if __name__ == "__main__":
    main()
