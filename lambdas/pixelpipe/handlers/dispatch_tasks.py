"""dispatch-tasks: S3 ObjectCreated → one job record + one SNS message per uploaded image."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.storage import Storage
from pixelpipe.adapters.topic import JobsTopic
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.dispatch import Dispatcher
from pixelpipe.logic.jobs import SourceObject
from pixelpipe.metrics import metrics, record_rejection
from pixelpipe.tracing import annotate, current_trace_id, tracer

logger = Logger()
_settings = lambda_settings()
_config, _resources = _settings.pipeline, _settings.resources
_dispatcher = Dispatcher(
    jobs=JobsTable(LazyClient("dynamodb"), _resources.table, _config.table.status_index),
    topic=JobsTopic(LazyClient("sns"), _resources.topic_arn),
    storage=Storage(LazyClient("s3")),
    upload_prefix=_config.storage.upload_prefix,
    steps=list(_config.workers),
    max_input_bytes=_config.limits.max_input_bytes,
    deadline_seconds=_config.limits.job_deadline_seconds,
    record_retention_days=_config.retention.records_days,
)


def sources_in(event: dict[str, Any]) -> list[SourceObject]:
    """The uploaded objects an S3 notification names; S3's test event names none."""
    if event.get("Event") == "s3:TestEvent" or "Records" not in event:
        return []
    return [
        SourceObject(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.get_object.key),  # S3 sends keys URL-encoded, spaces as '+'
            size=int(record.s3.get_object.size or 0),
            etag=record.s3.get_object.etag or "",
            version_id=record.s3.get_object.version_id,
        )
        for record in S3Event(event).records
        if record.event_name.startswith("ObjectCreated")
    ]


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the response names object keys: not for X-Ray
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = []
    for source in sources_in(event):
        result = _dispatcher.dispatch(source, trace_id=current_trace_id())
        if result.job_id:
            annotate(result.job_id, "dispatch")
        if result.action == "rejected":
            record_rejection()
        logger.info(
            "dispatched", key=source.key, job_id=result.job_id, action=result.action, detail=result.detail
        )
        results.append(
            {"jobId": result.job_id, "key": source.key, "action": result.action, "detail": result.detail}
        )
    return {"results": results}
