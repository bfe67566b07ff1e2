"""The viewer and operator policies (terraform/bootstrap/operator_access.tf: the administrator's, never
CI's) hold exactly the calls the CLI and the console make, on this stack's resources: recorded from a
real run of every command and page against a local stack (the call recorder of the Lambdas'
least-privilege test, hooked on this process's boto3 session), plus the AWS-only calls of the code paths
the local stack cannot run, each recorded from that path against a stubbed client answering as the API
reference says. The bootstrap computes the stack's ARNs from pipeline.json names; the last tests hold
them to the main stack's own resources.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from iam_policy import ALLOW, Statement, decide, document
from starlette.testclient import TestClient
from test_deploy_roles import BOOTSTRAP, bootstrap_scope
from test_least_privilege import arn
from tf_model import ACCOUNT, PARTITION, REGION, Scope, arn_of, evaluate, load_module, root

from pixelpipe.config import settings, workers
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.redrivers import MoveTaskRedriver, RedriveReport
from pixelpipe_cli.workflow_sources import fetch_log_trace
from pixelpipe_console.app import create_app
from pixelpipe_emulator.boto_session import default_session
from pixelpipe_emulator.call_recorder import CallRecorder, RecordedCall, read_calls
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import change_every_worker, cli, use_changed_config, wait_until

# The IAM action of an API operation, where the two differ.
ACTION_OF = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("monitoring", "GetMetricStatistics"): "cloudwatch:GetMetricStatistics",
}
# Calls only the local stack's branch makes (Target.is_local), never made against AWS: not granted.
LOCAL_ONLY = {
    # workflow_sources._local_executions: AWS keeps no history of Express executions (logs instead)
    "states:GetExecutionHistory",
    "states:DescribeExecution",
    # redrivers.LocalRedriver: moto has no StartMessageMoveTask; the CLI moves messages itself
    "sqs:SendMessage",
    "sqs:DeleteMessage",
}
# Calls only the AWS branch makes, each with the code path that makes it (recorded below, stubbed).
AWS_ONLY_VIEWER = {"logs:FilterLogEvents"}  # workflow_sources._aws_executions
AWS_ONLY_OPERATOR = {
    "sqs:ChangeMessageVisibility",  # redrivers.MoveTaskRedriver.move (unhide before the task)
    "sqs:StartMessageMoveTask",  # redrivers.MoveTaskRedriver.move
    "sqs:ListMessageMoveTasks",  # redrivers.MoveTaskRedriver._follow
    "lambda:InvokeFunction",  # redrivers.MoveTaskRedriver.redeliver (dispatch failures)
    "sqs:DeleteMessage",  # dlq.dispatch_redrive: a re-delivered dispatch failure leaves its queue
}
# Allowed, not called by the CLI itself: the move task SQS runs with the caller's permissions sends into
# the worker queue (SQS Developer Guide, "Configure a dead-letter queue redrive ... permissions").
GRANTED_FOR_THE_MOVE_TASK = {"sqs:SendMessage"}

CONSOLE, TOKEN = "http://127.0.0.1:8484", "operator-access-test-token"


def policy(name: str) -> list[Statement]:
    """The bootstrap's `viewer` or `operator` policy document, evaluated as the bootstrap renders it."""
    return document(load_module(BOOTSTRAP), name, bootstrap_scope())


def action_of(call: RecordedCall) -> str:
    return ACTION_OF.get((call.service, call.operation), f"{call.service}:{call.operation}")


def resource_arn(call: RecordedCall, action: str) -> str:
    """The ARN Terraform names for what the call touched (the least-privilege test's mapping, extended)."""
    if call.service == "states" and call.resource == "*":  # an execution, by its ARN
        machine = settings().state_machine.name
        return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:express:{machine}:run:1"
    if call.service in ("xray", "monitoring", "cloudwatch"):
        return "*"
    if call.service == "dynamodb" and "/index/" in call.resource:
        table, _, index = call.resource.partition("/index/")
        return arn("dynamodb", table) + f"/index/{index}"
    return arn(call.service, call.resource)


