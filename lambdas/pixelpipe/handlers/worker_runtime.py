"""What every SQS worker handler shares: clients, the step runner, and SQS partial batch responses.

A worker module only supplies its step name and its work function, and imports this module first:
Powertools' batch utility builds its pydantic parser models (SQS, Kinesis, DynamoDB streams, Kafka) at
import when pydantic is already loaded, about a third of a worker's cold start spent on models no worker
uses (records are read as data classes). Imported before pixelpipe.config, it skips them; the order is
held by tests/functional/test_aws_runtime.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.reconciler import Reconciler, completion_input
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings, workers
from pixelpipe.logic.job_message import JobMessage, MalformedMessage, parse_job_message
from pixelpipe.logic.jobs import StepCompletion
from pixelpipe.logic.step_runner import Delivery, GiveUp, StepRunner, UploadLocation
from pixelpipe.metrics import metrics, record_retry
from pixelpipe.tracing import job_subsegment, job_trace_header, subsegment, tracer

logger = Logger()

# A record after the first is started only while at least this much of the invocation is left: enough
# for the slowest record to finish (a 48 MP JPEG's resize or labels, its S3 writes and the reconcile start
# take a few seconds at most) and for the batch response to be returned. A batch of ten large images
# shares one timeout; a record the invocation would not finish is handed back as a batch item failure
# instead, so the invocation is not ended by its timeout, which would return the whole batch, finished
# records too. The first record always starts: a new invocation would have no more time for it.
RECORD_TIME_RESERVE_MS = 5_000

# The job trace of the record being worked on (from its AWSTraceHeader), for its reconcile start.
_job_trace_header: ContextVar[str | None] = ContextVar("job_trace_header", default=None)


class NotReached(Exception):
    """Too little of the invocation is left to start this record: it goes back to the queue."""


class ReconcileReporter:
    """Hands a step completion to the reconcile state machine, in the trace of the completion's job."""

    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler

    def report(self, completion: StepCompletion) -> None:
        with subsegment("## start reconcile"):
            arn = self._reconciler.start(
                completion.execution_name(), completion_input(completion), _job_trace_header.get()
            )
        # Step metrics are counted by the state machine, for the attempt it actually records.
        logger.info("reconcile started", job_id=completion.job_id, outcome=completion.outcome, execution=arn)


def backoff_seconds(receive_count: int, base: int, ceiling: int) -> int:
    """Exponential backoff for a transient failure, never past the queue's visibility timeout."""
    return min(ceiling, base * 2 ** max(0, receive_count - 1))


@cache
def _queue_url(sqs: Any, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":")
    return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def build_worker_handler(step: str, work: Callable[[JobMessage], Any]) -> Callable[[dict, Any], dict]:
    """A Lambda handler for `step`: SQS batch in, partial batch response out."""
    worker = workers()[step]
    settings = lambda_settings()
    resources = settings.resources
    sqs = LazyClient("sqs")  # only a retry or a give-up calls it

    runner = StepRunner(
        worker=worker,
        jobs=JobsTable(LazyClient("dynamodb"), resources.table, settings.pipeline.table.status_index),
        reconcile=ReconcileReporter(Reconciler(LazyClient("stepfunctions"), resources.state_machine_arn)),
        work=work,
        uploads=UploadLocation(resources.upload_bucket, settings.pipeline.storage.upload_prefix),
    )
    processor = BatchProcessor(event_type=EventType.SQS)
    started = [0]  # records started in the current invocation

    def handle_record(record: SQSRecord, lambda_context: Any = None) -> str:
        receive_count = int(record.attributes.approximate_receive_count)
        if (
            started[0]
            and lambda_context is not None
            and lambda_context.get_remaining_time_in_millis() < RECORD_TIME_RESERVE_MS
        ):
            # Never started, so visible again at once for the next invocation, not after the timeout.
            logger.remove_keys(["job_id", "step", "receive_count"])  # the previous record's
            logger.warning("too little time left; record handed back", message_id=record.message_id)
            _set_visibility(record, 0)
            raise NotReached(record.message_id)
        started[0] += 1
        try:
            message = parse_job_message(record.body)
        except MalformedMessage as malformed:
            # Redelivery cannot fix a body: fail the step of the job it names, or drop it if it names none.
            logger.append_keys(job_id=malformed.job_id, step=step, receive_count=receive_count)
            logger.error("malformed message", reason=malformed.reason, message_id=record.message_id)
            if malformed.job_id is None:
                return "malformed"
            return run(
                record,
                malformed.job_id,
                receive_count,
                partial(runner.reject, malformed.job_id, receive_count, malformed.reason),
            )
        return run(
            record, message.job_id, receive_count, partial(runner.handle, Delivery(message, receive_count))
        )

    def run(record: SQSRecord, job_id: str, receive_count: int, attempt: Callable[[], str]) -> str:
        logger.append_keys(job_id=job_id, step=step, receive_count=receive_count)
        _job_trace_header.set(job_trace_header(record.attributes.aws_trace_header))
        sent = record.attributes.get("SentTimestamp")  # epoch ms, as SQS reports it
        sent_at = int(sent) / 1000 if sent else None
        try:
            with job_subsegment(f"## {step} job", job_id, step, sqs_sent_at=sent_at):
                return attempt()
        except GiveUp:
            # Visible again at once, so the next receive moves it to the DLQ.
            _set_visibility(record, 0)
            raise
        except Exception:
            delay = backoff_seconds(
                receive_count, worker.retry_backoff_seconds, worker.visibility_timeout_seconds
            )
            logger.warning("transient failure; retrying", retry_in_seconds=delay, exc_info=True)
            record_retry(step)
            _set_visibility(record, delay)
            raise

    def _set_visibility(record: SQSRecord, seconds: int) -> None:
        try:
            sqs.change_message_visibility(
                QueueUrl=_queue_url(sqs, record.event_source_arn),
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except Exception:  # the visibility timeout still bounds the retry; never mask the real error
            logger.warning("could not change message visibility", exc_info=True)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler(capture_response=False)  # no handler response is kept in X-Ray
    @metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        started[0] = 0
        return process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )

    return handler
