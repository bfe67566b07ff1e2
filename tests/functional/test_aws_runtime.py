"""The handlers import with exactly what the AWS zips contain: no numpy, no onnxruntime, no model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pixelpipe.config import Resources, lambda_environment, settings

HANDLER_MODULES = {name: spec.handler for name, spec in settings().functions.items()}

# Imports of what `make package` leaves out fail, as they would in the zip.
_PROBE = """
import importlib, sys
for blocked in ("numpy", "onnxruntime"):
    sys.modules[blocked] = None
module = importlib.import_module(sys.argv[1])
assert callable(module.handler)
assert "numpy" not in [m for m in sys.modules if sys.modules[m] is not None]
print("ok")
"""


RESOURCES = Resources(
    table="jobs",
    topic_arn="arn:aws:sns:us-east-1:1:topic",
    state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:reconcile",
    upload_bucket="uploads",
    thumbnail_bucket="thumbnails",
)


@pytest.mark.parametrize("function", sorted(HANDLER_MODULES))
def test_each_handler_imports_with_the_aws_dependencies_only(function: str) -> None:
    env = {
        **lambda_environment(RESOURCES, function, label_backend="rekognition"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PATH": "/usr/bin:/bin",
    }
    module = HANDLER_MODULES[function].rpartition(".")[0]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# What a cold start must not load: each is either made on first use or not needed by that function.
# Checked by module presence, never by time (timings live in benchmarks/bench_cold_start.py).
_NOT_AT_IMPORT_ANYWHERE = (
    "boto3",  # pixelpipe.aws_clients imports it when the first client is made
    "botocore.client",
    "requests",  # X-Ray patches botocore only, not every library it knows
    "sqlite3",
    "httpx",
    "aws_lambda_powertools.utilities.parser.models",  # batch builds these if pydantic came first
)


def not_at_import(function: str) -> tuple[str, ...]:
    """A worker decodes images (Pillow may load at import) but loads the offline model only with its
    first image; a function that is not a worker decodes no image at all."""
    if settings().functions[function].source.type == "worker":
        return ("numpy", "onnxruntime")
    return ("PIL", "numpy", "onnxruntime")


_LOADED_PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
assert callable(module.handler)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("function", sorted(HANDLER_MODULES))
def test_importing_a_handler_with_tracing_on_loads_no_sdk_client_and_nothing_its_first_event_lacks(
    function: str, tmp_path
) -> None:
    # GIVEN the function's local-stack environment, as inside Lambda (LAMBDA_TASK_ROOT switches tracing on)
    env = {
        **lambda_environment(RESOURCES, function, label_backend="onnx"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }
    # WHEN its handler module is imported in a fresh interpreter
    module = HANDLER_MODULES[function].rpartition(".")[0]
    result = subprocess.run(
        [sys.executable, "-c", _LOADED_PROBE, module], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    # THEN none of what is made on first use, or never used by this function, was loaded
    unwanted = {*_NOT_AT_IMPORT_ANYWHERE, *not_at_import(function)}
    assert "aws_xray_sdk.core" in loaded  # the probe saw a traced import
    assert sorted(unwanted & loaded) == []
