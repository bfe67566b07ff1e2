"""The job-finished events' bus, example rule and queue: Terraform (terraform/events.tf) declares what the
local stack builds from the same pipeline.json, and guards it as the other queues are guarded.

GIVEN the local stack provisioned on moto and terraform/ read with python-hcl2 (default variables, no
name prefix), WHEN both are reduced to the same shape, THEN they are equal; and the queue policies let
only this rule send, the queues are encrypted with a DLQ, and the target keeps undeliverable events.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tf_model import ResourceRef, Scope, decode_ref, evaluate, expression, root

from pixelpipe.config import settings
from pixelpipe_emulator import provision as local_stack

REGION = "us-east-1"


@pytest.fixture(scope="module")
def local_events() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            names = ("s3", "dynamodb", "sns", "sqs", "stepfunctions", "events")
            clients = {name: boto3.client(name, region_name=REGION) for name in names}
            target = local_stack.provision(clients, endpoint_url=None)
            events, sqs = clients["events"], clients["sqs"]
            queue = target.queues[local_stack.JOB_EVENTS_QUEUE]
            [bus] = [b for b in events.list_event_buses()["EventBuses"] if b["Name"] != "default"]
            [rule] = events.list_rules(EventBusName=bus["Name"])["Rules"]
            [rule_target] = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])[
                "Targets"
            ]
            attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes["RedrivePolicy"])
            return {
                "bus": bus["Name"],
                "rule": rule["Name"],
                "pattern": json.loads(rule["EventPattern"]),
                "target": rule_target["Arn"].rsplit(":", 1)[1],
                "queue": queue["arn"].rsplit(":", 1)[1],
                "dlq": redrive["deadLetterTargetArn"].rsplit(":", 1)[1],
                "max_receive_count": int(redrive["maxReceiveCount"]),
                "retention_seconds": int(attributes["MessageRetentionPeriod"]),
            }


def resource(kind: str, name: str) -> dict[str, Any]:
    return root().resources[(kind, name)]


def name_of(ref: Any) -> str:
    assert isinstance(ref, ResourceRef), ref
    return ref.resource_name


def terraform_events() -> dict[str, Any]:
    scope = Scope(root())
    queue = resource("aws_sqs_queue", "job_events")
    rule = resource("aws_cloudwatch_event_rule", "job_finished")
    target = resource("aws_cloudwatch_event_target", "job_finished_queue")
    redrive = json.loads(evaluate(queue["redrive_policy"], scope))
    return {
        "bus": evaluate(resource("aws_cloudwatch_event_bus", "jobs")["name"], scope),
        "rule": evaluate(rule["name"], scope),
        "pattern": json.loads(evaluate(rule["event_pattern"], scope)),
        "target": name_of(evaluate(target["arn"], scope)),
        "queue": evaluate(queue["name"], scope),
        "dlq": decode_ref(redrive["deadLetterTargetArn"]).resource_name,
        "max_receive_count": redrive["maxReceiveCount"],
        "retention_seconds": evaluate(queue["message_retention_seconds"], scope),
    }


def test_bus_rule_pattern_target_and_queue_match_the_local_stack(local_events):
    assert terraform_events() == local_events
    # The rule matches the events the state machine sends: pipeline.json's source and detail-type.
    events = settings().events
    assert local_events["pattern"] == {"source": [events.source], "detail-type": [events.detail_type]}
    assert local_events["target"] == local_events["queue"] == events.example_queue


def test_the_rule_and_the_state_machine_agree_on_source_and_detail_type_with_a_name_prefix():
    # The ASL's source and the rule's pattern are both local.event_source: a prefixed stack's rule
    # matches its own events and no other stack's.
    rule = resource("aws_cloudwatch_event_rule", "job_finished")
    assert "local.event_source" in expression(rule["event_pattern"])
    reconciler = root().modules["reconciler"]
    assert expression(reconciler["event_source"]) == "local.event_source"
    assert expression(reconciler["event_bus_arn"]) == "aws_cloudwatch_event_bus.jobs.arn"


def test_the_queues_are_encrypted_and_keep_undeliverable_events():
    scope = Scope(root())
    for name in ("job_events", "job_events_dlq"):
        assert resource("aws_sqs_queue", name)["sqs_managed_sse_enabled"] is True, name
    target = resource("aws_cloudwatch_event_target", "job_finished_queue")
    assert name_of(evaluate(target["dead_letter_config"][0]["arn"], scope)) == evaluate(
        resource("aws_sqs_queue", "job_events_dlq")["name"], scope
    )
    allow = json.loads(
        evaluate(
            resource("aws_sqs_queue_redrive_allow_policy", "job_events_dlq")["redrive_allow_policy"], scope
        )
    )
    assert allow["redrivePermission"] == "byQueue"


def test_only_the_rule_may_send_to_the_queue_and_its_dlq():
    policy = root().data[("aws_iam_policy_document", "job_events_queue")]
    [statement] = policy["statement"]
    assert statement["actions"] == ["sqs:SendMessage"]
    [principals] = statement["principals"]
    assert principals == {"type": "Service", "identifiers": ["events.amazonaws.com"]}
    [condition] = statement["condition"]
    assert condition["test"] == "ArnEquals" and condition["variable"] == "aws:SourceArn"
    assert [expression(v) for v in condition["values"]] == ["aws_cloudwatch_event_rule.job_finished.arn"]
    queue_policy = resource("aws_sqs_queue_policy", "job_events")
    assert set(evaluate(queue_policy["for_each"], Scope(root()))) == set(
        evaluate(policy["for_each"], Scope(root()))
    )


def test_the_aws_cli_target_names_the_example_queue_where_pixelpipe_events_reads_it():
    # pixelpipe events reads Target.queues[JOB_EVENTS_QUEUE]: the AWS target file must carry it too
    queues = expression(root().outputs["cli_target"]["value"]["queues"])
    [entry] = re.findall(r'\{"' + local_stack.JOB_EVENTS_QUEUE + r'" = \{([^}]*)\}\}', queues)
    fields = dict(part.split(" = ") for part in entry.split(", "))
    assert fields == {
        "url": "aws_sqs_queue.job_events.url",
        "arn": "aws_sqs_queue.job_events.arn",
        "dlq_url": "aws_sqs_queue.job_events_dlq.url",
        "dlq_arn": "aws_sqs_queue.job_events_dlq.arn",
    }
