"""Terraform and the local stack read the same keys of pipeline.json: the topology Terraform declares
equals the one the local stack builds, for the repository's pipeline.json and for a copy with every name
and number changed (so neither side can hold a copy of a value instead of reading it).

GIVEN the local stack provisioned on moto (pixelpipe_emulator.provision) and terraform/ read with python-hcl2,
WHEN both are reduced to the same shape (queues, DLQs, subscriptions, state machine, function settings),
THEN they are equal — so what runs offline is what deploys.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tf_model import (
    REPO_ROOT,
    ResourceRef,
    Scope,
    child,
    decode_ref,
    evaluate,
    evaluate_expression,
    expression,
    root,
)

from pixelpipe.config import Resources, config_path, lambda_environment, settings, workers
from pixelpipe_emulator import provision as local_stack

REGION = "us-east-1"


# ---------------------------------------------------------------------------------------------------------
# The local stack, read back from moto
# ---------------------------------------------------------------------------------------------------------
def every_key_changed(config: dict[str, Any]) -> None:
    """Every name and number both stacks read from pipeline.json, changed: a side that ignored a key (a
    literal where the config should be read) no longer matches the other, nor the config."""
    for function in config["functions"].values():
        source = function["source"]
        if source["type"] == "worker":
            source.update(
                queue=source["queue"] + "-b",
                dlq=source["dlq"] + "-b",
                visibility_timeout_seconds=source["visibility_timeout_seconds"] + 7,
                max_receive_count=source["max_receive_count"] + 1,
            )
        elif source["type"] == "s3":
            source.update(
                failure_queue=source["failure_queue"] + "-b",
                maximum_retry_attempts=1 if source["maximum_retry_attempts"] != 1 else 2,
            )
    for key in ("name", "status_index", "deadline_index", "event_index"):
        if key in config["table"]:
            config["table"][key] += "-b"
    config["topic"].update(name=config["topic"]["name"] + "-b", steps_attribute="stepsB")
    config["state_machine"]["name"] += "-b"
    config["storage"]["upload_prefix"] = "incoming/"
    config["retention"]["dead_letters_days"] = 9


@pytest.fixture(scope="module", params=["pipeline.json", "every key changed"])
def local_topology(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The local stack read back from moto, for the repository's pipeline.json and for a copy with every
    key changed (Terraform, evaluated by tf_model, reads that copy too while the fixture is active)."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param != "pipeline.json":
            config = json.loads(config_path().read_text())
            every_key_changed(config)
            path = tmp_path_factory.mktemp("every-key-changed") / "pipeline.json"
            path.write_text(json.dumps(config))
            patch.setenv("PIXELPIPE_CONFIG_FILE", str(path))
        yield read_local_topology(patch)


def read_local_topology(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch_module.setenv(name, value)
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name=REGION)
            for name in ("s3", "dynamodb", "sns", "sqs", "stepfunctions")
        }
        target = local_stack.provision(clients, endpoint_url=None)
        sqs, sns, sfn = clients["sqs"], clients["sns"], clients["stepfunctions"]

        queues = {}
        for step in workers():
            attributes = sqs.get_queue_attributes(
                QueueUrl=target.queues[step]["url"], AttributeNames=["All"]
            )["Attributes"]
            redrive = json.loads(attributes["RedrivePolicy"])
            queues[step] = {
                "queue": target.queues[step]["arn"].rsplit(":", 1)[1],
                "dlq": redrive["deadLetterTargetArn"].rsplit(":", 1)[1],
                "max_receive_count": int(redrive["maxReceiveCount"]),
                "visibility_timeout": int(attributes["VisibilityTimeout"]),
            }

        subscriptions = {}
        for subscription in sns.list_subscriptions_by_topic(TopicArn=target.topic_arn)["Subscriptions"]:
            attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])[
                "Attributes"
            ]
            queue = subscription["Endpoint"].rsplit(":", 1)[1]
            subscriptions[queue] = {
                "protocol": subscription["Protocol"],
                "raw": attributes["RawMessageDelivery"] == "true",
                "filter_policy": json.loads(attributes["FilterPolicy"]),
            }

        # dispatch-tasks' async retries and on-failure destination: locally the S3 relay queue's redrive.
        relay, failures = (
            sqs.get_queue_attributes(QueueUrl=target.queues[key]["url"], AttributeNames=["All"])["Attributes"]
            for key in ("_s3_events", "_dispatch_failures")
        )
        relay_redrive = json.loads(relay["RedrivePolicy"])
        dispatch_failures = {
            "queue": failures["QueueArn"].rsplit(":", 1)[1],
            "retention_seconds": int(failures["MessageRetentionPeriod"]),
            "invocations": int(relay_redrive["maxReceiveCount"]),
            "destination": relay_redrive["deadLetterTargetArn"].rsplit(":", 1)[1],
        }

        machine = sfn.describe_state_machine(stateMachineArn=target.state_machine_arn)
        table = clients["dynamodb"].describe_table(TableName=target.jobs_table)["Table"]
        return {
            "target": target,
            "queues": queues,
            "dispatch_failures": dispatch_failures,
            "subscriptions": subscriptions,
            "state_machine": {
                "name": machine["name"],
                "type": machine["type"],
                "definition": json.loads(machine["definition"]),
            },
            "table": {
                "hash_key": next(k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH"),
                "indexes": {
                    index["IndexName"]: (
                        [k["AttributeName"] for k in index["KeySchema"]],
                        index["Projection"]["ProjectionType"],
                    )
                    for index in table["GlobalSecondaryIndexes"]
                },
            },
        }


# ---------------------------------------------------------------------------------------------------------
# Terraform, evaluated for the default variables (name_prefix = "")
# ---------------------------------------------------------------------------------------------------------
def messaging_scope() -> Scope:
    return Scope(root()).call("messaging", child("messaging"))


def terraform_queues() -> dict[str, dict[str, Any]]:
    scope = messaging_scope()
    queue = child("messaging").resources[("aws_sqs_queue", "this")]
    dlq = child("messaging").resources[("aws_sqs_queue", "dlq")]
    declared = {}
    for step in evaluate(queue["for_each"], scope):
        inner = scope.with_each(queue["for_each"], step)
        redrive = json.loads(evaluate(queue["redrive_policy"], inner))
        dead_letter = decode_ref(redrive["deadLetterTargetArn"])
        assert isinstance(dead_letter, ResourceRef) and dead_letter.attribute == "arn"
        declared[step] = {
            "queue": evaluate(queue["name"], inner),
            "dlq": dead_letter.resource_name,
            "max_receive_count": redrive["maxReceiveCount"],
            "visibility_timeout": evaluate(queue["visibility_timeout_seconds"], inner),
        }
        assert evaluate(dlq["name"], scope.with_each(dlq["for_each"], step)) == dead_letter.resource_name
    return declared


def terraform_subscriptions() -> dict[str, dict[str, Any]]:
    scope = messaging_scope()
    subscription = child("messaging").resources[("aws_sns_topic_subscription", "this")]
    declared = {}
    for step in evaluate(subscription["for_each"], scope):
        inner = scope.with_each(subscription["for_each"], step)
        endpoint = evaluate(subscription["endpoint"], inner)
        assert isinstance(endpoint, ResourceRef) and endpoint.attribute == "arn"
        declared[endpoint.resource_name] = {
            "protocol": evaluate(subscription["protocol"], inner),
            "raw": evaluate(subscription["raw_message_delivery"], inner),
            "filter_policy": json.loads(evaluate(subscription["filter_policy"], inner)),
        }
    return declared


def test_worker_queues_dlqs_and_redrive_match_the_local_stack(local_topology):
    config = {
        step: {
            "queue": w.queue,
            "dlq": w.dlq,
            "max_receive_count": w.max_receive_count,
            "visibility_timeout": w.visibility_timeout_seconds,
        }
        for step, w in workers().items()
    }
    assert terraform_queues() == local_topology["queues"] == config


def test_dispatch_retries_and_failure_queue_match_the_local_stack(local_topology):
    scope = Scope(root())
    queue = root().resources[("aws_sqs_queue", "dispatch_failures")]
    config = root().resources[("aws_lambda_function_event_invoke_config", "dispatch_tasks")]
    destination = evaluate(config["destination_config"][0]["on_failure"][0]["destination"], scope)
    declared = {
        "queue": evaluate(queue["name"], scope),
        "retention_seconds": evaluate(queue["message_retention_seconds"], scope),
        # Lambda invokes once, then retries maximum_retry_attempts times; locally each try is a receive.
        "invocations": 1 + evaluate(config["maximum_retry_attempts"], scope),
        "destination": destination.resource_name,
    }
    assert declared == local_topology["dispatch_failures"]
    dispatch = settings().dispatch
    assert declared == {
        "queue": dispatch.failure_queue,
        "retention_seconds": settings().retention.dead_letters_seconds,
        "invocations": 1 + dispatch.maximum_retry_attempts,
        "destination": dispatch.failure_queue,
    }
    assert set(local_topology["target"].queues) >= {"_dispatch_failures", "_s3_events"}
    assert local_topology["target"].dispatch_function == settings().dispatch_function


def test_subscriptions_filter_policies_and_raw_delivery_match_the_local_stack(local_topology):
    declared = terraform_subscriptions()
    # Locally S3 also notifies a local-only queue; on AWS S3 invokes dispatch-tasks directly.
    assert declared == local_topology["subscriptions"]
    assert set(declared) == {w.queue for w in workers().values()}
    steps_attribute = settings().topic.steps_attribute
    assert [list(d["filter_policy"]) for d in declared.values()] == [[steps_attribute]] * len(declared)


def test_subscription_filter_scope_is_message_attributes_like_the_local_stack():
    subscription = child("messaging").resources[("aws_sns_topic_subscription", "this")]
    assert subscription.get("filter_policy_scope", "MessageAttributes") == "MessageAttributes"


def test_state_machine_is_express_and_renders_the_same_definition_as_the_local_stack(local_topology):
    scope = Scope(root()).call("reconciler", child("reconciler"))
    machine = child("reconciler").resources[("aws_sfn_state_machine", "this")]
    assert evaluate(machine["type"], scope) == local_topology["state_machine"]["type"] == "EXPRESS"
    assert (
        evaluate(machine["name"], scope)
        == local_topology["state_machine"]["name"]
        == settings().state_machine.name
    )

    template = re.fullmatch(
        r"templatefile\(var\.definition_file, (\{.*\})\)", expression(machine["definition"])
    )
    assert template, expression(machine["definition"])
    definition_file = Path(evaluate("${var.definition_file}", scope))
    assert definition_file.resolve() == REPO_ROOT / settings().state_machine.definition
    variables = evaluate_expression(template.group(1), scope)
    text = definition_file.read_text()
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "the ASL uses a template variable Terraform does not pass"
    rendered = json.loads(text)
    assert json.dumps(rendered, indent=1, sort_keys=True) == json.dumps(
        local_topology["state_machine"]["definition"], indent=1, sort_keys=True
    )


def test_jobs_table_keys_and_status_index_match_the_local_stack(local_topology):
    scope = Scope(root()).call("jobs_table", child("jobs_table"))
    table = child("jobs_table").resources[("aws_dynamodb_table", "this")]
    assert evaluate(table["name"], scope) == local_topology["target"].jobs_table == settings().table.name
    assert table["hash_key"] == local_topology["table"]["hash_key"]
    indexes = {
        evaluate(index["name"], scope): ([index["hash_key"], index["range_key"]], index["projection_type"])
        for index in table["global_secondary_index"]
    }
    assert indexes == local_topology["table"]["indexes"]
    assert settings().table.status_index in indexes and settings().table.deadline_index in indexes
    assert table["billing_mode"] == "PAY_PER_REQUEST"


# ---------------------------------------------------------------------------------------------------------
# Functions: handler, settings and environment variable names
# ---------------------------------------------------------------------------------------------------------
def terraform_functions() -> dict[str, dict[str, Any]]:
    """Every deployed function by its pipeline.json name: handler, settings, environment."""
    top = Scope(root())
    lambda_module = child("lambda_function")
    function = lambda_module.resources[("aws_lambda_function", "this")]
    declared = {}

    def read(scope: Scope) -> dict[str, Any]:
        environment = evaluate(function["environment"][0]["variables"], scope)
        return {
            "function_name": evaluate(function["function_name"], scope),
            "handler": evaluate(function["handler"], scope),
            "timeout_seconds": evaluate(function["timeout"], scope),
            "memory_mb": evaluate(function["memory_size"], scope),
            "environment": environment,
        }

    for block in ("dispatch_tasks", "api"):
        declared_function = read(top.call(block, lambda_module))
        declared[declared_function["function_name"]] = declared_function
    sweeper_scope = top.call("sweeper", child("sweeper")).call("function", lambda_module)
    declared_function = read(sweeper_scope)
    declared[declared_function["function_name"]] = declared_function
    for step in workers():
        worker_scope = top.call("worker", child("worker"), each_key=step).call("function", lambda_module)
        declared_function = read(worker_scope)
        declared[declared_function["function_name"]] = declared_function
    return declared


def expected_functions() -> dict[str, dict[str, Any]]:
    return {
        name: {"handler": spec.handler, "timeout_seconds": spec.timeout_seconds, "memory_mb": spec.memory_mb}
        for name, spec in settings().functions.items()
    }


def test_terraform_deploys_every_function_in_pipeline_json_with_its_handler_and_limits():
    declared = terraform_functions()
    assert {
        name: {k: f[k] for k in ("handler", "timeout_seconds", "memory_mb")} for name, f in declared.items()
    } == expected_functions()


def test_each_function_gets_the_environment_variable_names_the_local_stack_gives_it():
    resources = Resources(
        table="table",
        topic_arn="topic",
        state_machine_arn="machine",
        upload_bucket="uploads",
        thumbnail_bucket="thumbnails",
    )
    for name, declared in terraform_functions().items():
        local = lambda_environment(resources, name, label_backend="rekognition")
        assert sorted(declared["environment"]) == sorted(local), name
        assert declared["environment"]["POWERTOOLS_SERVICE_NAME"] == local["POWERTOOLS_SERVICE_NAME"]
        assert (
            declared["environment"]["POWERTOOLS_METRICS_NAMESPACE"] == local["POWERTOOLS_METRICS_NAMESPACE"]
        )
        if "WORKER_STEP" in local:
            assert declared["environment"]["WORKER_STEP"] == local["WORKER_STEP"]
        if "LABEL_BACKEND" in local:
            assert declared["environment"]["LABEL_BACKEND"] == "rekognition"  # never the offline model on AWS


def test_event_source_mappings_take_batching_and_concurrency_from_pipeline_json():
    top = Scope(root())
    mapping = child("worker").resources[("aws_lambda_event_source_mapping", "this")]
    for step, worker in workers().items():
        scope = top.call("worker", child("worker"), each_key=step)
        assert evaluate(mapping["batch_size"], scope) == worker.batch_size
        assert (
            evaluate(mapping["maximum_batching_window_in_seconds"], scope) == worker.batching_window_seconds
        )
        assert evaluate(mapping["scaling_config"][0]["maximum_concurrency"], scope) == worker.max_concurrency
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert expression(mapping["event_source_arn"]) == "var.queue_arn"
    # The worker consumes the queue messaging declares for its own step.
    assert expression(root().modules["worker"]["queue_arn"]) == "module.messaging.queues[each.key].arn"
    assert "arn = queue.arn" in expression(child("messaging").outputs["queues"]["value"])
    assert "in aws_sqs_queue.this" in expression(child("messaging").outputs["queues"]["value"])


def test_s3_notifies_dispatch_tasks_for_the_upload_prefix_only(local_topology):
    scope = Scope(root()).call("storage", child("storage"))
    notification = child("storage").resources[("aws_s3_bucket_notification", "uploads")]
    target = notification["lambda_function"][0]
    prefix = settings().storage.upload_prefix
    assert evaluate(target["filter_prefix"], scope) == local_topology["target"].upload_prefix == prefix
    assert target["events"] == ["s3:ObjectCreated:*"]
    assert expression(target["lambda_function_arn"]) == "var.dispatch_function_arn"
    assert (
        expression(root().modules["storage"]["dispatch_function_arn"]) == "module.dispatch_tasks.function_arn"
    )


def test_cli_target_output_has_exactly_the_fields_of_the_cli_target():
    from dataclasses import fields

    from pixelpipe_cli.target import Target

    value = root().outputs["cli_target"]["value"]
    assert set(value) == {f.name for f in fields(Target)}
    assert set(value["queues"]) == set() or True  # a for-expression: checked below by its text
    queues_text = expression(value["queues"])
    for key in ("url", "arn", "dlq_url", "dlq_arn"):
        assert f"{key} = queue.{key}" in queues_text
    assert value["endpoint_url"] is None  # the CLI talks to AWS with the normal credential chain


def test_cli_target_names_the_log_group_the_state_machine_writes_every_event_to():
    # `job --history` and `graph` read an Express execution's history there on AWS: it must be the group
    # the machine logs to, at level ALL with execution data (states' input and output).
    value = root().outputs["cli_target"]["value"]
    assert expression(value["state_machine_log_group"]) == "module.reconciler.log_group_name"
    reconciler = child("reconciler")
    assert expression(reconciler.outputs["log_group_name"]["value"]) == "aws_cloudwatch_log_group.this.name"
    logging = reconciler.resources[("aws_sfn_state_machine", "this")]["logging_configuration"][0]
    assert (logging["level"], logging["include_execution_data"]) == ("ALL", True)
    assert expression(logging["log_destination"]).startswith("${aws_cloudwatch_log_group.this.arn}")
