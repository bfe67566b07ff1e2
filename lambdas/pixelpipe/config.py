"""The pipeline's facts, read once and validated: `pipeline.json` plus the Lambda environment.

Names and limits live in `pipeline.json` (one copy, read by Terraform, the Lambdas and the local
stack). Resource identifiers that only exist once deployed (table name, topic ARN, …) come from
environment variables that Terraform and the local stack both set; the aliases of `Resources` and
`LambdaSettings` are the one definition of those names, and `lambda_environment()` writes them.
A wrong file or a missing variable fails at cold start with `ConfigError` naming the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

CONFIG_FILE_NAME = "pipeline.json"


class ConfigError(RuntimeError):
    """The configuration is unusable; the message names each offending field or variable."""


class _Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StorageConfig(_Section):
    upload_bucket: str
    upload_prefix: str
    thumbnail_bucket: str
    thumbnail_prefix: str


class TableConfig(_Section):
    name: str
    status_index: str
    deadline_index: str
    # Sparse (status, eventPendingAt): the finished jobs whose event is not yet confirmed sent.
    event_index: str


class TopicConfig(_Section):
    name: str
    steps_attribute: str


class MetricsConfig(_Section):
    namespace: str


class StateMachineConfig(_Section):
    name: str
    definition: str


class EventsConfig(_Section):
    """The job-finished event (docs/job-record.md#job-finished-events): the bus the reconcile state
    machine puts it on, its `source` and `detail-type`, the example rule's queue, and how long a
    finished job's event may stay unconfirmed before the sweeper sends it again (more than an Express
    execution's 5-minute limit, so the execution that owns it is gone)."""

    bus: str
    source: str
    detail_type: str
    example_rule: str
    example_queue: str
    example_dlq: str
    example_max_receive_count: PositiveInt
    resend_after_seconds: int = Field(gt=300)


class ApiThrottlingConfig(_Section):
    """The HTTP API stage's default route throttling (and the local gateway's token bucket)."""

    rate_per_second: PositiveInt
    burst: PositiveInt


class ApiScopesConfig(_Section):
    """OAuth scopes a JWT must carry: `upload` (upload, read one's own) and `operator` (read all, retry)."""

    upload: str = Field(min_length=1)
    operator: str = Field(min_length=1)


class ApiConfig(_Section):
    """The front door (docs/api.md): how long a presigned upload form and a thumbnail URL live, the
    page size of `GET /jobs`, throttling, the browser origins allowed (CORS) and the scopes."""

    upload_expiry_seconds: int = Field(ge=1, le=3600)
    download_expiry_seconds: int = Field(ge=1, le=3600)
    page_size: int = Field(ge=1, le=1000)
    throttling: ApiThrottlingConfig
    cors_origins: list[str]
    scopes: ApiScopesConfig


class LimitsConfig(_Section):
    max_input_bytes: PositiveInt
    max_input_pixels: PositiveInt
    allowed_formats: list[str] = Field(min_length=1)
    job_deadline_seconds: PositiveInt
    sweep_interval_seconds: PositiveInt


class RetentionConfig(_Section):
    uploads_days: PositiveInt
    records_days: PositiveInt
    # Every dead-letter and failure queue keeps a message this long: time to fix the cause and redrive.
    # 14 days is SQS's maximum.
    dead_letters_days: int = Field(ge=1, le=14)

    @property
    def dead_letters_seconds(self) -> int:
        """SQS's MessageRetentionPeriod for the dead-letter queues."""
        return self.dead_letters_days * 86_400


class AlarmsConfig(_Section):
    dead_letter_age_seconds: PositiveInt


class XraySamplingConfig(_Section):
    """The X-Ray sampling rule Terraform creates for the reconcile state machine (docs/deploy.md):
    traces recorded per second before the rate applies, then the fraction of the rest."""

    reservoir_per_second: int = Field(ge=0)
    fixed_rate: float = Field(ge=0, le=1)


class ThumbnailsConfig(_Section):
    sizes: list[PositiveInt] = Field(min_length=1)
    format: str
    quality: int = Field(ge=1, le=100)


class LabelsConfig(_Section):
    max_labels: PositiveInt
    max_side: PositiveInt
    min_confidence: dict[Literal["rekognition", "onnx"], float]


class S3Source(_Section):
    """Invoked asynchronously by S3 on each upload; after `maximum_retry_attempts` retries the event
    goes to `failure_queue` (Lambda's on-failure destination)."""

    type: Literal["s3"]
    failure_queue: str
    maximum_retry_attempts: int = Field(ge=0, le=2)


class ScheduleSource(_Section):
    """Invoked on a schedule, every `limits.sweep_interval_seconds` (a limit the job deadline also reads)."""

    type: Literal["schedule"]


class WorkerSource(_Section):
    """An SQS worker for one job step: its queue, dead-letter queue and the record field it fills."""

    type: Literal["worker"]
    step: str
    queue: str
    dlq: str
    result_field: str
    batch_size: PositiveInt
    batching_window_seconds: int = Field(ge=0)
    visibility_timeout_seconds: PositiveInt
    max_receive_count: PositiveInt
    max_concurrency: int = Field(ge=2)
    retry_backoff_seconds: int = Field(ge=0)


class HttpSource(_Section):
    """Invoked by an HTTP API (API Gateway HTTP API, payload v2)."""

    type: Literal["http"]


EventSource = Annotated[S3Source | ScheduleSource | WorkerSource | HttpSource, Field(discriminator="type")]


class FunctionConfig(_Section):
    """One Lambda function: the one shape every function has, whatever invokes it."""

    handler: str
    timeout_seconds: PositiveInt
    memory_mb: PositiveInt
    source: EventSource


class WorkerConfig(_Section):
    """A worker function seen by its step: the function's name and settings with its queue source."""

    step: str
    function: str
    handler: str
    queue: str
    dlq: str
    result_field: str
    timeout_seconds: PositiveInt
    memory_mb: PositiveInt
    batch_size: PositiveInt
    batching_window_seconds: int
    visibility_timeout_seconds: PositiveInt
    max_receive_count: PositiveInt
    max_concurrency: int
    retry_backoff_seconds: int


class PipelineConfig(_Section):
    """The whole of `pipeline.json`."""

    project: str
    region: str
    storage: StorageConfig
    table: TableConfig
    topic: TopicConfig
    metrics: MetricsConfig
    state_machine: StateMachineConfig
    events: EventsConfig
    api: ApiConfig
    limits: LimitsConfig
    retention: RetentionConfig
    alarms: AlarmsConfig
    xray_sampling: XraySamplingConfig
    thumbnails: ThumbnailsConfig
    labels: LabelsConfig
    functions: dict[str, FunctionConfig]

    @model_validator(mode="after")
    def _one_dispatch_one_sweeper_and_distinct_steps(self) -> PipelineConfig:
        kinds = [f.source.type for f in self.functions.values()]
        for kind in ("s3", "schedule"):
            if kinds.count(kind) != 1:
                count = kinds.count(kind)
                raise ValueError(f"functions: exactly one function with source type {kind!r}, not {count}")
        steps = [f.source.step for f in self.functions.values() if isinstance(f.source, WorkerSource)]
        if not steps:
            raise ValueError("functions: at least one function with source type 'worker'")
        if len(set(steps)) != len(steps):
            raise ValueError(f"functions: worker steps must be distinct, got {steps}")
        return self

    def _named(self, kind: str) -> str:
        return next(name for name, f in self.functions.items() if f.source.type == kind)

    @property
    def dispatch_function(self) -> str:
        """The function S3 invokes on an upload."""
        return self._named("s3")

    @property
    def dispatch(self) -> S3Source:
        source = self.functions[self.dispatch_function].source
        assert isinstance(source, S3Source)
        return source

    @property
    def api_function(self) -> str | None:
        """The function the HTTP API invokes (the front door), if the pipeline has one."""
        return next((name for name, f in self.functions.items() if f.source.type == "http"), None)

    @property
    def sweeper_function(self) -> str:
        """The function the schedule invokes."""
        return self._named("schedule")

    @cached_property
    def workers(self) -> dict[str, WorkerConfig]:
        """Every worker by step name, in config order (the order steps are listed on a job)."""
        return {
            f.source.step: WorkerConfig(
                **f.source.model_dump(exclude={"type"}),
                function=name,
                handler=f.handler,
                timeout_seconds=f.timeout_seconds,
                memory_mb=f.memory_mb,
            )
            for name, f in self.functions.items()
            if isinstance(f.source, WorkerSource)
        }

    def worker_of(self, function: str) -> WorkerConfig | None:
        """The worker a function is, or None for a function that is no worker."""
        return next((w for w in self.workers.values() if w.function == function), None)


def _config_candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    explicit = os.environ.get("PIXELPIPE_CONFIG_FILE")
    # In a Lambda zip the file sits beside the package; in the repository it is at the root.
    return [Path(explicit)] if explicit else [here / CONFIG_FILE_NAME, here.parent.parent / CONFIG_FILE_NAME]


def config_path() -> Path:
    """The pipeline.json in use (PIXELPIPE_CONFIG_FILE, else beside the package, else the repository's)."""
    return _config_path()


def _config_path() -> Path:
    candidates = _config_candidates()
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"pipeline config not found; looked in: {', '.join(map(str, candidates))}")


