"""A test's own copy of pipeline.json: change it, point PIXELPIPE_CONFIG_FILE at it, and everything that
reads the config (the Lambdas, the local stack, the CLI, the Terraform model) reads the changed copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pixelpipe.config import FunctionConfig, config_path


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
    config = json.loads(config_path().read_text())
    change(config)
    monkeypatch.setenv("PIXELPIPE_CONFIG_FILE", str(write_config(tmp_path, config)))
    return config
