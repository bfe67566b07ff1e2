"""The analysis step: validate and decode the original, then ask the label backend what it shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelpipe.logic.images import ImageLimits, open_image, to_rgb
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.labels import LabelBackend
from pixelpipe.logic.resize import ReadsAndWritesObjects


@dataclass(frozen=True)
class LabelSettings:
    max_labels: int
    min_confidence: float
    max_side: int  # no backend needs more pixels than this: large JPEGs decode at reduced scale


def detect_labels(
    message: JobMessage,
    storage: ReadsAndWritesObjects,
    backend: LabelBackend,
    settings: LabelSettings,
    limits: ImageLimits,
) -> list[dict[str, Any]]:
    data = storage.read(message.bucket, message.key, message.version_id, limits.max_input_bytes)
    image = to_rgb(open_image(data, limits, draft_longest_side=settings.max_side))
    labels = backend.detect(image, settings.max_labels, settings.min_confidence)
    return [label.to_record() for label in labels]
