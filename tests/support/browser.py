"""Shared by the console's browser tests: the system chromium, and the fault plan that makes a job fail
on purpose."""

from __future__ import annotations

import os

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
