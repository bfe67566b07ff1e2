"""The jobs page's drop zone in chromium: files go through the front door (a presigned form from the API)
straight to S3 — never through the console — and the new job appears live; a file over the size limit is
refused by S3 in S3's words and makes no job; a file name is shown as text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e

THIRTY_MB = 30 * 1024 * 1024


def test_a_dropped_image_goes_straight_to_s3_and_its_job_appears_live(
    page: Any, console_url: str, console_stack: LocalStack, jobs_client: JobsClient
) -> None:
    # GIVEN the jobs page, watching every request the page makes
    posts: list[tuple[str, int]] = []  # (url, body size as Playwright sees it)
    page.on(
        "request",
        lambda r: posts.append((r.url, len(r.post_data_buffer or b""))) if r.method == "POST" else None,
    )
    page.goto(f"{console_url}/jobs")
    page.evaluate("window.notReloaded = true")
    # WHEN a photo is chosen in the drop zone, under a name that is markup
    name = "<b>chat</b>.png"
    page.locator("#drop-files").set_input_files(
        [{"name": name, "mimeType": "image/png", "buffer": (SAMPLES / "cat.png").read_bytes()}]
    )
    # THEN the page says it was uploaded, the name shown as text
    result = page.locator("#drop-results li.ok")
    expect(result).to_contain_text(f"{name}: uploaded as uploads/")
    key = result.inner_text().rsplit(" ", 1)[-1]
    # AND its job row appears and turns COMPLETE without a reload
    row = page.locator("#job-list tr", has_text=key.split("/", 1)[1])
    expect(row.locator(".badge")).to_have_text("COMPLETE", timeout=60_000)
    assert page.evaluate("window.notReloaded") is True
    # AND the image's bytes went from the page to S3 (its form POST, the object whole); the console only
    # got the small JSON request for the form (Playwright does not expose a multipart body's size)
    to_s3 = [url for url, _ in posts if url.startswith(console_stack.target.endpoint_url)]
    to_console = [n for url, n in posts if url.startswith(console_url)]
    assert to_s3 and to_console and max(to_console) < 1000
    head = console_stack.target.client("s3").head_object(Bucket=console_stack.target.upload_bucket, Key=key)
    assert head["ContentLength"] == (SAMPLES / "cat.png").stat().st_size
    job = next(j for j in jobs_client.list(limit=100) if j["source"]["key"] == key)
    assert job["source"]["fileName"] == name and job["owner"] == "pixelpipe-local#local-upload"


def test_a_dropped_file_over_the_limit_is_refused_by_s3_and_makes_no_job(
    page: Any, console_url: str, jobs_client: JobsClient
) -> None:
    page.goto(f"{console_url}/jobs")
    before = len(jobs_client.list(limit=1000))
    page.locator("#drop-files").set_input_files(
        [{"name": "huge.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * THIRTY_MB}]
    )
    expect(page.locator("#drop-results li.problem")).to_contain_text(
        "huge.png: refused by S3: EntityTooLarge", timeout=60_000
    )
    assert len(jobs_client.list(limit=1000)) == before
