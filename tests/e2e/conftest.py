"""The whole local stack (moto server + one host process per function), shared by the e2e tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelpipe.config import pipeline_config
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.stack import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> JobsClient:
    return JobsClient(stack.target)


@pytest.fixture
def impatient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """pipeline.json with fast retries (2 receives, no backoff), for a stack of the test's own."""
    config = json.loads(json.dumps(pipeline_config()))
    for worker in config["workers"].values():
        worker.update(max_receive_count=2, retry_backoff_seconds=0, batching_window_seconds=0)
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("PIXELPIPE_CONFIG_FILE", str(path))
    return config
