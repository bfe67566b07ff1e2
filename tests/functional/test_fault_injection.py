"""The local stack's fault plan (pixelpipe_emulator.faults) against real boto3 clients on moto."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pixelpipe_emulator.faults import FaultInjector, FaultRule, injected, load_plan

JOB_A, JOB_B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def table():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield session


def _client(session: boto3.Session):
    client = session.client("dynamodb")
    client.create_table(
        TableName="jobs",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
    )
    return client


def _put(client, job_id: str) -> None:
    client.put_item(TableName="jobs", Item={"jobId": {"S": job_id}})


def test_a_transient_fault_fails_each_job_once_and_only_inside_an_invocation(table, tmp_path: Path):
    # GIVEN a throttling rule on PutItem for every job, installed before the client is made
    log = tmp_path / "faults.jsonl"
    injector = FaultInjector(
        "dispatch-tasks",
        [FaultRule("dynamodb.PutItem", error="ThrottlingException", status=400)],
        log_path=log,
    )
    injector.install(table)
    client = _client(table)

    # WHEN the host is between invocations THEN nothing is injected
    _put(client, JOB_A)

    # WHEN inside an invocation THEN the first call per job fails with the AWS error, the retry succeeds
    injector.active = True
    for job in (JOB_A, JOB_B):
        with pytest.raises(ClientError) as error:
            _put(client, job)
        assert error.value.response["Error"]["Code"] == "ThrottlingException"
        _put(client, job)
    assert [entry["job"] for entry in injected(log)] == [JOB_A, JOB_B]


def test_an_after_fault_lets_the_write_happen_and_loses_the_answer(table, tmp_path: Path):
    injector = FaultInjector("resize-worker", [FaultRule("dynamodb.PutItem", when="after")])
    injector.install(table)
    client = _client(table)
    injector.active = True

    with pytest.raises(ClientError):
        _put(client, JOB_A)
    assert "Item" in client.get_item(TableName="jobs", Key={"jobId": {"S": JOB_A}})


def test_skip_lets_calls_through_then_faults_and_a_restarted_host_keeps_it_transient(table, tmp_path: Path):
    # GIVEN a rule that lets the first matching call through, logging to a file
    log = tmp_path / "faults.jsonl"
    rule = FaultRule("dynamodb.PutItem", error="ServiceUnavailable", status=503, skip=1)
    first = FaultInjector("resize-worker", [rule], log_path=log)
    first.install(table)
    client = _client(table)
    first.active = True
    _put(client, JOB_A)
    with pytest.raises(ClientError):
        _put(client, JOB_B)

    # WHEN the host restarts (a new injector reading the same log)
    first.active = False
    second = FaultInjector("resize-worker", [rule], log_path=log)
    restarted = boto3.Session(region_name="us-east-1")
    second.install(restarted)
    second.active = True

    # THEN job B's fault is not injected again
    _put(restarted.client("dynamodb"), JOB_B)
    _put(restarted.client("dynamodb"), JOB_B)
    assert len(injected(log)) == 1


def test_a_plan_with_an_unknown_field_or_an_after_crash_is_refused(tmp_path: Path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"operation": "sns.Publish", "errror": "x"}]))
    with pytest.raises(ValueError, match="fault rule 0"):
        load_plan(plan)
    plan.write_text(json.dumps([{"operation": "sns.Publish", "error": "crash", "when": "after"}]))
    with pytest.raises(ValueError, match="only happens before a call"):
        load_plan(plan)


def test_a_wrapped_handler_is_faulted_while_it_runs_and_the_host_around_it_is_not(table, tmp_path: Path):
    # GIVEN a rule faulting every PutItem and a handler wrapped by the injector
    injector = FaultInjector("resize-worker", [FaultRule("dynamodb.PutItem", every_time=True)])
    injector.install(table)
    client = _client(table)

    def handler(job: str) -> None:
        _put(client, job)

    faulted = injector.wrap(handler)

    # WHEN the handler runs THEN its call fails; the same call outside it (the host polling) does not
    with pytest.raises(ClientError):
        faulted(JOB_A)
    _put(client, JOB_A)
    assert injector.active is False
