"""analysis-worker: `ai-analysis-queue` → labels (Rekognition on AWS, offline model locally) → reconcile."""

from __future__ import annotations

# First, before anything loads pydantic (pixelpipe.config does): see worker_runtime's docstring.
from pixelpipe.handlers.worker_runtime import build_worker_handler  # isort: skip

from functools import partial
from typing import TYPE_CHECKING

from pixelpipe.adapters.storage import Storage
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.labels import Label, LabelBackend
from pixelpipe.tracing import subsegment

if TYPE_CHECKING:
    from PIL.Image import Image

_settings = lambda_settings()
_labels = _settings.pipeline.labels


def _backend(name: str) -> LabelBackend:
    if name == "rekognition":
        from pixelpipe.adapters.rekognition_labels import RekognitionLabels

        return RekognitionLabels(LazyClient("rekognition"), _labels.max_side)
    if name == "onnx":
        from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels

        return OnnxImageNetLabels()
    raise AssertionError(f"label backend {name!r} passed validation but has no adapter")


class TracedBackend:
    """The label backend, made on first use, and its model call as its own subsegment (Rekognition
    calls are traced by the SDK anyway). Made once, lazily: the offline backend brings numpy and
    onnxruntime, a cold-start cost only the first image needs to pay."""

    def __init__(self, backend_name: str) -> None:
        self._backend_name = backend_name
        self._backend: LabelBackend | None = None

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        if self._backend is None:
            self._backend = _backend(self._backend_name)
        with subsegment(f"labels {self._backend.name}"):
            return self._backend.detect(image, max_labels, min_confidence)


_backend_name = _settings.worker.label_backend

handler = build_worker_handler(
    "analysis",
    partial(
        detect_labels,
        storage=Storage(LazyClient("s3")),
        backend=TracedBackend(_backend_name),
        settings=LabelSettings(
            max_labels=_labels.max_labels,
            min_confidence=_labels.min_confidence[_backend_name],
            max_side=_labels.max_side,
        ),
        limits=ImageLimits.from_config(_settings.pipeline.limits),
    ),
)
