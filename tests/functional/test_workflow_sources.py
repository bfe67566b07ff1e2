"""`pixelpipe graph` and `pixelpipe job --history` on both targets.

On AWS (botocore Stubber, responses shaped as the API references give them): the deployed definition
comes from DescribeStateMachine, and an Express execution's history from FilterLogEvents on the state
machine's log group, page after page. Locally (moto really running the reconcile ASL): GetExecutionHistory,
and the same execution written as CloudWatch Logs records reads into the same model.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from typer.testing import CliRunner

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.adapters.reconciler import completion_input
from pixelpipe.config import workers
from pixelpipe.logic.jobs import SourceObject, StepCompletion, new_job_record
from pixelpipe_cli import main, render
from pixelpipe_cli.asl_model import load_definition, parse_asl
from pixelpipe_cli.execution_history import parse_log_records
from pixelpipe_cli.target import Target
from pixelpipe_cli.workflow_sources import (
    console_url,
    fetch_log_trace,
    fetch_trace,
    job_executions,
    log_filter_pattern,
    machine_graph,
)
from support.execution_events import (
    api_events_as_log_records,
    as_log_records,
    filter_log_events_pages,
    reconcile_walk,
)
from support.reconcile_jobs import at

REGION = "eu-west-1"
LOG_GROUP = "/aws/vendedlogs/states/pixelpipe-reconcile"
MACHINE_ARN = f"arn:aws:states:{REGION}:111122223333:stateMachine:pixelpipe-reconcile"
CREATED_AT = "2026-11-25T08:00:00.000Z"
CREATED_MS = 1795593600000
WALK = [
    ("Is this a deadline?", "Choice"),
    ("Did the step succeed?", "Choice"),
    ("Record step success", "Task"),
    ("Count step result", "Task"),
    ("Job still pending?", "Choice"),
    ("Wait for other steps", "Succeed"),
]


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:111122223333:express:pixelpipe-reconcile:{name}:0b6f3c"


def aws_target(log_group: str = LOG_GROUP) -> Target:
    return Target(
        REGION,
        "uploads-bucket",
        "uploads/",
        "thumbnails-bucket",
        "pixelpipe-jobs",
        "status-createdAt",
        f"arn:aws:sns:{REGION}:111122223333:pixelpipe-jobs",
        MACHINE_ARN,
        state_machine_log_group=log_group,
    )


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub")
    return client, Stubber(client)


def expect_log_pages(stubber: Stubber, arn: str, pages: list[dict[str, Any]]) -> None:
    """FilterLogEvents on the group, filtered on the execution's ARN, from the job's creation on."""
    token = None
    for page in pages:
        params = {
            "logGroupName": LOG_GROUP,
            "filterPattern": log_filter_pattern(arn),
            "startTime": CREATED_MS - 5 * 60 * 1000,
        }
        if token:
            params["nextToken"] = token
        stubber.add_response("filter_log_events", page, params)
        token = page.get("nextToken")


def with_clients(monkeypatch: pytest.MonkeyPatch, **clients: Any) -> None:
    """Every Target hands out these (stubbed) clients, so no call can reach AWS unplanned."""
    monkeypatch.setattr(Target, "client", lambda self, service: clients[service])


def test_on_aws_job_history_reads_each_execution_from_its_log_group_page_by_page(monkeypatch):
    # GIVEN a job with two executions that logged their events; the first comes over three pages, one
    # of them empty (FilterLogEvents may return an empty page with a nextToken while it scans)
    first, second = execution_arn("job-resize-1-S"), execution_arn("job-analysis-1-S")
    first_records = as_log_records(first, reconcile_walk(WALK, {"kind": "step", "step": "resize"}))
    second_records = as_log_records(second, reconcile_walk(WALK, {"kind": "step", "step": "analysis"}))
    logs, stubber = stubbed("logs")
    expect_log_pages(stubber, first, filter_log_events_pages(first_records, per_page=8, empty_page_after=1))
    expect_log_pages(stubber, second, filter_log_events_pages(second_records, per_page=100))
    with_clients(monkeypatch, logs=logs)
    job = {"jobId": "job", "createdAt": CREATED_AT, "executions": [first, second]}
    # WHEN the job's executions are read
    with stubber:
        found = job_executions(aws_target(), job)
        stubber.assert_no_pending_responses()
    # THEN both are read whole, in order, with a console link each and nothing to apologise for
    assert [t.arn for t in found.traces] == [first, second]
    assert found.traces[0] == parse_log_records(first, first_records)
    assert found.traces[0].states == [name for name, _ in WALK]
    assert (found.traces[1].step, found.traces[1].status) == ("analysis", "SUCCEEDED")
    assert found.notes == []
    assert [url for _, url in found.links] == [console_url(REGION, first), console_url(REGION, second)]


def test_on_aws_an_execution_whose_events_have_not_arrived_is_named_with_its_console_link(monkeypatch):
    arn = execution_arn("job-resize-2-S")
    logs, stubber = stubbed("logs")
    expect_log_pages(stubber, arn, [{"events": [], "searchedLogStreams": []}])
    with_clients(monkeypatch, logs=logs)
    with stubber:
        found = job_executions(aws_target(), {"jobId": "job", "createdAt": CREATED_AT, "executions": [arn]})
    assert found.traces == []
    assert len(found.notes) == 1 and arn in found.notes[0] and LOG_GROUP in found.notes[0]
    assert found.messages == [found.notes[0], console_url(REGION, arn)]


def test_on_aws_a_log_group_the_operator_may_not_read_is_reported_not_raised(monkeypatch):
    arn = execution_arn("job-resize-3-S")
    logs, stubber = stubbed("logs")
    stubber.add_client_error("filter_log_events", "AccessDeniedException", "not authorized", 400)
    with_clients(monkeypatch, logs=logs)
    with stubber:
        found = job_executions(aws_target(), {"jobId": "job", "createdAt": CREATED_AT, "executions": [arn]})
    assert found.traces == [] and "AccessDeniedException" in found.notes[0]


def deployed(definition: dict[str, Any]) -> dict[str, Any]:
    """A DescribeStateMachine response (API reference: the definition is ASL as a JSON string)."""
    return {
        "stateMachineArn": MACHINE_ARN,
        "name": "pixelpipe-reconcile",
        "status": "ACTIVE",
        "definition": json.dumps(definition),
        "roleArn": "arn:aws:iam::111122223333:role/pixelpipe-reconcile",
        "type": "EXPRESS",
        "creationDate": datetime(2026, 11, 1, tzinfo=UTC),
        "loggingConfiguration": {
            "level": "ALL",
            "includeExecutionData": True,
            "destinations": [
                {
                    "cloudWatchLogsLogGroup": {
                        "logGroupArn": f"arn:aws:logs:{REGION}:111122223333:log-group:{LOG_GROUP}:*"
                    }
                }
            ],
        },
        "tracingConfiguration": {"enabled": True},
    }


def test_on_aws_graph_draws_the_deployed_definition_not_the_repositorys(monkeypatch):
    # GIVEN a deployed machine that differs from the repository's ASL (a state renamed since)
    definition = load_definition()
    states = definition["States"]
    states["Wait for the other steps"] = states.pop("Wait for other steps")
    states["Job still pending?"]["Default"] = "Wait for the other steps"
    stepfunctions, stubber = stubbed("stepfunctions")
    stubber.add_response("describe_state_machine", deployed(definition), {"stateMachineArn": MACHINE_ARN})
    with_clients(monkeypatch, stepfunctions=stepfunctions)
    # WHEN its graph is made
    with stubber:
        graph, messages = machine_graph(aws_target(), strict=True)
    # THEN it has the deployed state, not the repository's
    assert "Wait for the other steps" in graph.states and "Wait for other steps" not in graph.states
    assert messages == []


def test_an_unreachable_state_machine_fails_a_job_graph_and_falls_back_to_the_repository_without_one(
    monkeypatch,
):
    stepfunctions, stubber = stubbed("stepfunctions")
    stubber.add_client_error("describe_state_machine", "StateMachineDoesNotExist", "gone", 400)
    stubber.add_client_error("describe_state_machine", "StateMachineDoesNotExist", "gone", 400)
    with_clients(monkeypatch, stepfunctions=stepfunctions)
    with stubber:
        with pytest.raises(ClientError):
            machine_graph(aws_target(), strict=True)
        graph, messages = machine_graph(aws_target(), strict=False)
    assert graph == parse_asl(load_definition())
    assert "StateMachineDoesNotExist" in messages[0]


def test_the_job_history_and_graph_commands_on_aws_show_what_the_log_group_holds(monkeypatch, tmp_path):
    # GIVEN an AWS target file, a job record in DynamoDB and its one execution's events in the log group
    arn = execution_arn("job-resize-1-S")
    records = as_log_records(arn, reconcile_walk(WALK, {"kind": "step", "step": "resize"}))
    source = SourceObject(
        bucket="uploads-bucket", key="uploads/cat.png", size=240_000, etag="5d41", version_id="v1"
    )
    job = {
        **new_job_record("job", source, ["resize", "analysis"], CREATED_AT, deadline_at=at(900)),
        "executions": [arn],
    }
    target_file = tmp_path / "target.json"
    aws_target().save(target_file)
    monkeypatch.setenv("PIXELPIPE_TARGET", str(target_file))
    # A signed-in operator: the CLI refuses an AWS target without credentials before its first call.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients = {name: stubbed(name) for name in ("dynamodb", "logs", "stepfunctions", "s3")}
    for _ in range(2):  # `job --history`, then `graph`
        clients["dynamodb"][1].add_response(
            "get_item",
            {"Item": to_item(job)},
            {"TableName": "pixelpipe-jobs", "Key": {"jobId": {"S": "job"}}, "ConsistentRead": True},
        )
        expect_log_pages(clients["logs"][1], arn, filter_log_events_pages(records, per_page=10))
    clients["stepfunctions"][1].add_response(
        "describe_state_machine", deployed(load_definition()), {"stateMachineArn": MACHINE_ARN}
    )
    with_clients(monkeypatch, **{name: client for name, (client, _) in clients.items()})
    runner = CliRunner()
    # WHEN the operator asks for the job's history, then its graph
    for _, stubber in clients.values():
        stubber.activate()
    # The attribute behind the `width` property: undoing a patch of the property itself would pin the
    # width it read then (80 without a terminal) on the shared console for every later test in the process.
    monkeypatch.setattr(render.console, "_width", 250)
    history = runner.invoke(main.app, ["job", "job", "--history"])
    out = tmp_path / "job.svg"
    graph = runner.invoke(main.app, ["graph", "job", "--out", str(out)])
    for _, stubber in clients.values():
        stubber.deactivate()
    # THEN the history lists the execution's events and the graph highlights the states it entered
    assert history.exit_code == 0, history.output
    assert "Execution 0b6f3c — resize ?, SUCCEEDED" in history.output  # the name: the ARN's last part
    assert "Record step success" in history.output and "TaskStateEntered" in history.output
    assert console_url(REGION, arn) in history.output
    assert graph.exit_code == 0, graph.output
    states = ET.parse(out).getroot().iterfind(".//{http://www.w3.org/2000/svg}g[@data-state]")
    taken = {g.get("data-state") for g in states if "taken" in g.get("class", "").split()}
    assert taken == {name for name, _ in WALK}
    for _, stubber in clients.values():
        stubber.assert_no_pending_responses()


def test_locally_history_comes_from_get_execution_history_and_equals_the_same_events_read_as_logs(
    reconcile_stack, job_id
):
    # GIVEN a real execution of the reconcile machine on moto, recording resize's success
    reconcile_stack.claim(job_id, "resize", at(1))
    field = workers()["resize"].result_field
    completion = StepCompletion(
        job_id=job_id,
        step="resize",
        attempt=1,
        succeeded=True,
        started_at=at(1),
        finished_at=at(2),
        duration_ms=1000,
        result_field=field,
        result=[{"size": 256, "key": "thumbnails/x/256.jpg", "width": 256, "height": 170}],
        error=None,
    )
    execution = reconcile_stack.run_ok(completion_input(completion), "history")
    # WHEN its history is read from GetExecutionHistory, and the same events from CloudWatch Logs records
    from_api = fetch_trace(reconcile_stack.stepfunctions, execution.arn)
    events = reconcile_stack.stepfunctions.get_execution_history(executionArn=execution.arn, maxResults=1000)
    records = api_events_as_log_records(execution.arn, events["events"])
    logs, stubber = stubbed("logs")
    pages = filter_log_events_pages(records, per_page=5)
    token = None
    for page in pages:
        params = {"logGroupName": LOG_GROUP, "filterPattern": log_filter_pattern(execution.arn)}
        stubber.add_response("filter_log_events", page, {**params, **({"nextToken": token} if token else {})})
        token = page.get("nextToken")
    with stubber:
        from_logs = fetch_log_trace(logs, LOG_GROUP, execution.arn)
    # THEN both give the same model, which is the path moto took, with each state's input and output
    assert from_logs == from_api
    assert from_api.states == execution.path and from_api.status == "SUCCEEDED"
    assert (from_api.step, from_api.outcome) == ("resize", "SUCCEEDED")
    assert len(pages) > 2
    entered = [v for v in from_api.visits if v.name == "Record step success"]
    assert len(entered) == 1 and json.loads(entered[0].input)["step"] == "resize"


def test_locally_graph_draws_the_machine_the_emulator_runs(reconcile_stack):
    # GIVEN the reconcile machine created in moto from the repository's ASL
    endpoint = reconcile_stack.stepfunctions.meta.endpoint_url
    target = Target(
        reconcile_stack.stepfunctions.meta.region_name, "u", "uploads/", "t", reconcile_stack.table, "i",
        "topic", reconcile_stack.state_machine_arn, endpoint_url=endpoint,
    )  # fmt: skip
    # WHEN the graph is made THEN moto's DescribeStateMachine gave the repository's states and transitions
    graph, messages = machine_graph(target, strict=True)
    repository = parse_asl(load_definition())
    assert messages == []
    assert graph.types == repository.types
    assert sorted((e.source, e.target, e.kind) for e in graph.edges) == sorted(
        (e.source, e.target, e.kind) for e in repository.edges
    )
