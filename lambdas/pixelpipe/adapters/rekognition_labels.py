"""Amazon Rekognition DetectLabels as a label backend (the one deployed on AWS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import encode_jpeg
from pixelpipe.logic.labels import Label

if TYPE_CHECKING:
    from PIL.Image import Image

# DetectLabels takes JPEG or PNG up to 5 MB as bytes: send a JPEG of at most `max_side` pixels, capped.
_QUALITY, _MAX_BYTES = 90, 5 * 1024 * 1024
_PERMANENT_CODES = {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}


class RekognitionLabels:
    name = "rekognition"

    def __init__(self, client: Any, max_side: int) -> None:
        self._client = client
        self._max_side = max_side

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        try:
            response = self._client.detect_labels(
                Image={"Bytes": encode_jpeg(image, self._max_side, _QUALITY, max_bytes=_MAX_BYTES)},
                MaxLabels=max_labels,
                MinConfidence=min_confidence,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in _PERMANENT_CODES:
                raise PermanentError(
                    f"Rekognition refused the image: {error.response['Error']['Message']}"
                ) from error
            raise  # throttling and service errors: let SQS retry
        labels = [Label(item["Name"], float(item["Confidence"])) for item in response.get("Labels", [])]
        return sorted(labels, key=lambda label: label.confidence, reverse=True)[:max_labels]
