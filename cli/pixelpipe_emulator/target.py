"""The description of a stack: a running local one or a deployed one.

Both are described by the same small JSON file, written by the local stack (`pixelpipe up`) or converted
from `terraform output -json` (AWS), so every CLI command works the same way against either. It lives in
the emulator package because the emulator writes it and its Lambda hosts read it, and the emulator must
not import the CLI; `pixelpipe_cli.target` re-exports it for the commands.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from pixelpipe.config import Resources, settings

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# Keys of Target.queues for the internal queues (worker queues are keyed by step name).
DISPATCH_FAILURES_QUEUE = "_dispatch_failures"  # dispatch-tasks' failed async invocations (AWS and local)
S3_EVENTS_QUEUE = "_s3_events"  # local only: the relay queue S3 notifies, standing in for S3 → Lambda


def state_dir() -> Path:
    return Path(os.environ.get("PIXELPIPE_HOME", ".pixelpipe")).resolve()


@dataclass
class Target:
    region: str
    upload_bucket: str
    upload_prefix: str
    thumbnail_bucket: str
    jobs_table: str
    status_index: str
    topic_arn: str
    state_machine_arn: str
    # step -> {url, arn, dlq_url, dlq_arn}; the internal queues ({url, arn}) are keyed by the constants above.
    queues: dict[str, dict[str, str]] = field(default_factory=dict)
    endpoint_url: str | None = None  # set for the local stack only
    account_id: str = "123456789012"
    # The deployed name of the function S3 invokes (name_prefix included); pipeline.json's by default.
    dispatch_function: str = field(default_factory=lambda: settings().dispatch_function)
    # AWS only: the log group the state machine writes its Express executions' history to (the only
    # record of them there); locally the emulator's GetExecutionHistory answers instead.
    state_machine_log_group: str = ""
    # The front door (docs/api.md): its base URL, and locally the bearer token of each role (`upload`,
    # `operator`) that `pixelpipe up` made; on AWS callers sign with IAM or bring a JWT instead.
    api_url: str = ""
    api_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if self.is_local:
            return boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, **LOCAL_CREDENTIALS
            )
        return boto3.client(service, region_name=self.region)

    def resources(self) -> Resources:
        """The deployed identifiers the Lambdas read from their environment (config.lambda_environment)."""
        return Resources(
            table=self.jobs_table,
            topic_arn=self.topic_arn,
            state_machine_arn=self.state_machine_arn,
            upload_bucket=self.upload_bucket,
            thumbnail_bucket=self.thumbnail_bucket,
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Target:
        return cls(**json.loads(path.read_text()))


def target_file() -> Path:
    return Path(os.environ.get("PIXELPIPE_TARGET", state_dir() / "target.json"))