# ---------------------------------------------------------------------------------------------------------
# The run: every command and page, as a viewer, then as an operator
# ---------------------------------------------------------------------------------------------------------
VIEWER_PAGES = [
    "/jobs",
    "/jobs/rows",
    "/jobs/stats",
    "/jobs/{job}",
    "/jobs/{job}/details",
    "/jobs/{job}/thumbnails/0",
    "/queues",
    "/queues/workers",
    "/pipeline",
    "/pipeline/map",
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[RecordedCall]]:
    tmp_path = tmp_path_factory.mktemp("operator-access")
    monkeypatch = pytest.MonkeyPatch()

    def quick(config: dict[str, Any]) -> None:
        change_every_worker(config, max_receive_count=2, retry_backoff_seconds=0, batching_window_seconds=0)

    use_changed_config(tmp_path, monkeypatch, quick)
    try:
        with LocalStack(tmp_path / "stack") as stack:
            client = JobsClient(stack.target)
            # without the thumbnails bucket resize fails until it gives up: a FAILED job, a dead letter
            client.s3.delete_bucket(Bucket=stack.target.thumbnail_bucket)
            dead = client.upload(SAMPLES / "cat.png")
            wait_until(lambda: (client.get(dead) or {}).get("status") == "FAILED", timeout=90)
            client.s3.create_bucket(Bucket=stack.target.thumbnail_bucket)
            done = client.upload(SAMPLES / "coffee.png")
            jobs = client.wait([done], timeout=90)
            assert jobs[done]["status"] == "COMPLETE", jobs[done]
            # a message waiting in a worker queue: the queues page then reads its age from CloudWatch
            stack.stop_function(workers()["resize"].function)
            client.upload(SAMPLES / "rocket.jpg")
            wait_until(lambda: cli(stack, "trace", done, "--json").exit_code == 0, timeout=30)

            calls_dir = tmp_path / "calls"
            viewer = CallRecorder("viewer", calls_dir)
            operator = CallRecorder("operator", calls_dir)
            session = default_session()
            session.events.register("provide-client-params", viewer.on_call)
            session.events.register("provide-client-params", operator.on_call)

            def as_viewer() -> None:
                out = tmp_path / "out"
                for args in (
                    ["jobs"],
                    ["jobs", "--status", "FAILED"],
                    ["job", done],
                    ["job", done, "--history"],
                    ["job", done, "--download", str(out)],
                    ["graph", done, "--out", str(out / "graph.svg")],
                    ["trace", done, "--json"],
                    ["slow", "--json"],
                    ["cost", "--json", "--limit", "5"],
                    ["dlq", "list"],
                ):
                    result = cli(stack, *args)
                    assert result.exit_code == 0, (args, result.output)
                browser = TestClient(
                    create_app(lambda: stack.target, port=8484), base_url="http://127.0.0.1:8484"
                )
                for page in VIEWER_PAGES:
                    answer = browser.get(page.format(job=done))
                    assert answer.status_code == 200, (page, answer.text[:300])

            def as_operator() -> None:
                # the console's buttons (the same operations as the CLI's), then the CLI's commands
                console = TestClient(
                    create_app(lambda: stack.target, port=8484, token=TOKEN), base_url=CONSOLE
                )
                headers = {"Origin": CONSOLE, "X-Console-Token": TOKEN, "HX-Request": "true"}
                for action in (f"/jobs/{dead}/retry", "/queues/all/redrive", "/actions/retry-failed"):
                    answer = console.post(action, headers=headers)
                    assert answer.status_code == 200, (action, answer.text[:300])
                for args in (["retry", "--failed"], ["retry", done, "--force"], ["dlq", "redrive"]):
                    result = cli(stack, *args)
                    assert result.exit_code in (0, 1), (args, result.output)

            try:
                viewer.wrap(as_viewer)()
                operator.wrap(as_operator)()
            finally:
                session.events.unregister("provide-client-params", viewer.on_call)
                session.events.unregister("provide-client-params", operator.on_call)
        calls = read_calls(calls_dir)
    finally:
        monkeypatch.undo()
    by_role = {"viewer": [c for c in calls if c.function == "viewer"]}
    by_role["operator"] = [c for c in calls if c.function == "operator"]
    assert by_role["viewer"] and by_role["operator"], "nothing was recorded"
    return by_role


