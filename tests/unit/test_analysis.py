"""The analysis step's own logic: what it hands the label backend and what it records."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pixelpipe.logic.analysis import LabelSettings, detect_labels
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.labels import Label

LIMITS = ImageLimits(26_214_400, 40_000_000, ("JPEG", "PNG"))
SETTINGS = LabelSettings(max_labels=3, min_confidence=5, max_side=2048)
MESSAGE = JobMessage("job-1", "uploads", "uploads/photo.jpg", "v1", ["analysis"])


class OneObject:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes:
        return self.data

    def write(self, bucket: str, key: str, data: bytes, image_format: str) -> None:
        raise AssertionError("the analysis step writes nothing")


class RecordingBackend:
    name = "recording"

    def __init__(self) -> None:
        self.seen: list[Image.Image] = []

    def detect(self, image: Image.Image, max_labels: int, min_confidence: float) -> list[Label]:
        self.seen.append(image)
        return [Label("thing", 87.654)]


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_a_large_jpeg_reaches_the_backend_decoded_at_reduced_scale_but_not_below_max_side() -> None:
    # GIVEN a 24 MP JPEG and a 2048 px budget
    backend = RecordingBackend()
    # WHEN its labels are detected
    labels = detect_labels(MESSAGE, OneObject(jpeg(6000, 4000)), backend, SETTINGS, LIMITS)
    # THEN the backend got an RGB image at half scale (the smallest JPEG scale still ≥ 2048 px)
    (image,) = backend.seen
    assert image.mode == "RGB" and image.size == (3000, 2000)
    assert labels == [{"name": "thing", "confidence": 87.65}]


def test_a_small_image_reaches_the_backend_at_full_size() -> None:
    backend = RecordingBackend()
    detect_labels(MESSAGE, OneObject(jpeg(640, 480)), backend, SETTINGS, LIMITS)
    assert backend.seen[0].size == (640, 480)


def test_a_file_that_is_not_an_image_never_reaches_the_backend() -> None:
    backend = RecordingBackend()
    with pytest.raises(PermanentError, match="not an image"):
        detect_labels(MESSAGE, OneObject(b"hello, I am text\n" * 10), backend, SETTINGS, LIMITS)
    assert backend.seen == []
