"""`pixelpipe upload --api`: upload through the front door, as an app does (docs/api.md).

Ask `POST /uploads` for a presigned form, post the file straight to S3 with it, then follow
`GET /uploads/{id}` until the upload has its job id. Authentication, in order: `PIXELPIPE_API_TOKEN` (a
JWT for a stack with a JWT authorizer), the local stack's upload token (target.json), else SigV4 with the
caller's AWS credentials (the API's default IAM authorization, service `execute-api`).
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
from pathlib import Path
from typing import Any

import requests

from pixelpipe.logic.lifecycle import TERMINAL
from pixelpipe_cli.target import Target

TOKEN_ENV = "PIXELPIPE_API_TOKEN"


class ApiError(RuntimeError):
    """The front door or S3 refused; the message carries the status and the body's message."""


class ApiClient:
    def __init__(self, target: Target, role: str = "upload", session: requests.Session | None = None) -> None:
        if not target.api_url:
            raise ApiError("this target has no front door (api_url): redeploy, or run `pixelpipe up` again")
        self.target = target
        self.base = target.api_url.rstrip("/")
        self.token = os.environ.get(TOKEN_ENV) or target.api_tokens.get(role)
        self.http = session or requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base}{path}"
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        body = kwargs.pop("json", None)
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        else:
            headers = self._signed(method, url, headers, data)
        response = self.http.request(method, url, headers=headers, data=data, timeout=30, **kwargs)
        if response.status_code >= 300:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise ApiError(f"{method} {path}: {response.status_code} {message}")
        return response.json()

    def _signed(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> dict[str, str]:
        """SigV4 for the API's default IAM authorization."""
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise ApiError(f"no AWS credentials to sign with, and no {TOKEN_ENV}")
        request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.target.region).add_auth(request)
        return dict(request.headers.items())

    def upload(self, path: Path, timeout: float = 60) -> str:
        """Upload one file through a presigned form; its job id once S3 has the object."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        form = self.request("POST", "/uploads", json={"fileName": path.name, "contentType": content_type})
        with path.open("rb") as data:
            stored = self.http.post(
                form["url"], data=form["fields"], files={"file": (path.name, data, content_type)}, timeout=300
            )
        if stored.status_code >= 300:
            raise ApiError(f"S3 refused {path.name}: {stored.status_code} {_s3_error(stored.text)}")
        deadline = time.monotonic() + timeout
        while True:
            status = self.request("GET", form["status"])
            if status.get("jobId"):
                return status["jobId"]
            if time.monotonic() > deadline:
                raise ApiError(f"{path.name} was stored but S3 never reported it ({form['key']})")
            time.sleep(0.2)

    def job(self, job_id: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/jobs/{job_id}")
        except ApiError as error:
            if ": 404 " in str(error):
                return None
            raise

    def wait(self, job_ids: list[str], timeout: float = 300) -> dict[str, dict[str, Any] | None]:
        records: dict[str, dict[str, Any] | None] = dict.fromkeys(job_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for job_id in job_ids:
                if not (records[job_id] and records[job_id]["status"] in TERMINAL):
                    records[job_id] = self.job(job_id)
            if all(r and r["status"] in TERMINAL for r in records.values()):
                break
            time.sleep(0.5)
        return records


def _s3_error(text: str) -> str:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return text[:200]
    return f"{root.findtext('Code')}: {root.findtext('Message')}"
