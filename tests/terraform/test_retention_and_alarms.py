"""Uploads and job records expire as pipeline.json says; dead letters alarm on age as well as presence."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
from moto import mock_aws
from tf_model import Scope, blocks, child, evaluate, root

from pixelpipe.config import settings, workers
from pixelpipe.logic.jobs import EXPIRES_AT
from pixelpipe_emulator.provision import provision
from support.stacks import use_changed_config


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
    assert {"days": settings().retention.uploads_days} in expirations
    assert {"expired_object_delete_marker": True} in expirations
    assert any("noncurrent_version_expiration" in r for r in rules)
    assert all(first(r["status"]) == "Enabled" for r in rules)


def test_thumbnails_expire_with_the_job_records_that_name_them():
    rules = lifecycle_rules("thumbnails")
    expirations = [first(r["expiration"]) for r in rules if "expiration" in r]
    assert {"days": settings().retention.records_days} in expirations
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
    config = settings()
    queues = [*(w.dlq for w in workers().values()), config.dispatch.failure_queue]
    for queue in queues:
        inner = dataclasses.replace(scope, each_key=queue)
        assert evaluate(alarm["metric_name"], inner) == "ApproximateAgeOfOldestMessage"
        assert evaluate(alarm["dimensions"], inner) == {"QueueName": queue}
        threshold = evaluate(alarm["threshold"], inner)
        assert threshold == config.alarms.dead_letter_age_seconds
        assert threshold <= config.retention.dead_letters_seconds / 2
        assert f"expires after {config.retention.dead_letters_days} days" in evaluate(
            alarm["alarm_description"], inner
        )
        assert evaluate(alarm["alarm_actions"], inner)


def dead_letter_queues_in_terraform() -> dict[str, int]:
    """Each DLQ and failure queue Terraform declares, with the retention it gives it."""
    top = Scope(root())
    messaging = top.call("messaging", child("messaging"))
    dlq = child("messaging").resources[("aws_sqs_queue", "dlq")]
    declared = {
        evaluate(dlq["name"], messaging.with_each(dlq["for_each"], step)): evaluate(
            dlq["message_retention_seconds"], messaging.with_each(dlq["for_each"], step)
        )
        for step in workers()
    }
    failures = root().resources[("aws_sqs_queue", "dispatch_failures")]
    declared[evaluate(failures["name"], top)] = evaluate(failures["message_retention_seconds"], top)
    return declared


def test_terraform_and_the_local_stack_keep_dead_letters_for_pipeline_jsons_retention(monkeypatch, tmp_path):
    # GIVEN a pipeline.json whose dead letters are kept 3 days (not SQS's 14-day maximum)
    use_changed_config(tmp_path, monkeypatch, lambda c: c["retention"].update(dead_letters_days=3))
    three_days = 3 * 86_400
    # THEN Terraform gives every DLQ and the dispatch failures queue that retention
    declared = dead_letter_queues_in_terraform()
    assert set(declared) == {*(w.dlq for w in workers().values()), settings().dispatch.failure_queue}
    assert set(declared.values()) == {three_days}
    # AND so does the local stack
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        clients = {
            n: boto3.client(n, region_name="us-east-1") for n in ("s3", "dynamodb", "sns", "stepfunctions")
        }
        provision({**clients, "sqs": sqs}, endpoint_url=None)
        for name in declared:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])
            assert int(attributes["Attributes"]["MessageRetentionPeriod"]) == three_days, name