def aws_only_calls() -> dict[str, list[RecordedCall]]:
    """The AWS branches, run against clients stubbed with API-reference answers, through the recorder."""
    queue = next(iter(workers().values()))
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    functions = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    recorder = CallRecorder("operator", Path(tempfile.mkdtemp()))
    for client in (sqs, functions):
        client.meta.events.register("provide-client-params", recorder.on_call)
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/"
    queues = {
        "url": url + queue.queue,
        "arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.queue}",
        "dlq_url": url + queue.dlq,
        "dlq_arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.dlq}",
    }
    redriver = MoveTaskRedriver(sqs, functions, "dispatch-tasks", wait_seconds=0, sleep=lambda _: None)
    with Stubber(sqs) as sqs_stub, Stubber(functions) as lambda_stub:
        sqs_stub.add_response("change_message_visibility_batch", {"Successful": [{"Id": "0"}], "Failed": []})
        sqs_stub.add_response("start_message_move_task", {"TaskHandle": "handle"})
        task = {"Status": "COMPLETED", "SourceArn": queues["dlq_arn"], "StartedTimestamp": 1 << 62}
        sqs_stub.add_response("list_message_move_tasks", {"Results": [task]})
        lambda_stub.add_response("invoke", {"StatusCode": 202})
        recorder.wrap(lambda: redriver.move(queues, [{"ReceiptHandle": "r"}], RedriveReport("resize", "")))()
        recorder.wrap(lambda: redriver.redeliver({"Records": []}))()
    return {"operator": list(recorder._seen)}


# ---------------------------------------------------------------------------------------------------------
# The proofs
# ---------------------------------------------------------------------------------------------------------
pytestmark = pytest.mark.e2e


def granted(statements: list[Statement]) -> set[str]:
    return {action for s in statements if s.effect == ALLOW for action in s.actions}


def test_every_call_of_every_command_and_page_is_allowed_on_what_it_touched(recorded):
    for role in ("viewer", "operator"):
        statements = policy(role)
        for call in recorded[role]:
            action = action_of(call)
            if action in LOCAL_ONLY:
                continue
            assert decide(statements, action, resource_arn(call, action)) == ALLOW, (role, call)


def test_the_viewer_holds_exactly_the_viewers_calls(recorded):
    called = {action_of(c) for c in recorded["viewer"]} - LOCAL_ONLY
    assert granted(policy("viewer")) == called | AWS_ONLY_VIEWER


def test_the_operator_holds_exactly_the_viewers_and_the_operators_calls(recorded):
    called = {action_of(c) for c in recorded["viewer"] + recorded["operator"]} - LOCAL_ONLY
    expected = called | AWS_ONLY_VIEWER | AWS_ONLY_OPERATOR | GRANTED_FOR_THE_MOVE_TASK
    assert granted(policy("operator")) == expected


def test_the_aws_only_calls_are_the_ones_the_aws_paths_make_and_are_allowed() -> None:
    made = {action_of(c) for c in aws_only_calls()["operator"]}
    assert made == AWS_ONLY_OPERATOR - {"sqs:DeleteMessage"}, made
    statements = policy("operator")
    dlq = arn("sqs", next(iter(workers().values())).dlq)
    for action in made - {"lambda:InvokeFunction"}:
        assert decide(statements, action, dlq) == ALLOW, action
    assert "lambda:InvokeFunction" in granted(statements) - granted(policy("viewer"))


