"""Uploads through the front door: a server-chosen key and the presigned POST's conditions.

The client never names the object: the key is `upload_prefix` + a random upload id, and the client's file
name travels as data in `x-amz-meta-filename` (percent-encoded: S3 metadata is ASCII), as does the caller's
identity in `x-amz-meta-owner`, both fixed by exact-match conditions so the form cannot be edited to claim
another owner or another key. S3 (and the local emulator, `pixelpipe_emulator.post_policy`) enforce the
conditions; dispatch copies the two fields onto the job record.

The job id cannot be known in advance: it derives from the object's version (docs/job-record.md), which
S3 assigns at upload. The upload id is the handle instead: `GET /uploads/{uploadId}` reads the object's
version with HEAD and answers with the job id dispatch gives it (`upload_job_id`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from pixelpipe.logic.jobs import SourceObject, job_id_for

OWNER_FIELD = "x-amz-meta-owner"
FILENAME_FIELD = "x-amz-meta-filename"
# The metadata keys as HEAD returns them (without the x-amz-meta- prefix, lower case).
OWNER_METADATA = OWNER_FIELD.removeprefix("x-amz-meta-")
FILENAME_METADATA = FILENAME_FIELD.removeprefix("x-amz-meta-")

# Each allowed format's Content-Type (IANA / Pillow's Image.MIME; tests/unit/test_api_logic.py holds
# this to Pillow's registry for every format pipeline.json allows).
IMAGE_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "AVIF": "image/avif",
}
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_FILE_NAME_CHARS = 255


def allowed_content_types(allowed_formats: list[str]) -> list[str]:
    """The Content-Types an upload may declare: those of `limits.allowed_formats`."""
    return [IMAGE_CONTENT_TYPES[f] for f in allowed_formats if f in IMAGE_CONTENT_TYPES]


def new_upload_id() -> str:
    return uuid.uuid4().hex


def is_upload_id(value: str) -> bool:
    return bool(_UPLOAD_ID.match(value))


def upload_key(upload_prefix: str, upload_id: str) -> str:
    return f"{upload_prefix}{upload_id}"


def encode_metadata(value: str) -> str:
    """ASCII for an S3 metadata value, reversible: percent-encoding of everything but a safe set."""
    return quote(value, safe=":/@+=,._-")


def decode_metadata(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


@dataclass(frozen=True)
class UploadRequest:
    bucket: str
    key: str
    content_type: str
    owner: str
    file_name: str
    max_bytes: int
    expires_in: int

    def fields(self) -> dict[str, str]:
        """The form fields the client sends back unchanged (boto3 adds the policy and signature)."""
        return {
            "Content-Type": self.content_type,
            OWNER_FIELD: encode_metadata(self.owner),
            FILENAME_FIELD: encode_metadata(self.file_name),
        }

    def conditions(self) -> list[Any]:
        """The policy's conditions: exactly this key, this type, this owner and name, 1..max_bytes."""
        return [
            {"key": self.key},
            *({name: value} for name, value in self.fields().items()),
            ["content-length-range", 1, self.max_bytes],
        ]


def upload_job_id(bucket: str, key: str, head: dict[str, Any]) -> str:
    """The job id dispatch gives this object (logic/dispatch.py: the version, else the ETag)."""
    source = SourceObject(
        bucket=bucket,
        key=key,
        size=int(head.get("ContentLength", 0)),
        etag=str(head.get("ETag", "")).strip('"'),
        version_id=head.get("VersionId"),
    )
    return job_id_for(source)


def uploader_of(head: dict[str, Any]) -> tuple[str | None, str | None]:
    """(owner, file name) an upload's metadata names; None for an object not uploaded through the API."""
    metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    return decode_metadata(metadata.get(OWNER_METADATA)), decode_metadata(metadata.get(FILENAME_METADATA))
