"""The emulator holds presigned POST uploads to S3's policy rules (moto alone stores every one of them).

Each refused form gets S3's status, XML error code and message, and stores nothing; the valid form is
stored with its metadata. Before `post_policy` every one of these uploads answered 204 and was stored.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelpipe_emulator.post_policy import Refusal, check_form
from support.emulator import Emulator, emulator_process

BUCKET = "post-policy-test"
KEY = "uploads/0123456789abcdef0123456789abcdef"
LIMIT = 1000


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_process(tmp_path_factory.mktemp("post-policy")) as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running


def form(emulator: Emulator, expires_in: int = 60, **overrides: str) -> tuple[str, dict[str, str]]:
    fields = {"Content-Type": "image/png", "x-amz-meta-owner": "alice"}
    presigned = emulator.client("s3", signature_version="s3v4").generate_presigned_post(
        Bucket=BUCKET,
        Key=KEY,
        Fields=fields,
        Conditions=[
            {"key": KEY},
            {"Content-Type": "image/png"},
            {"x-amz-meta-owner": "alice"},
            ["content-length-range", 1, LIMIT],
        ],
        ExpiresIn=expires_in,
    )
    return presigned["url"], {**presigned["fields"], **overrides}


def post(url: str, fields: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(url, data=fields, files={"file": ("cat.png", data, "image/png")}, timeout=10)


def error_of(response: requests.Response) -> tuple[str, str]:
    root = ET.fromstring(response.content)
    return root.findtext("Code") or "", root.findtext("Message") or ""


def stored(emulator: Emulator) -> bool:
    return emulator.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) > 0


def clear(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def test_a_file_over_the_content_length_range_gets_entity_too_large_and_nothing_is_stored(emulator: Emulator):
    clear(emulator)
    url, fields = form(emulator)
    response = post(url, fields, b"x" * (LIMIT + 1))
    assert response.status_code == 400
    assert error_of(response)[0] == "EntityTooLarge"
    assert ET.fromstring(response.content).findtext("MaxSizeAllowed") == str(LIMIT)
    assert not stored(emulator)


def test_an_empty_file_gets_entity_too_small(emulator: Emulator):
    clear(emulator)
    url, fields = form(emulator)
    response = post(url, fields, b"")
    assert (response.status_code, error_of(response)[0]) == (400, "EntityTooSmall")
    assert not stored(emulator)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"Content-Type": "text/html"}, 'Policy Condition failed: ["eq", "$Content-Type", "image/png"]'),
        ({"key": "elsewhere/evil.png"}, f'Policy Condition failed: ["eq", "$key", "{KEY}"]'),
        ({"x-amz-meta-owner": "mallory"}, 'Policy Condition failed: ["eq", "$x-amz-meta-owner", "alice"]'),
        ({"x-amz-meta-extra": "1"}, "Extra input fields: x-amz-meta-extra"),
    ],
)
def test_a_form_edited_against_its_policy_is_refused_with_access_denied(
    emulator: Emulator, override, expected
):
    clear(emulator)
    url, fields = form(emulator, **override)
    response = post(url, fields, b"png")
    assert response.status_code == 403
    assert error_of(response) == ("AccessDenied", f"Invalid according to Policy: {expected}")
    assert not stored(emulator)


def test_an_expired_form_is_refused(emulator: Emulator):
    clear(emulator)
    url, fields = form(emulator, expires_in=-5)
    response = post(url, fields, b"png")
    assert (response.status_code, error_of(response)) == (
        403,
        ("AccessDenied", "Invalid according to Policy: Policy expired."),
    )
    assert not stored(emulator)


def test_a_policy_rewritten_without_its_signature_is_refused(emulator: Emulator):
    clear(emulator)
    url, fields = form(emulator)
    _, other = form(emulator, expires_in=3600)
    fields["policy"] = other["policy"]  # a longer-lived policy under the first form's signature
    response = post(url, fields, b"png")
    assert (response.status_code, error_of(response)[0]) == (403, "SignatureDoesNotMatch")
    assert not stored(emulator)


def test_the_valid_form_is_stored_with_its_metadata(emulator: Emulator):
    clear(emulator)
    url, fields = form(emulator)
    response = post(url, fields, b"png-bytes")
    assert response.status_code == 204, response.text
    head = emulator.client("s3").head_object(Bucket=BUCKET, Key=KEY)
    assert head["ContentLength"] == len(b"png-bytes")
    assert head["Metadata"]["owner"] == "alice"


NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=6), size=st.integers(0, 10**9)
)
def test_any_form_is_answered_with_an_s3_refusal_or_accepted_never_an_exception(fields, size):
    """Fuzz: whatever a client puts in a form, the checker refuses in S3's terms (or accepts); it never
    crashes the emulator's request thread (which would answer 500)."""
    try:
        check_form(fields, BUCKET, KEY, size, now=NOW)
    except Refusal as refusal:
        assert refusal.status in (400, 403)


def test_unsigned_forms_are_refused(tmp_path: Path):
    with pytest.raises(Refusal) as refused:
        check_form({"key": KEY}, BUCKET, KEY, 10, now=NOW)
    assert refused.value.code == "AccessDenied"


def test_an_accepted_forms_notification_goes_out_after_its_metadata_is_stored(
    monkeypatch: pytest.MonkeyPatch,
):
    """moto notifies inside put_object and sets a form's metadata after: dispatch could HEAD the object
    without its owner. Checked in-process, at the moment the notification is sent."""
    from moto.s3 import models as s3_models
    from moto.s3 import notifications
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    from pixelpipe_emulator import post_policy
    from support.emulator import free_loopback_port

    monkeypatch.setattr(S3Response, "_bucket_response_post", S3Response._bucket_response_post)
    monkeypatch.setattr(s3_models.S3Backend, "put_object", s3_models.S3Backend.put_object)
    post_policy.install()
    seen: list[tuple[str, dict]] = []
    send = notifications.send_event
    monkeypatch.setattr(
        notifications,
        "send_event",
        lambda account, event, bucket, key: (
            seen.append((event, dict(key.metadata))),
            send(account, event, bucket, key),
        ),
    )
    port = free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(signature_version="s3v4"),
        )
        s3.create_bucket(Bucket=BUCKET)
        presigned = s3.generate_presigned_post(
            Bucket=BUCKET,
            Key=KEY,
            Fields={"x-amz-meta-owner": "alice"},
            Conditions=[{"key": KEY}, {"x-amz-meta-owner": "alice"}],
            ExpiresIn=60,
        )
        assert post(presigned["url"], presigned["fields"], b"png").status_code == 204
    finally:
        server.stop()
    posts = [m for event, m in seen if event == notifications.S3NotificationEvent.OBJECT_CREATED_POST_EVENT]
    assert len(posts) == 1 and posts[0].get("x-amz-meta-owner") == "alice", seen
