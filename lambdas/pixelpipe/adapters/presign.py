"""Presigned S3 requests: the upload form (POST policy) and the thumbnails' GET URLs.

Presigning makes no AWS call: boto3 signs with the function's own credentials, so S3 checks the
*function's* permissions when the form or URL is used (s3:PutObject on the upload prefix, s3:GetObject
on the thumbnails). The least-privilege test counts them from what this adapter signs
(`signed_actions`), since the call recorder sees no request.
"""

from __future__ import annotations

from typing import Any

from pixelpipe.logic.uploads import UploadRequest

# What S3 checks, against the signer's permissions, when a presigned request is used.
SIGNED_ACTIONS = {"post": "s3:PutObject", "get_url": "s3:GetObject"}


class Presigner:
    """Signs with SigV4 (`s3v4`): boto3 still signs a us-east-1 presigned POST with SigV2 unless told,
    and S3 refuses SigV2 in every region opened since 2014 (the local emulator refuses it too)."""

    def __init__(self, client: Any = None) -> None:
        self._given = client
        self._made: Any = None

    @property
    def _client(self) -> Any:
        if self._given is not None:
            return self._given
        if self._made is None:
            import boto3  # on first use, like aws_clients.LazyClient
            from botocore.config import Config

            from pixelpipe.tracing import trace_aws_sdk

            trace_aws_sdk()
            self._made = boto3.client("s3", config=Config(signature_version="s3v4"))
        return self._made

    def post(self, request: UploadRequest) -> dict[str, Any]:
        """`{"url", "fields"}` for an HTML-form POST of one object (the policy lists every field)."""
        return self._client.generate_presigned_post(
            Bucket=request.bucket,
            Key=request.key,
            Fields=request.fields(),
            Conditions=request.conditions(),
            ExpiresIn=request.expires_in,
        )

    def get_url(self, bucket: str, key: str, expires_in: int) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
