"""Shared by the console's browser tests: the system chromium, and the fault plan that makes a job fail
on purpose."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PIXELPIPE_CHROMIUM", "/usr/bin/chromium")
# What shared/README.md found to work for Debian's chromium in a container without a display.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Uploads named `flaky-…` fail resize's read of the source twice (two rules, each once per object): both
# allowed receives fail, the job is FAILED with its message in the DLQ, and a retry or redrive succeeds.
FLAKY = "flaky-"
FLAKY_RESIZE = [
    {
        "function": "resize-worker",
        "operation": "s3.GetObject",
        "error": error,
        "status": status,
        "match": FLAKY,
    }
    for error, status in (("SlowDown", 503), ("InternalError", 500))
]


def need_chromium(chromium: str = CHROMIUM, environ: Mapping[str, str] = os.environ) -> None:
    """Nothing when chromium is there; otherwise one line with the fix: a skip, or under CI=true (where
    .ci/run installs it, so a missing browser is a broken setup) a failure."""
    if Path(chromium).is_file() or shutil.which(chromium):
        return
    message = f"no chromium at {chromium} (apt-get install chromium; .ci/run does)"
    if environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests must run under CI: {message}")
    pytest.skip(message)
