"""analysis-worker: `ai-analysis-queue` → labels (Rekognition on AWS, offline model locally) → reconcile."""

import os
from functools import partial

import boto3

from pixelpipe.adapters.storage import Storage
from pixelpipe.config import ENV_LABEL_BACKEND, pipeline_config
from pixelpipe.handlers.worker_runtime import build_worker_handler
from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.labels import LabelBackend

_config = pipeline_config()


def _backend(name: str) -> LabelBackend:
    if name == "rekognition":
        from pixelpipe.adapters.rekognition_labels import RekognitionLabels

        return RekognitionLabels(boto3.client("rekognition"))
    if name == "onnx":
        from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels

        return OnnxImageNetLabels()
    raise RuntimeError(f"{ENV_LABEL_BACKEND} must be 'rekognition' or 'onnx', not {name!r}")


_backend_name = os.environ.get(ENV_LABEL_BACKEND, "rekognition")

handler = build_worker_handler(
    "analysis",
    partial(
        detect_labels,
        storage=Storage(boto3.client("s3")),
        backend=_backend(_backend_name),
        settings=LabelSettings(
            _config["labels"]["max_labels"], _config["labels"]["min_confidence"][_backend_name]
        ),
        limits=ImageLimits.from_config(_config["limits"]),
    ),
)