def test_no_role_may_receive_from_a_live_worker_queue_or_move_messages_out_of_it() -> None:
    """A peek there would hide a job's message from its worker; a move task from it would steal work."""
    for step, worker in workers().items():
        queue, dlq = arn("sqs", worker.queue), arn("sqs", worker.dlq)
        for role in ("viewer", "operator"):
            assert decide(policy(role), "sqs:ReceiveMessage", queue) != ALLOW, (role, step)
            assert decide(policy(role), "sqs:ReceiveMessage", dlq) == ALLOW, (role, step)
        assert decide(policy("operator"), "sqs:StartMessageMoveTask", queue) != ALLOW, step
        assert decide(policy("operator"), "sqs:StartMessageMoveTask", dlq) == ALLOW, step
        assert decide(policy("viewer"), "sqs:StartMessageMoveTask", dlq) != ALLOW, step
    # the dispatch failures queue is redriven by re-invoking dispatch-tasks, never by a move task
    failures = arn("sqs", settings().dispatch.failure_queue)
    assert decide(policy("operator"), "sqs:StartMessageMoveTask", failures) != ALLOW


# Actions the Service Authorization Reference lists with no resource type: "*" is their only resource.
NO_RESOURCE_LEVEL = {"xray:BatchGetTraces", "xray:GetTraceSummaries", "cloudwatch:GetMetricStatistics"}


def test_star_only_for_actions_without_resource_level_permissions() -> None:
    for role in ("viewer", "operator"):
        for statement in policy(role):
            if "*" in statement.resources:
                assert statement.resources == ("*",), (role, statement.sid)
                assert set(statement.actions) <= NO_RESOURCE_LEVEL, (role, statement.sid)


def test_the_express_history_read_is_the_one_the_aws_path_makes_on_the_machines_log_group() -> None:
    # GIVEN the AWS branch of `job --history` / the console's job page: an Express execution's events
    # from the state machine's log group, two pages as FilterLogEvents pages them
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    recorder = CallRecorder("viewer", Path(tempfile.mkdtemp()))
    logs.meta.events.register("provide-client-params", recorder.on_call)
    group = evaluate("${module.reconciler.log_group_name}", Scope(root()))
    execution = f"arn:aws:states:us-east-1:{ACCOUNT}:express:pixelpipe-reconcile:run:1"
    with Stubber(logs) as stub:
        stub.add_response("filter_log_events", {"events": [], "nextToken": "next"})
        stub.add_response("filter_log_events", {"events": []})
        recorder.wrap(lambda: fetch_log_trace(logs, group, execution))()
    # THEN it is exactly the viewer's AWS-only read, allowed on that log group and no other
    assert {action_of(c) for c in recorder._seen} == AWS_ONLY_VIEWER
    log_group = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    assert decide(policy("viewer"), "logs:FilterLogEvents", log_group) == ALLOW
    other = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/another:*"
    assert decide(policy("viewer"), "logs:FilterLogEvents", other) != ALLOW


def test_the_bootstraps_arns_are_the_main_stacks_resources() -> None:
    """The bootstrap names the stack's resources from pipeline.json; each must be the ARN the main stack's
    own resource gets, or the policies would grant on something that does not exist."""
    stack = Scope(root())

    def stack_arn(reference: str) -> str:
        return arn_of(evaluate(reference, stack))

    table = stack_arn("${module.jobs_table.table_arn}")
    log_group = evaluate("${module.reconciler.log_group_name}", stack)
    queues = [arn("sqs", name) for w in workers().values() for name in (w.queue, w.dlq)]
    expected = {
        table,
        f"{table}/index/*",
        f"{stack_arn('${module.storage.thumbnail_bucket_arn}')}/{settings().storage.thumbnail_prefix}*",
        *queues,
        stack_arn("${aws_sqs_queue.dispatch_failures.arn}"),
        stack_arn("${module.reconciler.state_machine_arn}"),
        f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*",
        stack_arn("${module.messaging.topic_arn}"),
        stack_arn("${module.dispatch_tasks.function_arn}"),
        "*",
    }
    assert {r for s in policy("operator") for r in s.resources} == expected
    assert {r for s in policy("viewer") for r in s.resources} <= expected


def test_the_policies_are_the_bootstraps_alone() -> None:
    """CI's stack defines no viewer or operator policy (no boundary applies to people: docs/security.md)."""
    assert not root().resources_of("aws_iam_policy")
    assert "operator_access" not in root().outputs
    bootstrap = load_module(BOOTSTRAP)
    assert {"viewer", "operator"} <= set(bootstrap.resources_of("aws_iam_policy"))
    assert "operator_access" in bootstrap.outputs
