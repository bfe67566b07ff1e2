"""sweeper: on a schedule, fail jobs still PENDING past the configured deadline (via reconcile), and
re-send the job-finished events no execution confirmed."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger

from pixelpipe.adapters.job_events import UnconfirmedEvents, event_input
from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.reconciler import Reconciler, deadline_input
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.clock import now_iso
from pixelpipe.logic.deadlines import Sweeper
from pixelpipe.metrics import metrics, record_timeouts
from pixelpipe.tracing import current_trace_header, job_subsegment, tracer

logger = Logger()
_settings = lambda_settings()
_config, _resources = _settings.pipeline, _settings.resources


class DeadlineReporter:
    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler

    def fail_past_deadline(self, job_id: str, reason: str) -> None:
        at = now_iso()
        # The sweep runs in a trace of its own: the annotated subsegment is how a job's trace finds it.
        with job_subsegment("## deadline job", job_id, "deadline"):
            # A fresh name per sweep: the state machine ignores a job that is no longer PENDING.
            self._reconciler.start(
                f"{job_id}-deadline-{uuid.uuid4().hex[:8]}",
                deadline_input(job_id, at, reason),
                current_trace_header(),
            )

    def resend_event(self, job_id: str) -> None:
        with job_subsegment("## resend job event", job_id, "event"):
            self._reconciler.start(
                f"{job_id}-event-{uuid.uuid4().hex[:8]}",
                event_input(job_id, now_iso()),
                current_trace_header(),
            )


_reporter = DeadlineReporter(Reconciler(LazyClient("stepfunctions"), _resources.state_machine_arn))
_sweeper = Sweeper(
    jobs=JobsTable(
        LazyClient("dynamodb"),
        _resources.table,
        _config.table.status_index,
        _config.table.deadline_index,
    ),
    reconcile=_reporter,
    deadline_seconds=_config.limits.job_deadline_seconds,
    events=UnconfirmedEvents(LazyClient("dynamodb"), _resources.table, _config.table.event_index),
    resend=_reporter,
    resend_after_seconds=_config.events.resend_after_seconds,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # X-Ray must not keep job ids and keys
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = now_iso()
    failed = _sweeper.sweep(now)
    resent = _sweeper.resend_events(now)
    logger.info("sweep finished", overdue=len(failed), events_resent=len(resent))
    record_timeouts(len(failed))
    return {"timedOut": failed, "eventsResent": resent}
