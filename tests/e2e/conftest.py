"""The whole local stack (moto server + one host process per function), shared by the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.stacks import change_every_worker, use_changed_config


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

    def fast_retries(config: dict) -> None:
        change_every_worker(config, max_receive_count=2, retry_backoff_seconds=0, batching_window_seconds=0)

    return use_changed_config(tmp_path, monkeypatch, fast_retries)
