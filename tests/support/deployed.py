"""A deployed stack as the CLI sees one, its resources in in-process moto: the CLI's AWS paths, offline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from moto import mock_aws

from pixelpipe_cli.target import S3_EVENTS_QUEUE, Target
from pixelpipe_emulator.provision import provision


def use_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region; no endpoint, so every client goes where a deployed one would."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@contextmanager
def deployed_on_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """The pipeline provisioned into moto and described without an endpoint (Target.is_local is False)."""
    use_test_credentials(monkeypatch)
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name="us-east-1")
            for name in ("s3", "dynamodb", "sns", "sqs", "stepfunctions")
        }
        target = provision(clients, endpoint_url=None)
        target.queues.pop(S3_EVENTS_QUEUE)  # AWS has no relay queue
        yield target
