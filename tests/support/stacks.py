"""Helpers for tests that drive a running local stack: wait for a condition, run the CLI against it,
and give a stack of the test's own a changed pipeline.json (support.changed_config, re-exported here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from typer.testing import CliRunner

from pixelpipe_cli.main import app
from pixelpipe_emulator.stack import LocalStack
from support.changed_config import (  # noqa: F401  (re-exported: tests import them from here too)
    change_every_worker,
    change_worker,
    use_changed_config,
    worker_entries,
    write_config,
)

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
