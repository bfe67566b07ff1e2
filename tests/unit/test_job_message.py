"""Worker bodies read strictly (pixelpipe.logic.job_message): what passes, and the reason for what doesn't."""

from __future__ import annotations

import json

import pytest

from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.job_message import JobMessage, MalformedMessage, parse_job_message

GOOD = {
    "job_id": "job-1",
    "bucket": "uploads",
    "key": "uploads/cat.jpg",
    "version_id": None,
    "steps": ["resize"],
}


def test_the_body_dispatch_publishes_is_read_back_whole():
    message = JobMessage("job-1", "uploads", "uploads/café + cat.jpg", "3HL4kq", ["resize", "analysis"])
    assert parse_job_message(message.to_json()) == message


@pytest.mark.parametrize(
    ("body", "reason", "job_id"),
    [
        ("{not json", "malformed message: Invalid JSON", None),
        ("", "malformed message: Invalid JSON", None),
        (
            json.dumps(GOOD | {"job_id": ""}),
            "malformed message: job_id: String should have at least 1 character",
            None,
        ),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "key"}),
            "malformed message: key: Field required",
            "job-1",
        ),
        (
            json.dumps(GOOD | {"steps": [1]}),
            "malformed message: steps.0: Input should be a valid string",
            "job-1",
        ),
        (
            json.dumps(GOOD | {"bucket": 3, "key": None}),
            "malformed message: bucket: Input should be a valid string; key:",
            "job-1",
        ),
    ],
    ids=["not-json", "empty", "empty-job-id", "no-key", "step-not-a-string", "two-bad-fields"],
)
def test_a_malformed_body_is_permanent_names_the_field_and_keeps_a_readable_job_id(body, reason, job_id):
    with pytest.raises(MalformedMessage) as caught:
        parse_job_message(body)
    assert caught.value.reason.startswith(reason)
    assert caught.value.job_id == job_id
    assert isinstance(caught.value, PermanentError)


def test_the_reason_never_echoes_the_body():
    # GIVEN a body carrying markup where a string belongs; THEN the reason names the field, not the value
    with pytest.raises(MalformedMessage) as caught:
        parse_job_message(json.dumps(GOOD | {"key": {"<script>": "alert(1)"}}))
    assert "key" in caught.value.reason and "<script>" not in caught.value.reason
