"""Helpers for tests that drive a running local stack: wait for a condition, run the CLI against it,
and give a stack of the test's own a changed pipeline.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from pixelpipe.config import pipeline_config
from pixelpipe_cli.main import app
from pixelpipe_cli.stack import LocalStack

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, every: float = 0.2) -> T:
    """The condition's first truthy value, or its last value once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def cli(stack: LocalStack, *args: str) -> Any:
    """`pixelpipe ARGS` against `stack`, on a terminal wide enough that tables do not wrap."""
    env = {"PIXELPIPE_TARGET": str(stack.target_path), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(config))
    return path


def use_changed_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[dict], None]
) -> dict:
    """A copy of pipeline.json with `change` applied, used by every stack the test starts after this."""
    config = json.loads(json.dumps(pipeline_config()))
    change(config)
    monkeypatch.setenv("PIXELPIPE_CONFIG_FILE", str(write_config(tmp_path, config)))
    return config
