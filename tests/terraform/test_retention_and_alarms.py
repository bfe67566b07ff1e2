"""Uploads and job records expire as pipeline.json says; dead letters alarm on age as well as presence."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
from moto import mock_aws
from tf_model import Scope, blocks, child, evaluate, pipeline_config, root

from pixelpipe.config import settings, workers
from pixelpipe.logic.jobs import EXPIRES_AT
from pixelpipe_emulator.provision import provision

SQS_RETENTION_SECONDS = 1_209_600  # every DLQ and dispatch-failures keep messages 14 days


def expand(body: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """A block's evaluated arguments, its nested blocks as lists, and its `dynamic` blocks expanded."""
    result: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("__") or key in ("depends_on", "for_each", "count", "provider", "lifecycle"):
            continue
        if key == "dynamic":
            for dynamic in blocks(body, "dynamic"):
                for name, spec in dynamic.items():
                    for item in evaluate(spec["for_each"], scope):
                        inner = scope.bind(name, {"value": item})
                        result.setdefault(name, []).extend(expand(c, inner) for c in blocks(spec, "content"))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            result.setdefault(key, []).extend(expand(item, scope) for item in value)
        else:
            result[key] = evaluate(value, scope)
    return result


def lifecycle_rules(bucket_key: str) -> list[dict]:
    scope = Scope(root()).call("storage", child("storage"))
    body = child("storage").resources[("aws_s3_bucket_lifecycle_configuration", "this")]
    return expand(body, scope.with_each(body["for_each"], bucket_key))["rule"]


def first(node):
    return node[0] if isinstance(node, list) else node


def test_uploads_expire_after_the_configured_days_and_their_old_versions_after_that():
    rules = lifecycle_rules("uploads")
    expirations = [first(r["expiration"]) for r in rules if "expiration" in r]
    assert {"days": pipeline_config()["retention"]["uploads_days"]} in expirations
    assert {"expired_object_delete_marker": True} in expirations
    assert any("noncurrent_version_expiration" in r for r in rules)
    assert all(first(r["status"]) == "Enabled" for r in rules)


def test_thumbnails_expire_with_the_job_records_that_name_them():
    rules = lifecycle_rules("thumbnails")
    expirations = [first(r["expiration"]) for r in rules if "expiration" in r]
    assert {"days": pipeline_config()["retention"]["records_days"]} in expirations
    assert {"expired_object_delete_marker": True} in expirations
    assert any("noncurrent_version_expiration" in r for r in rules)


def test_job_records_expire_through_dynamodb_ttl_on_the_attribute_dispatch_writes():
    table = child("jobs_table").resources[("aws_dynamodb_table", "this")]
    scope = Scope(root()).call("jobs_table", child("jobs_table"))
    ttl = evaluate(first(table["ttl"]), scope)
    assert ttl == {"attribute_name": EXPIRES_AT, "enabled": True}


def test_the_local_stack_enables_the_same_ttl(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        clients = {
            n: boto3.client(n, region_name="us-east-1")
            for n in ("s3", "dynamodb", "sns", "sqs", "stepfunctions")
        }
        target = provision(clients, endpoint_url=None)
        ttl = clients["dynamodb"].describe_time_to_live(TableName=target.jobs_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", EXPIRES_AT)


def test_every_dead_letter_queue_alarms_on_age_well_before_its_messages_expire():
    scope = Scope(root()).call("observability", child("observability"))
    alarm = child("observability").resources[("aws_cloudwatch_metric_alarm", "dead_letter_age")]
    not_empty = child("observability").resources[("aws_cloudwatch_metric_alarm", "dead_letters")]
    # The same queues as the not-empty alarm (its for_each, every DLQ and the dispatch failures queue, is
    # checked by test_terraform_structure); evaluated here for each of them.
    assert alarm["for_each"] == not_empty["for_each"]
    config = pipeline_config()
    queues = [*(w.dlq for w in workers().values()), settings().dispatch.failure_queue]
    for queue in queues:
        inner = dataclasses.replace(scope, each_key=queue)
        assert evaluate(alarm["metric_name"], inner) == "ApproximateAgeOfOldestMessage"
        assert evaluate(alarm["dimensions"], inner) == {"QueueName": queue}
        threshold = evaluate(alarm["threshold"], inner)
        assert threshold == config["alarms"]["dead_letter_age_seconds"]
        assert threshold <= SQS_RETENTION_SECONDS / 2
        assert evaluate(alarm["alarm_actions"], inner)
