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

from pixelpipe.config import FunctionConfig, pipeline_config
from pixelpipe_cli.main import app
from pixelpipe_emulator.stack import LocalStack

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, every: float = 0.2) -> T:
    """The condition's first truthy value; fails the test with the last value seen after `timeout` s.

    Only positive outcomes are waited for: "X did not happen" is shown by waiting for evidence that it
    had its chance (a later job finished, the sweeper ran), never by sleeping.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s; last saw {value!r}")
        time.sleep(every)


def finished(client: Any, job_id: str, timeout: float = 60) -> dict:
    """The job once it is terminal and no step is still running (late completions recorded)."""
    return wait_until(
        lambda: (
            (record := client.get(job_id))
            and record["status"] in ("COMPLETE", "FAILED")
            and all(s["status"] in ("SUCCEEDED", "FAILED") for s in record["steps"].values())
            and record
        ),
        timeout=timeout,
    )


def log_count(path: Path, needle: str) -> int:
    """How often `needle` appears in a function's log (0 before the log exists)."""
    return path.read_text(errors="replace").count(needle) if path.is_file() else 0


def cli(stack: LocalStack, *args: str) -> Any:
    """`pixelpipe ARGS` against `stack`, on a terminal wide enough that tables do not wrap."""
    env = {"PIXELPIPE_TARGET": str(stack.target_path), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(config))
    return path


# The keys a function has whatever invokes it; a worker's other settings live in its queue source.
FUNCTION_KEYS = frozenset(FunctionConfig.model_fields) - {"source"}


def worker_entries(config: dict) -> dict[str, dict]:
    """Each worker's function entry in a raw pipeline.json copy, by step, for a test to change."""
    return {f["source"]["step"]: f for f in config["functions"].values() if f["source"]["type"] == "worker"}


def change_worker(entry: dict, **settings: Any) -> None:
    """Set a worker's settings in a raw pipeline.json copy: timeout and memory on the function, the
    rest (queue, receives, batching, backoff) on its queue source."""
    for key, value in settings.items():
        (entry if key in FUNCTION_KEYS else entry["source"])[key] = value


def change_every_worker(config: dict, **settings: Any) -> None:
    for entry in worker_entries(config).values():
        change_worker(entry, **settings)


def use_changed_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[dict], None]
) -> dict:
    """A copy of pipeline.json with `change` applied, used by every stack the test starts after this."""
    config = json.loads(json.dumps(pipeline_config()))
    change(config)
    monkeypatch.setenv("PIXELPIPE_CONFIG_FILE", str(write_config(tmp_path, config)))
    return config
