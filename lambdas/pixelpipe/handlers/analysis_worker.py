"""analysis-worker: `ai-analysis-queue` → labels (Rekognition on AWS, offline model locally) → reconcile."""

from functools import partial

import boto3
from PIL.Image import Image

from pixelpipe.adapters.storage import Storage
from pixelpipe.config import lambda_settings
from pixelpipe.handlers.worker_runtime import build_worker_handler
from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.labels import Label, LabelBackend
from pixelpipe.tracing import subsegment

_settings = lambda_settings()
_labels = _settings.pipeline.labels


def _backend(name: str) -> LabelBackend:
    if name == "rekognition":
        from pixelpipe.adapters.rekognition_labels import RekognitionLabels

        return RekognitionLabels(boto3.client("rekognition"), _labels.max_side)
    if name == "onnx":
        from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels

        return OnnxImageNetLabels()
    raise AssertionError(f"label backend {name!r} passed validation but has no adapter")


class TracedBackend:
    """The model call as its own subsegment (Rekognition calls are traced by the SDK anyway)."""

    def __init__(self, backend: LabelBackend) -> None:
        self._backend = backend
        self.name = backend.name

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        with subsegment(f"labels {self.name}"):
            return self._backend.detect(image, max_labels, min_confidence)


_backend_name = _settings.worker.label_backend

handler = build_worker_handler(
    "analysis",
    partial(
        detect_labels,
        storage=Storage(boto3.client("s3")),
        backend=TracedBackend(_backend(_backend_name)),
        settings=LabelSettings(
            max_labels=_labels.max_labels,
            min_confidence=_labels.min_confidence[_backend_name],
            max_side=_labels.max_side,
        ),
        limits=ImageLimits.from_config(_settings.pipeline.limits.model_dump()),
    ),
)
