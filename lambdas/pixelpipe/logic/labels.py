"""What a label is and what every label backend (Rekognition, the offline classifier) offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float  # percent, 0-100, as Rekognition reports it

    def to_record(self) -> dict:
        return {"name": self.name, "confidence": round(self.confidence, 2)}


class LabelBackend(Protocol):
    """Names what an image shows. `name` is recorded with the labels so a reader knows their source."""

    name: str

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        """Labels for an RGB image, most confident first, at most `max_labels`, each ≥ `min_confidence`."""
        ...