def settings() -> PipelineConfig:
    """The validated, typed `pipeline.json`: the only way code reads a name, limit or default from it."""
    return _load(_config_path())


@cache
def _load(path: Path) -> PipelineConfig:
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON: {error}") from error
    return parse_pipeline_config(raw, source=str(path))


def parse_pipeline_config(raw: Any, source: str = CONFIG_FILE_NAME) -> PipelineConfig:
    """`raw` checked against the model; a `ConfigError` names every wrong or missing field by path."""
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source} is invalid: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '(top level)'}: {problem['msg']}"
        for problem in error.errors()
    )


def workers() -> dict[str, WorkerConfig]:
    """Every worker by step name, in config order (the order steps are listed on a job)."""
    return settings().workers


def step_names() -> list[str]:
    return list(settings().workers)


class _Environment(BaseModel):
    # Read by alias (the variable's name), built in code by field name.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Resources(_Environment):
    """Deployed identifiers, read from the environment at cold start."""

    table: str = Field(alias="JOBS_TABLE", min_length=1)
    topic_arn: str = Field(alias="JOBS_TOPIC_ARN", min_length=1)
    state_machine_arn: str = Field(alias="RECONCILE_STATE_MACHINE_ARN", min_length=1)
    upload_bucket: str = Field(alias="UPLOAD_BUCKET", min_length=1)
    thumbnail_bucket: str = Field(alias="THUMBNAIL_BUCKET", min_length=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Resources:
        return _from_env(cls, os.environ if environ is None else environ)

    def as_environment(self) -> dict[str, str]:
        return self.model_dump(by_alias=True)


LabelBackendName = Literal["rekognition", "onnx"]


class WorkerEnvironment(_Environment):
    """What a worker function learns from its own environment beyond `Resources`."""

    step: str | None = Field(default=None, alias="WORKER_STEP")
    label_backend: LabelBackendName = Field(default="rekognition", alias="LABEL_BACKEND")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerEnvironment:
        return _from_env(cls, os.environ if environ is None else environ)


def _field_alias(model: type[BaseModel], field: str) -> str:
    return model.model_fields[field].alias or field


# The variable names lambda_environment() sets beyond Resources'; defined once, above.
ENV_STEP = _field_alias(WorkerEnvironment, "step")
ENV_LABEL_BACKEND = _field_alias(WorkerEnvironment, "label_backend")


_Model = TypeVar("_Model", bound=BaseModel)


def _from_env(model: type[_Model], environ: Mapping[str, str]) -> _Model:
    names = [_field_alias(model, name) for name in model.model_fields]
    try:
        return model.model_validate({name: environ[name] for name in names if name in environ})
    except ValidationError as error:
        missing = [
            str(problem["loc"][0])
            for problem in error.errors()
            if problem["type"] in ("missing", "string_too_short")
        ]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}") from error
        raise ConfigError(f"invalid environment: {_describe(error)}") from error


