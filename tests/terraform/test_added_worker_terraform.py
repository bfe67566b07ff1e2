"""Terraform deploys a worker added to pipeline.json with nothing else changed: the test-only `checksum`
worker (support.added_worker), put into a copy of the config that Terraform's `local.config` is read from,
gets its queue, DLQ and redrive, a subscription filtered to its step, its function, event source mapping
and role, and the DLQ alarms, each with the settings of its entry."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tf_model
from tf_model import ResourceRef, Scope, child, evaluate, expression, root

from support import added_worker

ENTRY, SOURCE = added_worker.ENTRY, added_worker.ENTRY["source"]


@pytest.fixture(autouse=True)
def config_with_added_worker(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Terraform's `local.config` (jsondecode of pipeline.json) as if the file listed the worker."""
    config = json.loads(json.dumps(tf_model.pipeline_config()))
    added_worker.add_to(config)
    monkeypatch.setattr(tf_model, "pipeline_config", lambda: config)
    return config


def messaging() -> Scope:
    return Scope(root()).call("messaging", child("messaging"))


def worker() -> Scope:
    return Scope(root()).call("worker", child("worker"), each_key=added_worker.STEP)


def test_the_added_worker_gets_its_queue_dead_letter_queue_and_redrive():
    queue = child("messaging").resources[("aws_sqs_queue", "this")]
    dlq = child("messaging").resources[("aws_sqs_queue", "dlq")]
    assert added_worker.STEP in evaluate(queue["for_each"], messaging())
    inner = messaging().with_each(queue["for_each"], added_worker.STEP)
    redrive = json.loads(evaluate(queue["redrive_policy"], inner))
    assert evaluate(queue["name"], inner) == added_worker.QUEUE
    assert evaluate(queue["visibility_timeout_seconds"], inner) == SOURCE["visibility_timeout_seconds"]
    assert redrive["maxReceiveCount"] == SOURCE["max_receive_count"]
    assert (
        evaluate(dlq["name"], messaging().with_each(dlq["for_each"], added_worker.STEP)) == added_worker.DLQ
    )


def test_the_added_worker_is_subscribed_to_its_own_step_only():
    subscription = child("messaging").resources[("aws_sns_topic_subscription", "this")]
    inner = messaging().with_each(subscription["for_each"], added_worker.STEP)
    assert json.loads(evaluate(subscription["filter_policy"], inner)) == {"steps": [added_worker.STEP]}
    assert evaluate(subscription["raw_message_delivery"], inner) is True


def test_the_added_worker_function_and_event_source_mapping_take_its_settings():
    mapping = child("worker").resources[("aws_lambda_event_source_mapping", "this")]
    assert evaluate(mapping["batch_size"], worker()) == SOURCE["batch_size"]
    assert (
        evaluate(mapping["maximum_batching_window_in_seconds"], worker()) == SOURCE["batching_window_seconds"]
    )
    assert (
        evaluate(mapping["scaling_config"][0]["maximum_concurrency"], worker()) == SOURCE["max_concurrency"]
    )
    function = child("lambda_function").resources[("aws_lambda_function", "this")]
    scope = worker().call("function", child("lambda_function"))
    assert evaluate(function["function_name"], scope) == added_worker.FUNCTION
    assert evaluate(function["handler"], scope) == ENTRY["handler"]
    assert (evaluate(function["timeout"], scope), evaluate(function["memory_size"], scope)) == (
        ENTRY["timeout_seconds"],
        ENTRY["memory_mb"],
    )
    assert evaluate(function["environment"][0]["variables"], scope)["WORKER_STEP"] == added_worker.STEP


def test_the_added_worker_role_reads_uploads_claims_its_step_and_starts_the_reconcile():
    document = child("worker").data[("aws_iam_policy_document", "this")]
    granted = {}
    for statement in document["statement"]:
        if statement["sid"] in ("ReadUploads", "ClaimStep", "StartReconcile"):
            actions, resources = (evaluate(statement[key], worker()) for key in ("actions", "resources"))
            granted[statement["sid"]] = (actions, resources)
    assert granted["ReadUploads"][0] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert granted["ReadUploads"][1][0].endswith("/uploads/*")
    assert granted["ClaimStep"] == (["dynamodb:UpdateItem"], [_ref("aws_dynamodb_table", "pixelpipe-jobs")])
    assert granted["StartReconcile"][1] == [_ref("aws_sfn_state_machine", "pixelpipe-reconcile")]


def _ref(kind: str, name: str) -> ResourceRef:
    return ResourceRef(kind=kind, name="this", key=None, attribute="arn", resource_name=name)


def test_the_dead_letter_alarms_cover_every_queue_messaging_declares():
    # The observability module alarms on each queue module.messaging outputs, itself one per worker.
    assert expression(root().modules["observability"]["queues"]).startswith(
        "{for step, queue in module.messaging.queues"
    )
    assert "in aws_sqs_queue.this" in expression(child("messaging").outputs["queues"]["value"])
    assert "for step, q in var.queues" in expression(child("observability").locals["dead_letter_queues"])
