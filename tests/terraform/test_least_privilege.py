"""Least privilege, proven: every AWS call each function makes is allowed by its Terraform policy, on the
resource it touches, and every action a policy allows is either called or justified in the table below.

The calls come from running the pipeline: a stack of the test's own (the local Lambda hosts record each
handler's calls, cli/pixelpipe_cli/call_recorder.py) processes a file that is not an image and a
duplicate S3 notification of it, a photo whose resize fails transiently until it gives up and an
operator's retry completes it, and a job past its deadline that the sweeper fails. The reconcile
state machine's calls are its ASL's service integrations.
The policies are the `aws_iam_policy_document`s in terraform/, evaluated by tf_model/iam_policy.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from iam_policy import ALLOW, Statement, decide, document
from tf_model import (
    ACCOUNT,
    PARTITION,
    REGION,
    REPO_ROOT,
    Scope,
    arn_of,
    child,
    evaluate,
    root,
)

from pixelpipe.config import settings, step_names, workers
from pixelpipe.logic.jobs import SourceObject, new_job_record
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.call_recorder import RecordedCall, read_calls
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import change_every_worker, cli, use_changed_config, wait_until

pytestmark = pytest.mark.e2e

EVERY = "*"
# Actions a policy allows that the handler's code never calls, and why they are still needed.
# Keyed by (function or EVERY, action).
NOT_CALLED_BY_THE_HANDLER = {
    (EVERY, "logs:CreateLogStream"): "the Lambda runtime writes the function's output to its log group",
    (EVERY, "logs:PutLogEvents"): "the Lambda runtime writes the function's output to its log group",
    (EVERY, "xray:PutTraceSegments"): "Lambda's X-Ray daemon sends the segments (locally: UDP to a stand-in)",
    (EVERY, "xray:PutTelemetryRecords"): "Lambda's X-Ray daemon reports its own telemetry",
    # The event source mapping polls with the execution role; locally the host polls, unrecorded.
    (EVERY, "sqs:ReceiveMessage"): "the event source mapping receives the worker's batches",
    (EVERY, "sqs:DeleteMessage"): "the event source mapping deletes the batch's successes",
    (EVERY, "sqs:GetQueueAttributes"): "the event source mapping reads the queue's attributes",
    ("dispatch-tasks", "sqs:SendMessage"): (
        "Lambda sends a failed async invocation to the on-failure destination with the execution role "
        "(locally the relay queue's redrive does it)"
    ),
    ("analysis-worker", "rekognition:DetectLabels"): "AWS only; locally the offline ONNX model labels",
    ("dispatch-tasks", "s3:ListBucket"): (
        "never called: S3 answers a HEAD of a deleted upload 404 (skipped), not 403 (retried), only to a "
        "caller allowed it (tests/terraform/test_dispatch_missing_upload.py)"
    ),
    ("api", "s3:ListBucket"): (
        "never called: S3 answers a HEAD of a not-yet-uploaded key 404 (GET /uploads/{id}: not uploaded "
        "yet), not 403, only to a caller allowed it"
    ),
    **{
        (worker.function, "s3:GetObject"): (
            "a job without a pinned version (the object changed between its event and dispatch's HEAD) "
            "is read at its latest version; every other read names the version (s3:GetObjectVersion)"
        )
        for worker in workers().values()
    },
}
# Calls of the worker runtime every worker shares (handlers/worker_runtime.py: a transient failure's
# backoff): the run fails one worker transiently, and a call seen from one worker is seen for all.
WORKER_RUNTIME_ACTIONS = {"sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"}
STATE_MACHINE = "reconcile state machine"
# Step Functions calls these itself for the state machine's tracing and logging configuration.
STATE_MACHINE_SERVICE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# The IAM action an API operation needs, where the two differ.
S3_ACTIONS = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject"}


# ---------------------------------------------------------------------------------------------------------
# Terraform: each function's policy, evaluated
# ---------------------------------------------------------------------------------------------------------
def function_policies() -> dict[str, list[Statement]]:
    """Every function's execution-role policy: the lambda_function module's document (what every function
    gets, with the calling module's `policy_json` merged in), evaluated in each function's call chain."""
    lambda_function = child("lambda_function")
    top = Scope(root())
    callers = {
        "dispatch-tasks": top.call("dispatch_tasks", lambda_function),
        "sweeper": top.call("sweeper", child("sweeper")).call("function", lambda_function),
        "api": top.call("api", lambda_function),
    }
    for step, worker in workers().items():
        scope = top.call("worker", child("worker"), each_key=step)
        # The worker's queue_arn comes through the messaging module's `queues` output, a for-expression
        # over a map tf_model does not evaluate: take the ARN from that queue's own resource instead.
        scope = dataclasses.replace(scope, arguments={**scope.arguments, "queue_arn": worker_queue_arn(step)})
        callers[worker.function] = scope.call("function", lambda_function)
    return {name: document(lambda_function, "this", scope) for name, scope in callers.items()}


def worker_queue_arn(step: str) -> str:
    messaging = Scope(root()).call("messaging", child("messaging"))
    return arn_of(evaluate(f'${{aws_sqs_queue.this["{step}"].arn}}', messaging))


def state_machine_policy() -> list[Statement]:
    return document(child("reconciler"), "this", Scope(root()).call("reconciler", child("reconciler")))


def allowed_actions(statements: list[Statement]) -> set[str]:
    return {action for s in statements if s.effect == ALLOW for action in s.actions}


# ---------------------------------------------------------------------------------------------------------
# Recorded calls → (IAM action, ARN as Terraform names it, condition context)
# ---------------------------------------------------------------------------------------------------------
def deployed_bucket(local_name: str) -> str:
    """Terraform suffixes the config's bucket names with the account id (names are global); locally bare."""
    storage = settings().storage
    outputs = {
        storage.upload_bucket: "upload_bucket_name",
        storage.thumbnail_bucket: "thumbnail_bucket_name",
    }
    return evaluate(f"${{module.storage.{outputs[local_name]}}}", Scope(root()))


def arn(service: str, resource: str) -> str:
    if resource == EVERY:
        return EVERY
    if service == "s3":
        bucket, _, key = resource.partition("/")
        return f"arn:{PARTITION}:s3:::{deployed_bucket(bucket)}" + (f"/{key}" if key else "")
    shape = {
        "dynamodb": "table/{}",
        "sns": "{}",
        "sqs": "{}",
        "states": "stateMachine:{}",
        "events": "event-bus/{}",
    }[service]
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:" + shape.format(resource)


def presigned_post(call: RecordedCall) -> bool:
    """botocore's generate_presigned_post resolves the form's endpoint with the CreateBucket operation
    model (botocore/signers.py), so the recorder sees "CreateBucket" naming the bucket. No function calls
    CreateBucket: it is the api function signing an upload form, which S3 checks as s3:PutObject on the
    form's key (under the upload prefix: its `key` condition, tests/e2e/test_api.py)."""
    return call.function == "api" and call.service == "s3" and call.operation == "CreateBucket"


def iam_action(call: RecordedCall) -> str:
    if presigned_post(call):
        return "s3:PutObject"
    if call.service == "s3":
        action = S3_ACTIONS[call.operation]
        return "s3:GetObjectVersion" if call.versioned and action == "s3:GetObject" else action
    return f"{call.service}:{call.operation}"


def state_machine_calls() -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource ARN, context) of each Task in the ASL, with Terraform's templatefile() variables."""
    config = settings()
    variables = {
        "${jobs_table}": config.table.name,
        "${metrics_namespace}": config.metrics.namespace,
    }
    text = (REPO_ROOT / config.state_machine.definition).read_text()
    # The job-finished event's names, as Terraform passes them (events.tf, modules/reconciler).
    variables |= {
        "${event_bus}": evaluate("${aws_cloudwatch_event_bus.jobs.name}", Scope(root())),
        "${event_source}": evaluate("${local.event_source}", Scope(root())),
        "${event_detail_type}": evaluate("${local.config.events.detail_type}", Scope(root())),
    }
    for name, value in variables.items():
        text = text.replace(name, value)
    calls = []
    for state in json.loads(text)["States"].values():
        if state["Type"] != "Task":
            continue
        *_, service, api = state["Resource"].split(":")
        action = f"{service}:{api[0].upper()}{api[1:]}"
        parameters = state.get("Parameters", {})
        if service == "dynamodb":
            calls.append((action, arn("dynamodb", parameters["TableName"]), {}))
        elif service == "cloudwatch":
            calls.append((action, EVERY, {"cloudwatch:namespace": parameters["Namespace"]}))
        elif service == "events":
            for entry in parameters["Entries"]:
                context = {"events:source": entry["Source"], "events:detail-type": entry["DetailType"]}
                calls.append((action, arn("events", entry["EventBusName"]), context))
        else:
            raise AssertionError(f"model the resource of {state['Resource']}")
    return calls


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------
def stale_pending_job(client: JobsClient, deadline_seconds: int) -> str:
    """A job dispatched long ago whose messages were lost: only the sweeper can finish it."""
    created = (datetime.now(UTC) - timedelta(seconds=deadline_seconds * 2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    source = SourceObject(client.target.upload_bucket, "uploads/lost.png", 10, "etag-of-a-lost-upload")
    record = new_job_record("lost-job-for-the-sweeper", source, step_names(), created)
    assert client.table.create(record)
    return record["jobId"]


def duplicate_s3_notification(stack: LocalStack, source: dict[str, Any]) -> None:
    """The ObjectCreated event of an object already dispatched, again, through the local S3 → Lambda relay."""
    sqs, relay = stack.target.client("sqs"), stack.target.queues["_s3_events"]["url"]
    record: dict[str, Any] = {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}
    obj = {
        "key": source["key"],
        "size": source["size"],
        "eTag": source["etag"],
        "versionId": source["versionId"],
    }
    record["s3"] = {"bucket": {"name": source["bucket"]}, "object": obj}
    sqs.send_message(QueueUrl=relay, MessageBody=json.dumps({"Records": [record]}))

    def relayed() -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = sqs.get_queue_attributes(QueueUrl=relay, AttributeNames=names)["Attributes"]
        return all(attributes[name] == "0" for name in names)

    assert wait_until(relayed, timeout=20), "dispatch-tasks did not take the duplicate notification"


def front_door_run(stack: LocalStack) -> None:
    """Every route of the front door once: a form, the upload it signs (S3 checks the api role's
    s3:PutObject), the upload's job and its thumbnail URLs, a page of jobs, an operator's retry."""
    url, tokens = stack.target.api_url, stack.target.api_tokens

    def call(method: str, path: str, role: str = "operator", **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{url}{path}", headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30, **kwargs
        )
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    form = call("POST", "/uploads", "upload", json={"fileName": "cat.png", "contentType": "image/png"})
    data = (SAMPLES / "cat.png").read_bytes()
    stored = requests.post(form["url"], data=form["fields"], files={"file": ("cat.png", data)}, timeout=30)
    assert stored.status_code == 204, stored.text
    status = wait_until(lambda: (s := call("GET", form["status"], "upload"))["job"] and s, timeout=30)
    job = wait_until(lambda: (j := call("GET", f"/jobs/{status['jobId']}"))["status"] != "PENDING" and j, 60)
    assert job["status"] == "COMPLETE" and job["thumbnails"][0]["url"], job
    assert call("GET", "/jobs", params={"status": "COMPLETE"})["jobs"]
    call("POST", f"/jobs/{job['jobId']}/retry", params={"step": "resize", "force": "true"})


@pytest.fixture(scope="module")
def recorded_calls(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedCall]:
    tmp_path = tmp_path_factory.mktemp("least-privilege")
    monkeypatch = pytest.MonkeyPatch()

    def quick(config: dict[str, Any]) -> None:
        config["limits"]["sweep_interval_seconds"] = 1
        change_every_worker(config, max_receive_count=2, retry_backoff_seconds=0, batching_window_seconds=0)

    config = use_changed_config(tmp_path, monkeypatch, quick)
    try:
        with LocalStack(tmp_path / "stack", tracing=False) as stack:
            client = JobsClient(stack.target)
            # A transient failure (no thumbnails bucket) until resize gives up, and a file that is no image.
            client.s3.delete_bucket(Bucket=stack.target.thumbnail_bucket)
            flaky = client.upload(SAMPLES / "coffee.png")
            bad = client.upload(SAMPLES / "not-an-image.jpg")
            jobs = client.wait([flaky, bad], timeout=60)
            assert jobs[flaky]["status"] == "FAILED" and jobs[bad]["status"] == "FAILED"
            # S3 delivers at least once: the same notification again makes no second job.
            duplicate_s3_notification(stack, jobs[bad]["source"])
            # The operator brings the bucket back and retries: the job completes, thumbnails written.
            client.s3.create_bucket(Bucket=stack.target.thumbnail_bucket)
            assert cli(stack, "retry", flaky).exit_code == 0
            retried = wait_until(
                lambda: (job := client.get(flaky))["status"] == "COMPLETE" and job, timeout=60
            )
            assert retried, client.get(flaky)
            lost = stale_pending_job(client, config["limits"]["job_deadline_seconds"])
            timed_out = client.wait([lost], timeout=30)[lost]
            assert timed_out["status"] == "FAILED" and timed_out["failureReason"].startswith("timeout")
            front_door_run(stack)
            calls_dir = Path(stack.calls_dir)
        calls = read_calls(calls_dir)
    finally:
        monkeypatch.undo()
    assert calls, "no AWS call was recorded"
    return calls


def test_every_call_a_function_makes_is_allowed_on_the_resource_it_touches(recorded_calls):
    policies = function_policies()
    for call in recorded_calls:
        if presigned_post(call):  # the form's object: a key under the upload prefix
            call = dataclasses.replace(call, resource=f"{call.resource}/{settings().storage.upload_prefix}k")
        action, resource = iam_action(call), arn(call.service, call.resource)
        assert decide(policies[call.function], action, resource) == ALLOW, (call.function, action, resource)


def test_every_action_a_function_is_allowed_is_called_or_justified(recorded_calls):
    worker_functions = {w.function for w in workers().values()}
    by_runtime = {
        iam_action(c) for c in recorded_calls if c.function in worker_functions
    } & WORKER_RUNTIME_ACTIONS
    for function, statements in function_policies().items():
        called = {iam_action(c) for c in recorded_calls if c.function == function}
        if function in worker_functions:
            called |= by_runtime
        for action in allowed_actions(statements) - called:
            assert (function, action) in NOT_CALLED_BY_THE_HANDLER or (
                EVERY,
                action,
            ) in NOT_CALLED_BY_THE_HANDLER, (
                f"{function} may {action} but never called it: remove it from its policy, or justify it here"
            )


def test_no_justification_excuses_an_action_that_is_called(recorded_calls):
    called = {(c.function, iam_action(c)) for c in recorded_calls}
    for function, action in NOT_CALLED_BY_THE_HANDLER:
        callers = {f for f, a in called if a == action and function in (EVERY, f)}
        assert not callers, f"{action} is called by {sorted(callers)}: drop its justification"


def test_the_run_exercised_every_function(recorded_calls):
    assert {c.function for c in recorded_calls} == set(function_policies())


def test_the_state_machine_role_allows_exactly_its_service_integrations_and_its_own_logging():
    policy = state_machine_policy()
    calls = state_machine_calls()
    for action, resource, context in calls:
        assert decide(policy, action, resource, context) == ALLOW, (action, resource)
    assert allowed_actions(policy) - {action for action, _, _ in calls} == STATE_MACHINE_SERVICE_ACTIONS
    # Its metrics permission is held to the pipeline's namespace.
    assert decide(policy, "cloudwatch:PutMetricData", EVERY, {"cloudwatch:namespace": "Other"}) != ALLOW
    # Its events permission to the stack's bus, source and detail-type.
    [(_, bus, context)] = [call for call in calls if call[0] == "events:PutEvents"]
    assert decide(policy, "events:PutEvents", bus, context | {"events:source": "other"}) != ALLOW
    assert decide(policy, "events:PutEvents", bus, context | {"events:detail-type": "Other"}) != ALLOW
    assert decide(policy, "events:PutEvents", bus.replace("event-bus/", "event-bus/x"), context) != ALLOW
