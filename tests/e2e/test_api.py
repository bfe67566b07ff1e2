"""The front door on the local stack, through a real HTTP client (requests) as an app would use it.

Every route end to end, and each bad input with its documented status and body (docs/api.md): an
upload over the size limit gets S3's EntityTooLarge and makes no job, a wrong type, an edited or
expired form, a key outside the upload prefix, an unknown id, a malformed cursor, a missing or wrong
token, a flood.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from pixelpipe.adapters.presign import Presigner
from pixelpipe.config import settings
from pixelpipe.logic.uploads import UploadRequest
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli, wait_until

pytestmark = pytest.mark.e2e

THIRTY_MB = 30 * 1024 * 1024


def auth(stack: LocalStack, role: str = "upload") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.target.api_tokens[role]}"}


def api(
    stack: LocalStack, method: str, path: str, role: str | None = "upload", **kwargs: Any
) -> requests.Response:
    headers = auth(stack, role) if role else {}
    return requests.request(method, f"{stack.target.api_url}{path}", headers=headers, timeout=30, **kwargs)


def new_form(
    stack: LocalStack, file_name: str = "cat.png", content_type: str = "image/png"
) -> dict[str, Any]:
    response = api(stack, "POST", "/uploads", json={"fileName": file_name, "contentType": content_type})
    assert response.status_code == 201, response.text
    return response.json()


def send(form: dict[str, Any], data: bytes, **field_changes: str) -> requests.Response:
    fields = {**form["fields"], **field_changes}
    content_type = fields.get("Content-Type", "application/octet-stream")
    return requests.post(form["url"], data=fields, files={"file": ("x", data, content_type)}, timeout=60)


def s3_error(response: requests.Response) -> str:
    return ET.fromstring(response.content).findtext("Code") or ""


def wait_for_job(stack: LocalStack, form: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status = api(stack, "GET", form["status"]).json()
        job = status.get("job")
        return status if job and job["status"] != "PENDING" else None

    return wait_until(finished, timeout)


def no_job_for(stack: LocalStack, key: str) -> bool:
    jobs = JobsClient(stack.target).list(limit=1000)
    return all(job["source"]["key"] != key for job in jobs)


def test_upload_through_the_front_door_then_read_the_job_its_thumbnails_and_labels(stack: LocalStack):
    # GIVEN a presigned form for a photo, asked for with the upload token
    form = new_form(stack, file_name="chat tigré.png")
    assert form["key"].startswith(settings().storage.upload_prefix) and "chat" not in form["key"]
    assert form["maxBytes"] == settings().limits.max_input_bytes
    # WHEN the app posts the file straight to S3 and polls the upload's status
    assert send(form, (SAMPLES / "cat.png").read_bytes()).status_code == 204
    status = wait_for_job(stack, form)
    # THEN the job is COMPLETE, with the client's file name kept as data
    job = api(stack, "GET", f"/jobs/{status['jobId']}").json()
    assert job["status"] == "COMPLETE"
    assert job["source"]["fileName"] == "chat tigré.png" and job["source"]["key"] == form["key"]
    assert job["labels"] and {"traceId", "history", "owner"}.isdisjoint(job)
    # AND each thumbnail URL serves the JPEG it names, without credentials
    for thumbnail in job["thumbnails"]:
        image = requests.get(thumbnail["url"], timeout=30)
        assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
        assert len(image.content) == thumbnail["bytes"]


def test_a_30_mb_upload_gets_s3s_size_error_and_no_job_appears(stack: LocalStack):
    form = new_form(stack)
    response = send(form, b"\xff\xd8\xff" + b"\0" * (THIRTY_MB - 3))
    assert response.status_code == 400 and s3_error(response) == "EntityTooLarge"
    time.sleep(2)  # what dispatch would need to make a job, had the object been stored
    assert api(stack, "GET", form["status"]).json()["uploaded"] is False
    assert no_job_for(stack, form["key"])


def test_only_the_accepted_image_types_get_a_form(stack: LocalStack):
    response = api(stack, "POST", "/uploads", json={"fileName": "page.html", "contentType": "text/html"})
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest" and "image/png" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ("a content type the form was not signed for", "Content-Type", "text/html"),
        ("a key outside the upload prefix", "key", "elsewhere/evil.png"),
        ("another owner", "x-amz-meta-owner", "someone-else"),
    ],
)
def test_a_form_edited_by_the_client_is_refused_by_s3_and_makes_no_job(
    stack: LocalStack, change: str, field: str, value: str
):
    form = new_form(stack)
    response = send(form, (SAMPLES / "cat.png").read_bytes(), **{field: value})
    assert response.status_code == 403 and s3_error(response) == "AccessDenied", change
    assert b"Invalid according to Policy" in response.content
    time.sleep(1)
    assert no_job_for(stack, form["key"]) and no_job_for(stack, value)


def test_an_expired_form_is_refused(stack: LocalStack):
    # A form exactly as the api function signs it (same adapter, same local credentials), living 1 s.
    request = UploadRequest(
        bucket=stack.target.upload_bucket,
        key=f"{settings().storage.upload_prefix}{'e' * 32}",
        content_type="image/png",
        owner="pixelpipe-local#local-upload",
        file_name="late.png",
        max_bytes=settings().limits.max_input_bytes,
        expires_in=1,
    )
    signer = Presigner(
        boto3.client(
            "s3",
            region_name=stack.target.region,
            endpoint_url=stack.target.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(signature_version="s3v4"),
        )
    )
    form = signer.post(request)
    time.sleep(2.5)
    response = send({"url": form["url"], "fields": form["fields"]}, b"png")
    assert response.status_code == 403
    assert (
        ET.fromstring(response.content).findtext("Message") == "Invalid according to Policy: Policy expired."
    )


def test_unknown_ids_are_404_and_an_upload_not_yet_sent_says_so(stack: LocalStack):
    missing = api(stack, "GET", "/jobs/00000000-0000-5000-8000-000000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "NotFound")
    assert api(stack, "GET", "/uploads/not-an-upload-id").status_code == 404
    form = new_form(stack)
    pending = api(stack, "GET", form["status"])
    assert pending.status_code == 200 and pending.json()["uploaded"] is False
    assert api(stack, "GET", "/no/such/route").status_code == 404


def test_a_malformed_cursor_is_400_and_pages_chain_with_the_cursor(stack: LocalStack):
    for cursor in ("zzz", "e30", "eyJqb2JJZCI6MX0", "%00", "a" * 3000):
        response = api(
            stack, "GET", "/jobs", role="operator", params={"status": "COMPLETE", "cursor": cursor}
        )
        assert response.status_code == 400, (cursor, response.text)
    bad_status = api(stack, "GET", "/jobs", role="operator", params={"status": "DONE"})
    assert bad_status.status_code == 400
    first = api(stack, "GET", "/jobs", role="operator", params={"status": "COMPLETE"})
    assert first.status_code == 200 and isinstance(first.json()["jobs"], list)


def test_tokens_and_scopes(stack: LocalStack):
    # no token, a wrong token: API Gateway's 401
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{stack.target.api_url}/jobs?status=FAILED", headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    # the upload scope neither lists every job nor retries
    assert api(stack, "GET", "/jobs", params={"status": "FAILED"}).status_code == 403
    assert api(stack, "POST", "/jobs/x/retry").status_code == 403
    # and reads only its own uploads: a job the operator's CLI uploaded is not found for it
    job_id = JobsClient(stack.target).upload(SAMPLES / "cat.png", key_name="cli-upload.png")
    wait_until(lambda: JobsClient(stack.target).get(job_id), 30)
    assert api(stack, "GET", f"/jobs/{job_id}").status_code == 404
    assert api(stack, "GET", f"/jobs/{job_id}", role="operator").status_code == 200


def test_an_operator_retries_a_job_through_the_api(stack: LocalStack):
    form = new_form(stack)
    send(form, (SAMPLES / "cat.png").read_bytes())
    job_id = wait_for_job(stack, form)["jobId"]
    refused = api(stack, "POST", f"/jobs/{job_id}/retry", role="operator")
    assert refused.status_code == 409  # COMPLETE: only with force
    assert api(stack, "POST", f"/jobs/{job_id}/retry?step=nope", role="operator").status_code == 400
    retried = api(stack, "POST", f"/jobs/{job_id}/retry?step=resize&force=true", role="operator")
    assert retried.status_code == 200 and retried.json()["steps"] == ["resize"]
    job = wait_until(
        lambda: (j := api(stack, "GET", f"/jobs/{job_id}").json())["status"] != "PENDING" and j, 60
    )
    assert job["status"] == "COMPLETE" and job["steps"]["resize"]["attempts"] == 2


def test_a_flood_gets_429_from_the_stage_throttle(stack: LocalStack):
    # Unauthenticated requests: the stage throttles before the authorizer, as API Gateway does, and a
    # 401 costs the gateway next to nothing, so the flood outruns the refill however busy the machine is
    # (a flood of handled requests could be slower than the refill rate on a loaded box, and see no 429).
    throttling = settings().api.throttling
    url = f"{stack.target.api_url}/jobs"
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(lambda _: requests.get(url, timeout=30).status_code, range(throttling.burst * 3))
        )
    assert 429 in statuses and 401 in statuses
    assert set(statuses) <= {401, 429}
    time.sleep(throttling.burst / throttling.rate_per_second + 1)  # the bucket refills for the next test


def test_the_openapi_document_describes_every_route(stack: LocalStack):
    document = requests.get(f"{stack.target.api_url}/openapi.json", timeout=10).json()
    assert {"/uploads", "/uploads/{upload_id}", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/retry"} <= set(
        document["paths"]
    )


def test_pixelpipe_upload_api_goes_through_the_front_door_and_shows_s3s_refusal(stack: LocalStack, tmp_path):
    # GIVEN the CLI pointed at the local stack, WHEN it uploads a photo through the API and waits
    result = cli(stack, "upload", "--api", str(SAMPLES / "cat.png"), "--wait", "--json")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    # THEN the job is COMPLETE and was made from a server-chosen key, the file name kept as data
    assert record["status"] == "COMPLETE" and record["source"]["fileName"] == "cat.png"
    assert "cat.png" not in record["source"]["key"]
    # AND a file over the limit is refused by S3, with S3's words, and makes no job
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * THIRTY_MB)
    refused = cli(stack, "upload", "--api", str(big))
    assert refused.exit_code == 1 and "EntityTooLarge" in refused.output
