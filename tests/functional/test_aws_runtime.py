"""The handlers import with exactly what the AWS zips contain: no numpy, no onnxruntime, no model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pixelpipe.config import Resources, lambda_environment, pipeline_config, workers

HANDLER_MODULES = {
    **{name: spec["handler"] for name, spec in pipeline_config()["functions"].items()},
    **{worker.function: worker.handler for worker in workers().values()},
}

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


@pytest.mark.parametrize("function", sorted(HANDLER_MODULES))
def test_each_handler_imports_with_the_aws_dependencies_only(function: str) -> None:
    resources = Resources(
        table="jobs",
        topic_arn="arn:aws:sns:us-east-1:1:topic",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:reconcile",
        upload_bucket="uploads",
        thumbnail_bucket="thumbnails",
    )
    env = {
        **lambda_environment(resources, function, label_backend="rekognition"),
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
