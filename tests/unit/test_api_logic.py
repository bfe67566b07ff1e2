"""The front door's pure rules: content types, upload conditions, cursors, callers, the local gateway's
event and throttle."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pixelpipe.config import Resources, api_settings, settings
from pixelpipe.logic.api_auth import Forbidden, Unauthenticated, caller_from, role_arn_of
from pixelpipe.logic.api_service import BadRequest, FrontDoor, decode_cursor, encode_cursor
from pixelpipe.logic.uploads import (
    IMAGE_CONTENT_TYPES,
    UploadRequest,
    allowed_content_types,
    decode_metadata,
    encode_metadata,
    upload_job_id,
)
from pixelpipe_emulator.api_gateway import TokenBucket, authorizer_for, http_api_event

UP, OP = "up", "op"


def test_every_allowed_format_has_the_content_type_pillow_registers_for_it():
    Image.init()
    for image_format in settings().limits.allowed_formats:
        assert IMAGE_CONTENT_TYPES[image_format] == Image.MIME[image_format], image_format
    assert len(allowed_content_types(settings().limits.allowed_formats)) == len(
        settings().limits.allowed_formats
    )


def test_the_policy_pins_key_type_owner_and_name_and_bounds_the_size():
    request = UploadRequest("b", "uploads/k", "image/png", "alice", "ça.png", 100, 60)
    conditions = request.conditions()
    assert {"key": "uploads/k"} in conditions and {"Content-Type": "image/png"} in conditions
    assert {"x-amz-meta-owner": "alice"} in conditions
    assert ["content-length-range", 1, 100] in conditions
    assert all(v.isascii() for v in request.fields().values())


@given(st.text())
def test_metadata_encoding_is_ascii_and_reversible(value: str):
    encoded = encode_metadata(value)
    assert encoded.isascii() and decode_metadata(encoded) == value


def test_the_upload_job_id_is_the_one_dispatch_computes():
    from pixelpipe.logic.jobs import SourceObject, job_id_for

    head = {"ETag": '"abc"', "VersionId": "v1", "ContentLength": 3}
    assert upload_job_id("b", "uploads/k", head) == job_id_for(SourceObject("b", "uploads/k", 3, "abc", "v1"))


KEYS = st.fixed_dictionaries(
    {"jobId": st.text(min_size=1), "status": st.just("FAILED"), "createdAt": st.text(min_size=1)}
)


@given(KEYS)
def test_a_cursor_round_trips(key):
    assert decode_cursor(encode_cursor(key), "FAILED") == key


@given(st.text(max_size=200))
def test_any_other_text_is_a_bad_request_or_a_valid_position(text):
    try:
        key = decode_cursor(text, "FAILED")
    except BadRequest:
        return
    assert set(key) == {"jobId", "status", "createdAt"} and key["status"] == "FAILED"


def test_a_cursor_of_another_status_or_shape_is_refused():
    cursor = encode_cursor({"jobId": "j", "status": "PENDING", "createdAt": "t"})
    with pytest.raises(BadRequest):
        decode_cursor(cursor, "FAILED")
    for raw in ({"jobId": "j"}, ["x"], {"jobId": 1, "status": "FAILED", "createdAt": "t"}):
        with pytest.raises(BadRequest):
            decode_cursor(base64.urlsafe_b64encode(json.dumps(raw).encode()).decode(), "FAILED")


def test_an_assumed_role_session_is_its_role():
    assert role_arn_of("arn:aws:sts::123:assumed-role/Ops/alice") == "arn:aws:iam::123:role/Ops"
    assert role_arn_of("arn:aws:iam::123:user/bob") == "arn:aws:iam::123:user/bob"


def test_callers_from_each_authorizer_shape():
    jwt = caller_from(
        {"authorizer": {"jwt": {"claims": {"sub": "s", "iss": "i", "scope": "up"}, "scopes": None}}}, UP, OP
    )
    assert (jwt.owner, jwt.uploader, jwt.operator) == ("i#s", True, False)
    # API Gateway flattens an array claim to "[a b]"
    flattened = caller_from(
        {"authorizer": {"jwt": {"claims": {"sub": "s", "scp": "[up op]"}, "scopes": None}}}, UP, OP
    )
    assert flattened.operator and flattened.uploader
    iam = {"authorizer": {"iam": {"userArn": "arn:aws:sts::1:assumed-role/Ops/x", "cognitoIdentity": None}}}
    assert caller_from(iam, UP, OP, ["arn:aws:iam::1:role/team/Ops"]).operator
    assert not caller_from(iam, UP, OP, ["arn:aws:iam::2:role/Ops"]).operator
    cognito = {
        "authorizer": {
            "iam": {
                "userArn": "arn:aws:sts::1:assumed-role/App/x",
                "cognitoIdentity": {"identityId": "us-east-1:abc"},
            }
        }
    }
    assert caller_from(cognito, UP, OP).owner == "us-east-1:abc"
    with pytest.raises(Unauthenticated):
        caller_from({}, UP, OP)
    with pytest.raises(Forbidden):
        jwt.require_operator()


def test_the_local_gateway_builds_payload_2_0_and_knows_only_its_tokens():
    event = http_api_event(
        "GET", "/jobs", "status=A&step=x&step=y", [("Host", "h"), ("X-A", "1"), ("x-a", "2")], b"", None
    )
    assert event["version"] == "2.0" and event["queryStringParameters"] == {"status": "A", "step": "x,y"}
    assert event["headers"]["x-a"] == "1,2" and "authorizer" not in event["requestContext"]
    binary = http_api_event("POST", "/x", "", [("content-type", "image/png")], b"\x89PNG", None)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\x89PNG"
    tokens = {"upload": "t-up", "operator": "t-op"}
    assert authorizer_for("nope", tokens, {"upload": UP, "operator": OP}) is None
    assert authorizer_for("t-op", tokens, {"upload": UP, "operator": OP})["jwt"]["scopes"] == [UP, OP]


def test_the_throttle_allows_a_burst_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(2)] == [True, False]


def test_the_public_record_carries_every_workers_result_and_no_bookkeeping():
    # GIVEN the front door as deployed from pipeline.json, and a finished record with a result for every
    # worker plus a result field no worker in the config writes
    config = settings()
    resources = Resources(
        JOBS_TABLE="jobs",
        JOBS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:jobs",
        RECONCILE_STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:reconcile",
        UPLOAD_BUCKET="uploads",
        THUMBNAIL_BUCKET="thumbnails",
    )
    door = FrontDoor(
        settings=api_settings(config, resources), jobs=None, storage=None, presigner=None, topic=None
    )
    results = {worker.result_field: {"from": step} for step, worker in config.workers.items()}
    record = {"jobId": "j", "status": "COMPLETE", **results, "notAWorkersField": 1, "owner": "someone"}
    # WHEN a client reads it (without thumbnail URLs, which need a signer)
    public = door._public(record, urls=False)
    # THEN each worker's result is there — a worker added to pipeline.json shows with no change to the API —
    # and what no worker writes, or only operators see, is not
    assert {field: public[field] for field in results} == results
    assert "notAWorkersField" not in public and "owner" not in public
