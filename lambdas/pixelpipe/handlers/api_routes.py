"""The front door's routes: API Gateway HTTP API (payload 2.0) → Powertools' resolver → `FrontDoor`.

Only HTTP lives here: each route validates its input (pydantic, `enable_validation=True`), reads the
caller from `requestContext.authorizer` and calls one `FrontDoor` method; each error becomes its
documented status and `{"message", "code"}` body (docs/api.md). The local stack serves the same handler
(`pixelpipe_emulator.api_gateway`). `/openapi.json` is the resolver's generated document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from pixelpipe.logic.api_auth import Caller, Forbidden, Unauthenticated, caller_from
from pixelpipe.logic.api_service import ApiError, BadRequest, FrontDoor
from pixelpipe.logic.lifecycle import JobStatus

logger = Logger()

TITLE = "Pixel-Pipe API"
VERSION = "1"
# ISO 8601 UTC as the records write it, any prefix from the day on (`2026-11-25`, `2026-11-25T08:08Z`).
SINCE_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?Z?)?$"


class UploadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fileName: str = Field(min_length=1, max_length=255, description="kept as data, never part of the key")
    contentType: str = Field(min_length=1, max_length=100, description="one of the accepted image types")


def _error(status: int, code: str, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if details is not None:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def build_app(
    front_door: FrontDoor,
    upload_scope: str,
    operator_scope: str,
    operator_roles: Iterable[str] = (),
    steps: Iterable[str] = (),
) -> APIGatewayHttpResolver:
    """The resolver with every route; `front_door` and the scopes come from the caller (tests, Lambda)."""
    app = APIGatewayHttpResolver(enable_validation=True)
    roles = tuple(operator_roles)
    known_steps = tuple(steps)

    def caller() -> Caller:
        context = app.current_event.raw_event.get("requestContext") or {}
        return caller_from(context, upload_scope, operator_scope, roles)

    @app.post("/uploads", summary="A presigned S3 POST for one image", status_code=201)
    def create_upload(body: Annotated[UploadBody, Body()]) -> Response[dict[str, Any]]:
        form = front_door.new_upload(caller(), body.fileName, body.contentType)
        return Response(201, content_types.APPLICATION_JSON, form)

    @app.get("/uploads/<upload_id>", summary="Whether an upload arrived, and its job")
    def get_upload(upload_id: str) -> dict[str, Any]:
        return front_door.upload_status(caller(), upload_id)

    @app.get("/jobs/<job_id>", summary="One job's public record with thumbnail URLs")
    def get_job(job_id: str) -> dict[str, Any]:
        return front_door.get_job(caller(), job_id)

    @app.get("/jobs", summary="A page of jobs in one status, newest first (operator)")
    def list_jobs(
        status: Annotated[JobStatus, Query()],
        since: Annotated[str | None, Query(pattern=SINCE_PATTERN)] = None,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> dict[str, Any]:
        return front_door.list_jobs(caller(), str(status), since, cursor)

    @app.post("/jobs/<job_id>/retry", summary="Run a job's failed (or named) steps again (operator)")
    def retry_job(
        job_id: str,
        step: Annotated[list[str] | None, Query()] = None,
        force: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:
        unknown = [name for name in step or [] if known_steps and name not in known_steps]
        if unknown:
            raise BadRequest(f"unknown step {unknown[0]!r}; the steps are {', '.join(known_steps)}")
        return front_door.retry(caller(), job_id, list(step) if step else None, force)

    @app.get("/openapi.json", summary="This document", include_in_schema=False)
    def openapi() -> Response[str]:
        document = app.get_openapi_json_schema(title=TITLE, version=VERSION)
        return Response(200, content_types.APPLICATION_JSON, document)

    @app.exception_handler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _error(error.status, error.code, str(error))

    @app.exception_handler(Unauthenticated)
    def unauthenticated(error: Unauthenticated) -> Response:
        return _error(401, "Unauthorized", str(error))

    @app.exception_handler(Forbidden)
    def forbidden(error: Forbidden) -> Response:
        return _error(403, "Forbidden", str(error))

    @app.exception_handler(RequestValidationError)
    def invalid(error: RequestValidationError) -> Response:
        # Powertools reports a route's *response* that fails its model through the same exception: that is
        # this function's fault, not the caller's (500, as an unhandled error would be).
        if any(tuple(problem.get("loc", ()))[:1] == ("response",) for problem in error.errors()):
            logger.error("response failed validation", extra={"errors": error.errors()})
            return _error(500, "InternalError", "the service failed to answer")
        details = [
            {"in": ".".join(str(part) for part in problem.get("loc", ())), "problem": problem.get("msg", "")}
            for problem in error.errors()
        ]
        return _error(400, "BadRequest", "the request is not valid", details)

    @app.not_found
    def no_route(_: NotFoundError) -> Response:
        return _error(404, "NotFound", "no such route")

    return app
