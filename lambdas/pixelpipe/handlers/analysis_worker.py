"""analysis-worker: `ai-analysis-queue` → labels (Rekognition on AWS, offline model locally) → reconcile."""

import os
from functools import partial

import boto3
from PIL.Image import Image

from pixelpipe.adapters.storage import Storage
from pixelpipe.config import ENV_LABEL_BACKEND, pipeline_config
from pixelpipe.handlers.worker_runtime import build_worker_handler
from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.labels import Label, LabelBackend
from pixelpipe.tracing import subsegment

_config = pipeline_config()


def _backend(name: str) -> LabelBackend:
    if name == "rekognition":
        from pixelpipe.adapters.rekognition_labels import RekognitionLabels

        return RekognitionLabels(boto3.client("rekognition"), _config["labels"]["max_side"])
    if name == "onnx":
        from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels

        return OnnxImageNetLabels()
    raise RuntimeError(f"{ENV_LABEL_BACKEND} must be 'rekognition' or 'onnx', not {name!r}")


class TracedBackend:
    """The model call as its own subsegment (Rekognition calls are traced by the SDK anyway)."""

    def __init__(self, backend: LabelBackend) -> None:
        self._backend = backend
        self.name = backend.name

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        with subsegment(f"labels {self.name}"):
            return self._backend.detect(image, max_labels, min_confidence)


_backend_name = os.environ.get(ENV_LABEL_BACKEND, "rekognition")

handler = build_worker_handler(
    "analysis",
    partial(
        detect_labels,
        storage=Storage(boto3.client("s3")),
        backend=TracedBackend(_backend(_backend_name)),
        settings=LabelSettings(
            max_labels=_config["labels"]["max_labels"],
            min_confidence=_config["labels"]["min_confidence"][_backend_name],
            max_side=_config["labels"]["max_side"],
        ),
        limits=ImageLimits.from_config(_config["limits"]),
    ),
)
