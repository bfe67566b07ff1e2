"""Static checks of terraform/ (no Terraform binary here; CI runs fmt/validate/plan).

Every .tf file parses; queues, Lambdas and IAM follow the rules in docs/deploy.md and shared/STYLE.md.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from tf_model import (
    TERRAFORM,
    ResourceRef,
    Scope,
    blocks,
    child,
    comments,
    evaluate,
    expression,
    load_module,
    module_dirs,
    parse_file,
    root,
    tf_files,
)

from pixelpipe.config import S3Source, settings, workers

# ---------------------------------------------------------------------------------------------------------
# What each function calls (from the handlers and adapters under lambdas/pixelpipe), and nothing more.
# ---------------------------------------------------------------------------------------------------------
EVERY_FUNCTION = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
EXPECTED_ACTIONS = {
    "dispatch-tasks": {
        "s3:GetObjectVersion",  # HeadObject with the version id S3 reported (the bucket is versioned)
        "s3:ListBucket",  # so S3 answers a HEAD of a deleted upload 404 (skipped), not 403 (retried)
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "sqs:SendMessage",  # Lambda delivers the on-failure record with the function's execution role
    },
    "sweeper": {"dynamodb:Query", "states:StartExecution"},
    "api": {
        "dynamodb:GetItem",  # GET /jobs/{id}, GET /uploads/{id}
        "dynamodb:Query",  # GET /jobs pages the status index
        "dynamodb:UpdateItem",  # POST /jobs/{id}/retry reopens the job
        "sns:Publish",  # ... and publishes its message
        "s3:PutObject",  # the presigned POST is signed with the function's role
        "s3:GetObject",  # HEAD of an upload; the thumbnails' presigned GET URLs
        "s3:ListBucket",  # so a HEAD of a not-yet-uploaded key is 404, not 403
    },
}
EVERY_WORKER = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "dynamodb:UpdateItem",
    "states:StartExecution",
}
# What a worker calls beyond EVERY_WORKER, keyed like terraform's worker_extra_policies by the worker's
# result field; a worker listed nowhere calls nothing more (test_least_privilege runs the code to prove it).
WORKER_EXTRA_ACTIONS = {"thumbnails": {"s3:PutObject"}, "labels": {"rekognition:DetectLabels"}}
# A traced Express state machine that logs to CloudWatch needs these, all without resource-level permission.
STATE_MACHINE_TRACING = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
STATE_MACHINE_LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
STATE_MACHINE_ACTIONS = {
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "cloudwatch:PutMetricData",
    "events:PutEvents",
    *STATE_MACHINE_TRACING,
    *STATE_MACHINE_LOG_DELIVERY,
}
# Actions AWS offers no resource-level permission for: the only ones allowed on "*".
NO_RESOURCE_LEVEL = {
    *STATE_MACHINE_TRACING,
    *STATE_MACHINE_LOG_DELIVERY,
    "rekognition:DetectLabels",
    "cloudwatch:PutMetricData",
}
# The resource each service's actions must name (by the reference expression in the .tf).
RESOURCE_OF_SERVICE = {
    "sqs": r"^(var\.queue_arn|aws_sqs_queue\.dispatch_failures\.arn)$",
    "dynamodb": r"(table_arn|jobs_table_arn)",
    "sns": r"^module\.messaging\.topic_arn$",
    "states": r"state_machine_arn$",
    "lambda": r"^module\.function\.function_arn$",
    "logs": r"aws_cloudwatch_log_group\.this\.arn",
    "events": r"^var\.event_bus_arn$",
}


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tf_file_parses_with_python_hcl2(path: Path):
    assert parse_file(path), f"{path} is empty"


def test_the_root_module_reads_names_from_pipeline_json():
    assert expression(root().locals["config"]) == 'jsondecode(file("${path.module}/../pipeline.json"))'
    config = settings()
    names = [
        *(name for w in config.workers.values() for name in (w.queue, w.dlq, w.function)),
        config.table.name,
        config.table.status_index,
        config.topic.name,
        config.state_machine.name,
        config.storage.upload_bucket,
        config.storage.thumbnail_bucket,
        config.dispatch.failure_queue,
    ]
    for path in tf_files():
        text = path.read_text()
        for name in names:
            assert f'"{name}"' not in text, f"{path} copies the name {name!r} from pipeline.json"


# ---------------------------------------------------------------------------------------------------------
# Queues
# ---------------------------------------------------------------------------------------------------------
def test_the_config_gives_every_queue_a_visibility_timeout_of_six_function_timeouts():
    for step, worker in workers().items():
        assert worker.visibility_timeout_seconds >= 6 * worker.timeout_seconds, step
        assert worker.max_receive_count >= 5, step


def test_every_queue_has_a_dlq_with_max_receive_count_and_visibility_from_config():
    messaging = child("messaging")
    scope = Scope(root()).call("messaging", messaging)
    queues = messaging.resources_of("aws_sqs_queue")
    assert set(queues) == {"this", "dlq"}
    queue = queues["this"]
    assert set(evaluate(queue["for_each"], scope)) == set(workers())
    for step, worker in workers().items():
        inner = scope.with_each(queue["for_each"], step)
        policy = expression(queue["redrive_policy"])
        assert "deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn" in policy
        assert "maxReceiveCount = each.value.max_receive_count" in policy
        visibility = evaluate(queue["visibility_timeout_seconds"], inner)
        assert visibility == worker.visibility_timeout_seconds
        # and the function behind the queue gets the timeout the queue was sized for
        worker_scope = Scope(root()).call("worker", child("worker"), each_key=step)
        timeout = evaluate("${var.timeout_seconds}", worker_scope)
        assert visibility >= 6 * timeout, step
    for body in queues.values():
        assert body["sqs_managed_sse_enabled"] is True


def test_only_the_jobs_topic_may_send_to_a_worker_queue():
    policy = child("messaging").data_of("aws_iam_policy_document")["queue"]
    (statement,) = blocks(policy, "statement")
    assert statement["actions"] == ["sqs:SendMessage"]
    (condition,) = blocks(statement, "condition")
    assert condition["variable"] == "aws:SourceArn"
    assert expression(condition["values"][0]) == "aws_sns_topic.this.arn"


# ---------------------------------------------------------------------------------------------------------
# dispatch-tasks' failed async invocations: retried, then kept in a queue (never dropped)
# ---------------------------------------------------------------------------------------------------------
def dispatch_config() -> S3Source:
    return settings().dispatch


def test_dispatch_retries_from_config_then_sends_failures_to_the_failure_queue():
    configs = [
        (m.path.name, name, body)
        for m in all_modules()
        for name, body in m.resources_of("aws_lambda_function_event_invoke_config").items()
    ]
    assert [(m, n) for m, n, _ in configs] == [("terraform", "dispatch_tasks")]
    _, _, config = configs[0]
    scope = Scope(root())
    assert expression(config["function_name"]) == "module.dispatch_tasks.function_name"
    retries = evaluate(config["maximum_retry_attempts"], scope)
    assert retries == dispatch_config().maximum_retry_attempts and 0 <= retries <= 2
    assert "qualifier" not in config  # the unqualified function: every invocation S3 makes
    (destinations,) = blocks(config, "destination_config")
    assert "on_success" not in destinations
    (on_failure,) = blocks(destinations, "on_failure")
    destination = evaluate(on_failure["destination"], scope)
    assert isinstance(destination, ResourceRef)
    assert (destination.kind, destination.name, destination.attribute) == (
        "aws_sqs_queue",
        "dispatch_failures",
        "arn",
    )
    assert destination.resource_name == dispatch_config().failure_queue
    # created after the role policy that lets Lambda send there (Lambda checks it)
    assert "${module.dispatch_tasks}" in config["depends_on"]


def test_the_failure_queue_is_encrypted_and_keeps_messages_for_the_dead_letter_retention():
    queue = root().resources[("aws_sqs_queue", "dispatch_failures")]
    assert queue["sqs_managed_sse_enabled"] is True
    assert (
        evaluate(queue["message_retention_seconds"], Scope(root()))
        == settings().retention.dead_letters_seconds
    )
    assert (
        "redrive_policy" not in queue and "fifo_queue" not in queue
    )  # a standard queue: a valid destination


def test_only_dispatch_may_send_to_the_failure_queue_and_only_there():
    sends = [
        (owner, statement)
        for owner, statement in every_runtime_statement()
        if any(a.startswith("sqs:Send") for a in statement["actions"])
    ]
    assert [owner for owner, _ in sends] == ["dispatch-tasks"]
    ((_, statement),) = sends
    assert statement["actions"] == ["sqs:SendMessage"]
    assert [expression(r) for r in statement["resources"]] == ["aws_sqs_queue.dispatch_failures.arn"]


def test_the_failure_queue_is_alarmed_output_and_in_the_cli_target():
    scope = Scope(root()).call("observability", child("observability"))
    alarm = child("observability").resources[("aws_cloudwatch_metric_alarm", "dead_letters")]
    # one alarm per queue in local.dead_letter_queues: every worker's DLQ, and the failure queue
    assert expression(alarm["for_each"]) == "local.dead_letter_queues"
    queues = expression(child("observability").locals["dead_letter_queues"])
    assert "for step, q in var.queues : q.dlq_name =>" in queues
    assert "(var.dispatch_failures_queue) =" in queues
    failure_queue = evaluate("${var.dispatch_failures_queue}", scope)
    assert failure_queue == dispatch_config().failure_queue
    alarm_for_it = dataclasses.replace(scope, each_key=failure_queue)
    assert evaluate(alarm["dimensions"], alarm_for_it) == {"QueueName": failure_queue}
    assert alarm["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["comparison_operator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    assert expression(root().modules["observability"]["dispatch_failures_queue"]) == (
        "aws_sqs_queue.dispatch_failures.name"
    )
    output = expression(root().outputs["dispatch_failures_queue"]["value"])
    assert "aws_sqs_queue.dispatch_failures.url" in output and "aws_sqs_queue.dispatch_failures.arn" in output
    target = root().outputs["cli_target"]["value"]
    queues = expression(target["queues"])
    assert (
        '"_dispatch_failures" = {url = aws_sqs_queue.dispatch_failures.url, '
        "arn = aws_sqs_queue.dispatch_failures.arn}" in queues
    )
    assert expression(target["dispatch_function"]) == "module.dispatch_tasks.function_name"


# ---------------------------------------------------------------------------------------------------------
# Lambdas
# ---------------------------------------------------------------------------------------------------------
def all_modules():
    return [load_module(TERRAFORM), *(load_module(p) for p in module_dirs())]


def test_every_lambda_is_built_by_the_lambda_function_module_with_active_tracing_and_its_own_log_group():
    functions = [
        (m.path.name, name, body)
        for m in all_modules()
        for name, body in m.resources_of("aws_lambda_function").items()
    ]
    assert [(m, n) for m, n, _ in functions] == [("lambda_function", "this")]
    _, _, function = functions[0]
    assert function["tracing_config"][0]["mode"] == "Active"
    assert function["architectures"] == ["arm64"]
    assert function["runtime"] == "python3.12"
    assert "reserved_concurrent_executions" not in function
    assert expression(function["logging_config"][0]["log_group"]) == "aws_cloudwatch_log_group.this.name"
    log_group = child("lambda_function").resources[("aws_cloudwatch_log_group", "this")]
    assert expression(log_group["name"]) == "/aws/lambda/${var.function_name}" or (
        log_group["name"] == "/aws/lambda/${var.function_name}"
    )
    assert expression(log_group["retention_in_days"]) == "var.log_retention_days"
    assert root().variables["log_retention_days"]["default"] > 0


def test_the_state_machine_logs_everything_to_its_own_log_group_and_traces():
    machine = child("reconciler").resources[("aws_sfn_state_machine", "this")]
    (logging,) = machine["logging_configuration"]
    assert logging["level"] == "ALL" and logging["include_execution_data"] is True
    assert "aws_cloudwatch_log_group.this.arn" in logging["log_destination"]
    assert machine["tracing_configuration"][0]["enabled"] is True
    assert "retention_in_days" in child("reconciler").resources[("aws_cloudwatch_log_group", "this")]


def test_the_sweeper_runs_at_the_configured_interval():
    scope = Scope(root()).call("sweeper", child("sweeper"))
    schedule = child("sweeper").resources[("aws_scheduler_schedule", "this")]
    minutes = settings().limits.sweep_interval_seconds / 60
    expected = "rate(1 minute)" if minutes == 1 else f"rate({int(minutes)} minutes)"
    assert evaluate(schedule["schedule_expression"], scope) == expected


def test_terraform_deploys_exactly_the_workers_of_pipeline_json_under_their_function_names():
    # Evaluated from Terraform's own expressions: a worker entry in pipeline.json is a worker module
    # instance and a queue pair (tests/terraform/test_added_worker_terraform.py adds one and follows it).
    top = Scope(root())
    assert list(evaluate(root().modules["worker"]["for_each"], top)) == list(workers())
    assert list(evaluate(root().modules["messaging"]["workers"], top)) == list(workers())
    for step, worker in workers().items():
        inner = top.call("worker", child("worker"), each_key=step)
        assert evaluate("${var.function_name}", inner) == worker.function
        assert evaluate("${var.step}", inner) == step
    assert all("for_each" in body for body in child("messaging").resources.values() if "each." in str(body))


# ---------------------------------------------------------------------------------------------------------
# IAM: exactly the calls each function makes; "*" only where AWS has no resource-level permission
# ---------------------------------------------------------------------------------------------------------
def statements(module_name: str | None, document: str) -> list[dict[str, Any]]:
    module = root() if module_name is None else child(module_name)
    return blocks(module.data_of("aws_iam_policy_document")[document], "statement")


def actions(statement_list: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statement_list for action in statement["actions"]}


def lambda_statements() -> list[dict[str, Any]]:
    return statements("lambda_function", "this")


def worker_extra_statements(step: str) -> list[dict[str, Any]]:
    scope = Scope(root()).call("worker", child("worker"), each_key=step)
    documents = evaluate("${var.extra_policy_documents}", scope)
    found = []
    for document in documents:
        match = re.fullmatch(r"<data\.aws_iam_policy_document\.(\w+)\.json>", document)
        assert match, document
        found.extend(statements(None, match.group(1)))
    return found


def function_statements() -> dict[str, list[dict[str, Any]]]:
    config = settings()
    result = {
        config.dispatch_function: statements(None, "dispatch_tasks"),
        config.sweeper_function: statements("sweeper", "this"),
    }
    if config.api_function:
        result[config.api_function] = statements(None, "api")
    for step, worker in config.workers.items():
        result[worker.function] = statements("worker", "this") + worker_extra_statements(step)
    assert sorted(result) == sorted(config.functions)
    return result


def test_the_expected_action_table_names_only_configured_workers_result_fields():
    assert set(WORKER_EXTRA_ACTIONS) <= {w.result_field for w in workers().values()}


def test_every_function_is_granted_exactly_the_actions_it_calls():
    assert actions(lambda_statements()) == EVERY_FUNCTION
    for name, own in function_statements().items():
        worker = settings().worker_of(name)
        extra = WORKER_EXTRA_ACTIONS.get(worker.result_field, set()) if worker else set()
        expected = EVERY_WORKER | extra if worker else EXPECTED_ACTIONS[name]
        assert actions(own) == expected, name


def test_the_state_machine_and_the_schedule_are_granted_exactly_what_they_use():
    assert actions(statements("reconciler", "this")) == STATE_MACHINE_ACTIONS
    assert actions(statements("sweeper", "scheduler")) == {"lambda:InvokeFunction"}


def every_runtime_statement() -> list[tuple[str, dict[str, Any]]]:
    found = [("lambda_function", s) for s in lambda_statements()]
    found += [(name, s) for name, own in function_statements().items() for s in own]
    found += [("reconciler", s) for s in statements("reconciler", "this")]
    found += [("scheduler", s) for s in statements("sweeper", "scheduler")]
    return found


def test_star_resources_only_for_actions_without_resource_level_permissions_each_with_a_comment():
    for owner, statement in every_runtime_statement():
        if "*" in statement["resources"]:
            assert statement["resources"] == ["*"], owner
            assert set(statement["actions"]) <= NO_RESOURCE_LEVEL, (owner, statement["actions"])
            assert any("resource-level" in c for c in comments(statement)), (owner, statement.get("sid"))


def test_every_scoped_statement_names_the_resource_its_service_owns():
    for owner, statement in every_runtime_statement():
        if statement["resources"] == ["*"]:
            continue
        services = {action.split(":")[0] for action in statement["actions"]}
        assert len(services) == 1, (owner, statement["actions"])
        (service,) = services
        references = [expression(r) for r in statement["resources"]]
        if service == "s3" and statement["actions"] == ["s3:ListBucket"]:
            # a bucket-level action: the upload bucket itself, never its objects or another bucket
            assert references == ["module.storage.upload_bucket_arn"], (owner, references)
        elif service == "s3" and owner == settings().api_function:
            # the front door signs uploads into the upload prefix and thumbnail URLs, nothing else
            assert len(references) == 1, (owner, references)
            bucket, prefix = (
                ("upload", "upload_prefix")
                if "upload" in references[0]
                else ("thumbnail", "thumbnail_prefix")
            )
            assert bucket in references[0] and prefix in references[0] and references[0].endswith("*"), (
                references
            )
            if bucket == "thumbnail":
                assert statement["actions"] == ["s3:GetObject"], statement["actions"]
        elif service == "s3":
            writes = any(a == "s3:PutObject" for a in statement["actions"])
            bucket, prefix = ("thumbnail", "thumbnail_prefix") if writes else ("upload", "upload_prefix")
            assert all(bucket in r and prefix in r and r.endswith("*") for r in references), (
                owner,
                references,
            )
        else:
            assert all(re.search(RESOURCE_OF_SERVICE[service], r) for r in references), (owner, references)


# ---------------------------------------------------------------------------------------------------------
# Module layout (terraform-aws-modules style)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("directory", [*module_dirs(), TERRAFORM / "bootstrap"], ids=lambda p: p.name)
def test_every_module_has_the_standard_files_and_documents_its_inputs_and_outputs(directory: Path):
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (directory / name).is_file(), f"{directory.name}/{name}"
    module = load_module(directory)
    for name, variable in module.variables.items():
        assert variable.get("description"), f"{directory.name}: variable {name} has no description"
        assert "type" in variable, f"{directory.name}: variable {name} has no type"
    for name, output in module.outputs.items():
        assert output.get("description"), f"{directory.name}: output {name} has no description"
    if directory.parent.name == "modules":
        readme = (directory / "README.md").read_text()
        for name in [*module.variables, *module.outputs]:
            assert f"`{name}`" in readme, f"{directory.name}/README.md does not list {name}"


def test_versions_pin_terraform_and_the_aws_provider():
    versions = parse_file(TERRAFORM / "versions.tf")["terraform"][0]
    assert versions["required_version"] == ">= 1.10"
    assert versions["required_providers"][0]["aws"]["version"] == "~> 6.0"
    backend = parse_file(TERRAFORM / "backend.tf")["terraform"][0]["backend"][0]["s3"]
    assert backend["use_lockfile"] is True
