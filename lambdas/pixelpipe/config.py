"""The pipeline's facts, read once.

Names and limits live in `pipeline.json` (one copy, read by Terraform, the Lambdas and the local
stack). Resource identifiers that only exist once deployed (table name, topic ARN, …) come from
environment variables that Terraform and the local stack both set; `lambda_environment()` is the one
definition of those variables.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "pipeline.json"


def _config_candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    explicit = os.environ.get("PIXELPIPE_CONFIG_FILE")
    # In a Lambda zip the file sits beside the package; in the repository it is at the root.
    return [Path(explicit)] if explicit else [here / CONFIG_FILE_NAME, here.parent.parent / CONFIG_FILE_NAME]


def pipeline_config() -> dict[str, Any]:
    """The parsed `pipeline.json`; fails fast naming every place it looked."""
    candidates = _config_candidates()
    for path in candidates:
        if path.is_file():
            return _load(path)
    raise RuntimeError(f"pipeline config not found; looked in: {', '.join(map(str, candidates))}")


@cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@dataclass(frozen=True)
class WorkerConfig:
    step: str
    function: str
    handler: str
    queue: str
    dlq: str
    result_field: str
    timeout_seconds: int
    memory_mb: int
    batch_size: int
    batching_window_seconds: int
    visibility_timeout_seconds: int
    max_receive_count: int
    max_concurrency: int
    retry_backoff_seconds: int


def workers() -> dict[str, WorkerConfig]:
    """Every worker by step name, in config order (the order steps are listed on a job)."""
    return {step: WorkerConfig(step=step, **spec) for step, spec in pipeline_config()["workers"].items()}


def step_names() -> list[str]:
    return list(pipeline_config()["workers"])


# Environment variables that identify deployed resources; Terraform sets the same names.
ENV_TABLE = "JOBS_TABLE"
ENV_TOPIC = "JOBS_TOPIC_ARN"
ENV_STATE_MACHINE = "RECONCILE_STATE_MACHINE_ARN"
ENV_UPLOAD_BUCKET = "UPLOAD_BUCKET"
ENV_THUMBNAIL_BUCKET = "THUMBNAIL_BUCKET"
ENV_LABEL_BACKEND = "LABEL_BACKEND"
ENV_STEP = "WORKER_STEP"


@dataclass(frozen=True)
class Resources:
    """Deployed identifiers, read from the environment at cold start."""

    table: str
    topic_arn: str
    state_machine_arn: str
    upload_bucket: str
    thumbnail_bucket: str

    @classmethod
    def from_env(cls) -> Resources:
        missing = [
            name
            for name in (ENV_TABLE, ENV_TOPIC, ENV_STATE_MACHINE, ENV_UPLOAD_BUCKET, ENV_THUMBNAIL_BUCKET)
            if not os.environ.get(name)
        ]
        if missing:
            raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            table=os.environ[ENV_TABLE],
            topic_arn=os.environ[ENV_TOPIC],
            state_machine_arn=os.environ[ENV_STATE_MACHINE],
            upload_bucket=os.environ[ENV_UPLOAD_BUCKET],
            thumbnail_bucket=os.environ[ENV_THUMBNAIL_BUCKET],
        )


def lambda_environment(resources: Resources, function: str, label_backend: str) -> dict[str, str]:
    """The environment of one function; the local stack uses it, and the parity test holds Terraform to it."""
    env = {
        ENV_TABLE: resources.table,
        ENV_TOPIC: resources.topic_arn,
        ENV_STATE_MACHINE: resources.state_machine_arn,
        ENV_UPLOAD_BUCKET: resources.upload_bucket,
        ENV_THUMBNAIL_BUCKET: resources.thumbnail_bucket,
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_METRICS_NAMESPACE": pipeline_config()["metrics"]["namespace"],
    }
    for step, worker in workers().items():
        if worker.function == function:
            env[ENV_STEP] = step
            if worker.result_field == "labels":
                env[ENV_LABEL_BACKEND] = label_backend
    return env
