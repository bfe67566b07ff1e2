"""The resize step: one decode of the original, every configured thumbnail written to S3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pixelpipe.logic.images import ImageLimits, make_thumbnails
from pixelpipe.logic.job_message import JobMessage

if TYPE_CHECKING:
    from pixelpipe.config import StorageConfig, ThumbnailsConfig

_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class ReadsAndWritesObjects(Protocol):
    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes: ...
    def write(self, bucket: str, key: str, data: bytes, image_format: str) -> None: ...


@dataclass(frozen=True)
class ThumbnailSettings:
    sizes: tuple[int, ...]
    image_format: str
    quality: int
    bucket: str
    prefix: str

    @classmethod
    def from_config(
        cls, thumbnails: ThumbnailsConfig, storage: StorageConfig, bucket: str
    ) -> ThumbnailSettings:
        """pipeline.json's thumbnail sizes and format, written under its prefix in the deployed `bucket`."""
        return cls(
            tuple(thumbnails.sizes), thumbnails.format, thumbnails.quality, bucket, storage.thumbnail_prefix
        )

    def key_for(self, job_id: str, size: int) -> str:
        return f"{self.prefix}{job_id}/{size}.{_EXTENSIONS.get(self.image_format, self.image_format.lower())}"


def create_thumbnails(
    message: JobMessage, storage: ReadsAndWritesObjects, settings: ThumbnailSettings, limits: ImageLimits
) -> list[dict[str, Any]]:
    """Thumbnails for one job; keys are deterministic, so a redelivery overwrites rather than duplicates."""
    data = storage.read(message.bucket, message.key, message.version_id, limits.max_input_bytes)
    results = []
    for thumb in make_thumbnails(data, settings.sizes, settings.image_format, settings.quality, limits):
        key = settings.key_for(message.job_id, thumb.size)
        storage.write(settings.bucket, key, thumb.data, thumb.format)
        results.append(
            {
                "size": thumb.size,
                "key": key,
                "width": thumb.width,
                "height": thumb.height,
                "bytes": len(thumb.data),
                "format": thumb.format,
            }
        )
    return results
