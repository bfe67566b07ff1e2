"""A fourth worker that exists only in tests, to prove that a worker is one entry in pipeline.json plus
its handler: `add_to(config)` adds it to a copy of the config, `added_worker_handler` is its handler
(importable by the local stack's hosts once `tests/` is on their PYTHONPATH, see `on_host_path`).
Its step records the upload's SHA-256 and size under `checksum`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

STEP = "checksum"
FUNCTION = "checksum-worker"
RESULT_FIELD = "checksum"
QUEUE, DLQ = "checksum-queue", "checksum-dlq"
ENTRY = {
    "handler": "support.added_worker_handler.handler",
    "timeout_seconds": 20,
    "memory_mb": 256,
    "source": {
        "type": "worker",
        "step": STEP,
        "queue": QUEUE,
        "dlq": DLQ,
        "result_field": RESULT_FIELD,
        "batch_size": 4,
        "batching_window_seconds": 0,
        "visibility_timeout_seconds": 120,
        "max_receive_count": 3,
        "max_concurrency": 2,
        "retry_backoff_seconds": 0,
    },
}
TESTS_DIR = Path(__file__).resolve().parents[1]


def add_to(config: dict) -> None:
    config["functions"][FUNCTION] = ENTRY


def on_host_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the local stack's Lambda hosts (child processes) import the handler from tests/support."""
    paths = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
