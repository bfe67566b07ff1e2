"""api: the front door's Lambda. Wiring only: settings from pipeline.json and the environment, clients
made on first use, and the routes of `api_routes` (the local stack serves the same handler)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from pixelpipe.adapters.job_pages import ApiJobsTable
from pixelpipe.adapters.presign import Presigner
from pixelpipe.adapters.storage import Storage
from pixelpipe.adapters.topic import JobsTopic
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import ApiEnvironment, api_settings, lambda_settings, step_names
from pixelpipe.handlers.api_routes import build_app
from pixelpipe.logic.api_service import FrontDoor

logger = Logger()
_settings = lambda_settings()
_config, _resources = _settings.pipeline, _settings.resources
_app = build_app(
    FrontDoor(
        settings=api_settings(_config, _resources),
        jobs=ApiJobsTable(LazyClient("dynamodb"), _resources.table, _config.table.status_index),
        storage=Storage(LazyClient("s3")),
        presigner=Presigner(),
        topic=JobsTopic(LazyClient("sns"), _resources.topic_arn),
    ),
    upload_scope=_config.api.scopes.upload,
    operator_scope=_config.api.scopes.operator,
    operator_roles=ApiEnvironment.from_env().operator_roles,
    steps=step_names(),
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _app.resolve(event, context)
