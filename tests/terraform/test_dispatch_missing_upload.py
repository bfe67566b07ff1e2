"""An upload deleted before dispatch-tasks reads it is a job skipped with its reason, not an AccessDenied
retried into the dispatch failures queue: proven on dispatch's own Terraform policy.

S3's rule (API reference, HeadObject): "If the object you request doesn't exist, the error that Amazon S3
returns depends on whether you also have the s3:ListBucket permission. If you have the s3:ListBucket
permission on the bucket, Amazon S3 returns an HTTP status code 404 Not Found error. If you don't have the
s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Forbidden error." A HEAD answer has no
body, so botocore names the error by its status code ("404" / "403").
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from iam_policy import ALLOW, Statement, decide, document
from tf_model import PARTITION, Scope, child, evaluate, root

from pixelpipe.adapters.storage import Storage
from pixelpipe.logic.dispatch import Dispatcher
from pixelpipe.logic.jobs import SourceObject

KEY = "uploads/deleted-before-dispatch.jpg"


def dispatch_policy() -> list[Statement]:
    return document(
        child("lambda_function"), "this", Scope(root()).call("dispatch_tasks", child("lambda_function"))
    )


def bucket_arn(output: str) -> str:
    return f"arn:{PARTITION}:s3:::" + evaluate(f"${{module.storage.{output}}}", Scope(root()))


def s3_answer_to_a_head_of_a_missing_object(policy: list[Statement], bucket: str) -> str:
    """What S3 answers the caller, by the rule quoted above."""
    return "404" if decide(policy, "s3:ListBucket", bucket) == ALLOW else "403"


class NoJobs:
    def create(self, record):  # pragma: no cover - reaching it fails the test
        raise AssertionError("a job was created for an object that is gone")


def dispatch_deleted_upload(status: str) -> object:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    dispatcher = Dispatcher(
        jobs=NoJobs(),  # type: ignore[arg-type]
        topic=None,  # type: ignore[arg-type]
        storage=Storage(s3),
        upload_prefix="uploads/",
        steps=["resize", "analysis"],
        max_input_bytes=1 << 20,
        deadline_seconds=900,
        record_retention_days=90,
    )
    source = SourceObject("uploads-bucket", KEY, 1234, "etag", version_id="v-1")
    with Stubber(s3) as stub:
        stub.add_client_error("head_object", status, "", int(status))
        return dispatcher.dispatch(source)


def test_dispatch_may_list_the_upload_bucket_and_nothing_else() -> None:
    policy = dispatch_policy()
    uploads, thumbnails = bucket_arn("upload_bucket_name"), bucket_arn("thumbnail_bucket_name")
    assert decide(policy, "s3:ListBucket", uploads) == ALLOW
    assert decide(policy, "s3:ListBucket", thumbnails) != ALLOW
    assert decide(policy, "s3:ListBucket", f"{uploads}/uploads/x.jpg") != ALLOW


def test_a_deleted_upload_is_skipped_with_its_reason_under_dispatchs_policy() -> None:
    # GIVEN dispatch's policy, and an upload deleted before dispatch-tasks reads it
    status = s3_answer_to_a_head_of_a_missing_object(dispatch_policy(), bucket_arn("upload_bucket_name"))
    # WHEN dispatch-tasks HEADs it and S3 answers as it answers this role
    result = dispatch_deleted_upload(status)
    # THEN no job is made and the reason says why (a 403 would raise: retried, then a dispatch failure)
    assert status == "404"
    assert (result.action, result.detail) == ("skipped", f"object no longer exists: {KEY!r}")


def test_without_list_bucket_the_same_upload_is_an_error_lambda_retries() -> None:
    with pytest.raises(ClientError) as raised:
        dispatch_deleted_upload("403")
    assert raised.value.response["Error"]["Code"] == "403"
