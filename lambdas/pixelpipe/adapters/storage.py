"""S3 reads and writes: the uploaded original and the thumbnails."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.logic.errors import PermanentError

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class Storage:
    def __init__(self, client: Any) -> None:
        self._client = client

    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """Object metadata, or None when it is gone (deleted between upload and dispatch)."""
        kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        try:
            return self._client.head_object(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes:
        """The object's bytes, refusing before download anything larger than `max_bytes`."""
        kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        try:
            response = self._client.get_object(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion", "404"):
                raise PermanentError(f"source object is gone: s3://{bucket}/{key}") from error
            raise
        size = response["ContentLength"]
        if size > max_bytes:
            response["Body"].close()
            raise PermanentError(f"too large: {size} bytes exceeds the {max_bytes}-byte limit")
        return response["Body"].read()

    def write(self, bucket: str, key: str, data: bytes, image_format: str) -> None:
        self._client.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=_CONTENT_TYPES.get(image_format, "application/octet-stream"),
        )