class ApiEnvironment(_Environment):
    """What the `api` function learns from its environment: the IAM roles whose callers are operators
    (comma-separated ARNs; Terraform's `api_operator_role_arns`), for callers signed with SigV4."""

    operator_roles_text: str = Field(default="", alias="API_OPERATOR_ROLES")

    @property
    def operator_roles(self) -> list[str]:
        return [arn.strip() for arn in self.operator_roles_text.split(",") if arn.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiEnvironment:
        return _from_env(cls, os.environ if environ is None else environ)


ENV_API_OPERATOR_ROLES = _field_alias(ApiEnvironment, "operator_roles_text")


def api_settings(config: PipelineConfig, resources: Resources) -> Any:
    """The front door's settings (logic/api_service.ApiSettings) from pipeline.json and the environment."""
    from pixelpipe.logic.api_service import ApiSettings

    return ApiSettings(
        upload_prefix=config.storage.upload_prefix,
        upload_bucket=resources.upload_bucket,
        thumbnail_bucket=resources.thumbnail_bucket,
        max_input_bytes=config.limits.max_input_bytes,
        allowed_formats=list(config.limits.allowed_formats),
        upload_expiry_seconds=config.api.upload_expiry_seconds,
        download_expiry_seconds=config.api.download_expiry_seconds,
        page_size=config.api.page_size,
        job_deadline_seconds=config.limits.job_deadline_seconds,
        result_fields=tuple(worker.result_field for worker in config.workers.values()),
    )


class LambdaSettings(BaseModel):
    """Everything a function reads at cold start: the pipeline file and its own environment."""

    model_config = ConfigDict(frozen=True)

    pipeline: PipelineConfig
    resources: Resources
    worker: WorkerEnvironment


def lambda_settings(environ: Mapping[str, str] | None = None) -> LambdaSettings:
    """Validated at cold start: a missing variable or a wrong field fails the import with its name."""
    return LambdaSettings(
        pipeline=settings(), resources=Resources.from_env(environ), worker=WorkerEnvironment.from_env(environ)
    )


def lambda_environment(resources: Resources, function: str, label_backend: str) -> dict[str, str]:
    """The environment of one function; the local stack uses it, and the parity test holds Terraform to it."""
    config = settings()
    env = {
        **resources.as_environment(),
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_METRICS_NAMESPACE": config.metrics.namespace,
        # No pydantic plugins are deployed; without this, the first model built at cold start scans
        # every installed distribution's metadata for plugin entry points.
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    if function == config.api_function:
        # IAM callers' operator roles: none locally (callers bring a token); Terraform's variable on AWS.
        env[ENV_API_OPERATOR_ROLES] = ""
    worker = config.worker_of(function)
    if worker is not None:
        env[ENV_STEP] = worker.step
        if worker.result_field == "labels":
            env[ENV_LABEL_BACKEND] = label_backend
    return env
