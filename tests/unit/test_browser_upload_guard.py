"""The emulator's guard lets exactly one kind of browser request through: a signed HTML-form upload to the
upload bucket from a page on a loopback origin (the console's drop zone). Everything else a web page
sends stays refused (tests/functional/test_emulator_host_guard.py, tests/browser/test_cross_site_pages.py)."""

from __future__ import annotations

import pytest

from pixelpipe.config import settings
from pixelpipe_emulator.host_guard import browser_upload, refusal

PORT = 5055
BUCKET = f"/{settings().storage.upload_bucket}"
FORM = {
    "Host": f"127.0.0.1:{PORT}",
    "Origin": "http://127.0.0.1:8484",
    "Sec-Fetch-Site": "same-site",
    "Content-Type": "multipart/form-data; boundary=x",
}


def test_a_form_upload_from_the_console_origin_is_let_through():
    assert refusal(FORM, PORT) is not None  # what the guard alone says
    assert browser_upload("POST", BUCKET, FORM, PORT)


@pytest.mark.parametrize(
    ("method", "path", "changes"),
    [
        ("POST", BUCKET, {"Origin": "http://evil.example"}),
        ("POST", BUCKET, {"Origin": "http://127.0.0.1.evil.example:80"}),
        ("POST", BUCKET, {"Host": f"rebound.example:{PORT}"}),
        ("POST", BUCKET, {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", f"/{settings().storage.thumbnail_bucket}", {}),
        ("POST", f"{BUCKET}/uploads/x", {}),
        ("POST", "/moto-api/reset", {}),
        ("GET", BUCKET, {}),
        ("PUT", BUCKET, {}),
    ],
)
def test_anything_else_from_a_page_stays_refused(method: str, path: str, changes: dict[str, str]):
    assert not browser_upload(method, path, {**FORM, **changes}, PORT)
