"""The api function as AWS invokes it: HTTP API payload 2.0 events shaped as the API Gateway developer
guide documents them (JWT and IAM authorizer contexts, comma-joined query parameters), against moto.

What runs only on AWS is covered here from AWS's shapes, not from what the local gateway sends: an IAM
caller (`requestContext.authorizer.iam`, an assumed-role `userArn`), a Cognito JWT whose scopes arrive in
`scopes`, and pages of the status index chained by the cursor. Property tests throw arbitrary paths,
query strings, bodies and authorizer contexts at the handler: every answer is a documented status with a
JSON body, never a 500.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.adapters.job_pages import ApiJobsTable
from pixelpipe.adapters.presign import Presigner
from pixelpipe.adapters.storage import Storage
from pixelpipe.config import settings as pipeline_settings
from pixelpipe.handlers.api_routes import build_app
from pixelpipe.logic.api_service import ApiSettings, FrontDoor
from pixelpipe.logic.jobs import SourceObject, new_job_record
from pixelpipe.logic.uploads import decode_metadata
from pixelpipe_emulator.provision import create_jobs_table

REGION = "us-east-1"
UPLOAD, OPERATOR = "pixelpipe/upload", "pixelpipe/operator"
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/ops/PixelPipeOperator"
PAGE_SIZE = 2


class FakeTopic:
    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish(self, message: Any) -> str:
        self.published.append(message)
        return f"m-{len(self.published)}"


def jwt_context(
    sub: str, scopes: list[str] | None, iss: str = "https://cognito-idp.us-east-1.amazonaws.com/pool"
) -> dict:
    """A JWT authorizer's context: claims as strings, `scopes` the token's scope claim or null."""
    claims = {"sub": sub, "iss": iss, "token_use": "access", "client_id": "abc", "auth_time": "1700000000"}
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return {"jwt": {"claims": claims, "scopes": scopes}}


def iam_context(role: str, session: str = "alice") -> dict:
    account = role.split(":")[4]
    name = role.rsplit("/", 1)[-1]
    return {
        "iam": {
            "accessKey": "ASIAEXAMPLE",
            "accountId": account,
            "callerId": f"AROAEXAMPLE:{session}",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
            "userId": f"AROAEXAMPLE:{session}",
        }
    }


def event(
    method: str,
    path: str,
    authorizer: dict | None,
    query: dict[str, list[str]] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """Payload 2.0 as the developer guide shows it: repeated query parameters joined with commas."""
    raw_query = urlencode([(k, v) for k, values in (query or {}).items() for v in values])
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9",
            "userAgent": "t",
        },
        "requestId": "id",
        "routeKey": f"{method} {path}",
        "stage": "$default",
        "time": "03/Dec/2026:18:00:00 +0000",
        "timeEpoch": 1796320800000,
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    result: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"content-type": "application/json", "host": request_context["domainName"]},
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if query:
        result["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if body is not None:
        result["body"] = body if isinstance(body, str) else json.dumps(body)
    return result


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, Any]]:
    config = pipeline_settings()
    with mock_aws(), mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        for bucket in (config.storage.upload_bucket, config.storage.thumbnail_bucket):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(
            Bucket=config.storage.upload_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        create_jobs_table(ddb)
        topic = FakeTopic()
        front_door = FrontDoor(
            settings=ApiSettings(
                upload_prefix=config.storage.upload_prefix,
                upload_bucket=config.storage.upload_bucket,
                thumbnail_bucket=config.storage.thumbnail_bucket,
                max_input_bytes=config.limits.max_input_bytes,
                allowed_formats=list(config.limits.allowed_formats),
                upload_expiry_seconds=60,
                download_expiry_seconds=60,
                page_size=PAGE_SIZE,
                job_deadline_seconds=config.limits.job_deadline_seconds,
                result_fields=tuple(worker.result_field for worker in config.workers.values()),
            ),
            jobs=ApiJobsTable(ddb, config.table.name, config.table.status_index),
            storage=Storage(s3),
            presigner=Presigner(),  # as deployed: its own SigV4 client
            topic=topic,
        )
        app = build_app(front_door, UPLOAD, OPERATOR, [OPERATOR_ROLE], steps=list(config.workers))
        yield {"app": app, "s3": s3, "ddb": ddb, "topic": topic, "jobs": front_door.jobs, "config": config}


def call(aws: dict[str, Any], *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = aws["app"].resolve(event(*args, **kwargs), None)
    return response["statusCode"], json.loads(response["body"])


def put_job(
    aws: dict[str, Any], key: str, created: str, status: str = "COMPLETE", owner: str | None = None
) -> str:
    source = SourceObject(aws["config"].storage.upload_bucket, key, 10, f"etag-{key}")
    job_id = f"job-{key.rsplit('/', 1)[-1]}"
    record = new_job_record(job_id, source, list(aws["config"].workers), created)
    record["status"] = status
    if owner:
        record["owner"] = owner
    aws["jobs"]._client.put_item(
        TableName=aws["config"].table.name,
        Item=to_item(record),
    )
    return job_id


def test_an_iam_caller_gets_a_form_signed_for_its_role_and_reads_its_own_upload(aws):
    status, form = call(
        aws,
        "POST",
        "/uploads",
        iam_context("arn:aws:iam::123456789012:role/MobileApp"),
        body={"fileName": "a/../b.png", "contentType": "image/png"},
    )
    assert status == 201
    assert form["fields"]["x-amz-meta-owner"] == "arn:aws:iam::123456789012:role/MobileApp"
    assert (
        form["key"] == f"{aws['config'].storage.upload_prefix}{form['uploadId']}"
    )  # never the client's name
    assert decode_metadata(form["fields"]["x-amz-meta-filename"]) == "a/../b.png"  # kept as data
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    # the object arrives (as S3 stores a form upload, with its metadata) and its owner can follow it
    aws["s3"].put_object(
        Bucket=aws["config"].storage.upload_bucket,
        Key=form["key"],
        Body=b"png",
        Metadata={
            "owner": form["fields"]["x-amz-meta-owner"],
            "filename": form["fields"]["x-amz-meta-filename"],
        },
    )
    status, upload = call(
        aws,
        "GET",
        f"/uploads/{form['uploadId']}",
        iam_context("arn:aws:iam::123456789012:role/MobileApp", "bob"),
    )
    assert status == 200 and upload["uploaded"] and upload["jobId"]
    # another role's caller is told nothing about it
    status, _ = call(
        aws, "GET", f"/uploads/{form['uploadId']}", iam_context("arn:aws:iam::123456789012:role/Other")
    )
    assert status == 404


def test_an_iam_caller_in_an_operator_role_lists_and_retries_others_do_not(aws):
    put_job(aws, "uploads/failed-one", "2026-12-01T00:00:00.000Z", status="FAILED")
    status, _ = call(
        aws, "GET", "/jobs", iam_context("arn:aws:iam::123456789012:role/MobileApp"), {"status": ["FAILED"]}
    )
    assert status == 403
    status, page = call(aws, "GET", "/jobs", iam_context(OPERATOR_ROLE), {"status": ["FAILED"]})
    assert status == 200 and [j["jobId"] for j in page["jobs"]] == ["job-failed-one"]


def test_jwt_scopes_separate_uploaders_from_operators(aws):
    put_job(
        aws,
        "uploads/owned",
        "2026-12-01T00:00:01.000Z",
        owner="https://cognito-idp.us-east-1.amazonaws.com/pool#u1",
    )
    assert call(aws, "GET", "/jobs/job-owned", jwt_context("u1", [UPLOAD]))[0] == 200
    assert call(aws, "GET", "/jobs/job-owned", jwt_context("u2", [UPLOAD]))[0] == 404
    assert call(aws, "GET", "/jobs/job-owned", jwt_context("u2", [OPERATOR]))[0] == 200
    assert call(aws, "GET", "/jobs/job-owned", jwt_context("u1", None))[0] == 403  # a token without scopes
    assert call(aws, "POST", "/jobs/job-owned/retry", jwt_context("u1", [UPLOAD]))[0] == 403


def test_an_event_without_an_authorizer_is_401(aws):
    status, body = call(aws, "GET", "/jobs/x", None)
    assert status == 401 and body["code"] == "Unauthorized"


def test_pages_chain_by_cursor_and_list_every_job_exactly_once(aws):
    # five jobs, two of them created in the same millisecond (a createdAt cursor would drop one)
    stamps = [
        "2026-11-01T00:00:00.000Z",
        "2026-11-01T00:00:01.000Z",
        "2026-11-01T00:00:01.000Z",
        "2026-11-01T00:00:02.000Z",
        "2026-11-01T00:00:03.000Z",
    ]
    ids = {put_job(aws, f"uploads/p{i}", stamp, status="PENDING") for i, stamp in enumerate(stamps)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"status": ["PENDING"], **({"cursor": [cursor]} if cursor else {})}
        status, page = call(aws, "GET", "/jobs", jwt_context("op", [OPERATOR]), query)
        assert status == 200 and len(page["jobs"]) <= PAGE_SIZE
        seen += [j["jobId"] for j in page["jobs"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    # a cursor is bound to its status, and to the query's window
    _, first = call(aws, "GET", "/jobs", jwt_context("op", [OPERATOR]), {"status": ["PENDING"]})
    assert (
        call(
            aws,
            "GET",
            "/jobs",
            jwt_context("op", [OPERATOR]),
            {"status": ["FAILED"], "cursor": [first["cursor"]]},
        )[0]
        == 400
    )
    window = {"status": ["PENDING"], "since": ["2026-11-01T00:00:03"], "cursor": [first["cursor"]]}
    assert call(aws, "GET", "/jobs", jwt_context("op", [OPERATOR]), window)[0] in (200, 400)


def test_retry_through_the_shared_rule_publishes_only_the_named_step(aws):
    put_job(aws, "uploads/to-retry", "2026-12-02T00:00:00.000Z", status="FAILED")
    aws["jobs"]._client.update_item(
        TableName=aws["config"].table.name,
        Key={"jobId": {"S": "job-to-retry"}},
        UpdateExpression="SET steps.resize.#s = :f, failedCount = :one",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FAILED"}, ":one": {"N": "1"}},
    )
    status, result = call(aws, "POST", "/jobs/job-to-retry/retry", jwt_context("op", [OPERATOR]))
    assert status == 200 and result["steps"] == ["resize"]
    assert aws["topic"].published[-1].steps == ["resize"]
    assert call(aws, "POST", "/jobs/no-such-job/retry", jwt_context("op", [OPERATOR]))[0] == 404
    assert call(aws, "POST", "/jobs/job-to-retry/retry", jwt_context("op", [OPERATOR]))[0] == 409


ANY_CONTEXT = st.one_of(
    st.none(),
    st.builds(
        lambda arn: {"iam": {"userArn": arn, "accountId": "1", "cognitoIdentity": arn}}, st.text(max_size=60)
    ),
    st.builds(
        jwt_context,
        st.text(max_size=10),
        st.one_of(st.none(), st.lists(st.sampled_from([UPLOAD, OPERATOR, "x"]))),
    ),
    st.builds(iam_context, st.sampled_from([OPERATOR_ROLE, "arn:aws:iam::1:role/x"])),
    st.dictionaries(
        st.sampled_from(["jwt", "iam", "lambda"]),
        st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5))),
    ),
)
PATHS = st.one_of(
    st.sampled_from(["/uploads", "/jobs", "/openapi.json"]),
    st.builds(lambda s: f"/jobs/{s}", st.text(max_size=80)),
    st.builds(lambda s: f"/uploads/{s}", st.text(max_size=40)),
    st.builds(lambda s: f"/jobs/{s}/retry", st.text(max_size=40)),
)
QUERIES = st.dictionaries(
    st.sampled_from(["status", "since", "cursor", "step", "force", "other"]),
    st.lists(
        st.one_of(
            st.sampled_from(["PENDING", "FAILED", "true", "resize", "2026-11-01"]), st.text(max_size=30)
        ),
        min_size=1,
        max_size=3,
    ),
    max_size=4,
)
BODIES = st.one_of(
    st.none(),
    st.text(max_size=50),
    st.fixed_dictionaries({"fileName": st.text(max_size=300), "contentType": st.text(max_size=30)}),
    st.dictionaries(
        st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=10), st.none()), max_size=3
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=PATHS,
    context=ANY_CONTEXT,
    query=QUERIES,
    body=BODIES,
)
def test_any_request_gets_a_documented_status_and_a_json_body_never_a_500(
    aws, method, path, context, query, body
):
    response = aws["app"].resolve(event(method, path, context, query, body), None)
    assert response["statusCode"] in (200, 201, 400, 401, 403, 404, 405, 409), response
    document = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert isinstance(document.get("message"), str), document


def test_an_answer_that_fails_its_own_model_is_the_functions_fault_500_not_the_callers_400():
    class Broken:
        def get_job(self, caller: Any, job_id: str) -> Any:
            return ["not", "a", "record"]  # the route promises a dict

    app = build_app(Broken(), UPLOAD, OPERATOR)  # type: ignore[arg-type]
    response = app.resolve(event("GET", "/jobs/x", jwt_context("u", [UPLOAD])), None)
    assert response["statusCode"] == 500 and json.loads(response["body"])["code"] == "InternalError"
