"""The local stack's emulator (`python -m pixelpipe_emulator.emulator`): DynamoDB as atomic as on AWS, errors
the interpreter can describe, and finished Express executions dropped after their retention window."""

from __future__ import annotations

import gc
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb
from moto.stepfunctions.parser.utils import TMP_THREADS

from pixelpipe_emulator import emulator as emulator_module
from support.emulator import DUMMY_CREDENTIALS, Emulator, emulator_process
from support.stacks import wait_until

THREADS = 8
ROUNDS = 40  # unpatched, more than one writer got through in ~1 round in 5: 40 rounds all pass ~1 in 10^4
ADDS_PER_THREAD = 25  # unpatched, 1-3 of 200 ADDs and ~20 of 200 list_appends were lost every run
ROLE = "arn:aws:iam::012345678901:role/DummyRole"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_process(tmp_path_factory.mktemp("emulator")) as running:
        yield running


def _table(emulator: Emulator) -> tuple[Any, str]:
    dynamodb = emulator.client("dynamodb", max_pool_connections=THREADS * 2)
    name = f"atomic-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    return dynamodb, name


def _all_at_once(action: Callable[[], None], threads: int = THREADS) -> None:
    """`action` from `threads` threads released together; re-raises the first error."""
    barrier, errors = threading.Barrier(threads), []

    def run() -> None:
        barrier.wait()
        try:
            action()
        except Exception as error:
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def test_exactly_one_of_concurrent_identical_conditional_updates_is_accepted(emulator):
    dynamodb, table = _table(emulator)
    wrong_rounds = []
    for round_ in range(ROUNDS):
        # GIVEN an OPEN item
        key = {"id": {"S": f"round-{round_}"}}
        dynamodb.put_item(TableName=table, Item={**key, "state": {"S": "OPEN"}})
        accepted: list[int] = []

        def close(key: dict[str, Any] = key, accepted: list[int] = accepted) -> None:
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET #state = :closed ADD winners :one",
                    ConditionExpression="#state = :open",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={
                        ":closed": {"S": "CLOSED"},
                        ":open": {"S": "OPEN"},
                        ":one": {"N": "1"},
                    },
                )
                accepted.append(1)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

        # WHEN 8 threads close it at once, on the condition that it is OPEN
        _all_at_once(close)

        # THEN exactly one was accepted, and the item says so
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        if len(accepted) != 1 or item["winners"] != {"N": "1"}:
            wrong_rounds.append((round_, len(accepted), item["winners"]))
    assert wrong_rounds == []


def test_concurrent_adds_and_list_appends_all_count(emulator):
    # GIVEN a counter and a list
    dynamodb, table = _table(emulator)
    key = {"id": {"S": "counter"}}
    dynamodb.put_item(TableName=table, Item={**key, "n": {"N": "0"}, "log": {"L": []}})

    def add_many() -> None:
        for _ in range(ADDS_PER_THREAD):
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD n :one SET #log = list_append(#log, :entry)",
                ExpressionAttributeNames={"#log": "log"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":entry": {"L": [{"S": "x"}]}},
            )

    # WHEN 8 threads each add 1 and append an entry 25 times
    _all_at_once(add_many)

    # THEN every one of the 200 counted
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": str(THREADS * ADDS_PER_THREAD)}
    assert len(item["log"]["L"]) == THREADS * ADDS_PER_THREAD


def test_update_returns_the_item_as_this_update_left_it(emulator):
    # GIVEN a counter WHEN 8 threads ADD to it at once, each asking for ALL_NEW
    dynamodb, table = _table(emulator)
    key = {"id": {"S": "seen"}}
    dynamodb.put_item(TableName=table, Item={**key, "n": {"N": "0"}})
    seen: list[int] = []
    lock = threading.Lock()

    def add_and_read() -> None:
        for _ in range(ADDS_PER_THREAD):
            new = dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )["Attributes"]["n"]["N"]
            with lock:
                seen.append(int(new))

    _all_at_once(add_and_read)

    # THEN each saw its own result: 1..200, each exactly once (what a Choice after ALL_NEW relies on)
    assert sorted(seen) == list(range(1, THREADS * ADDS_PER_THREAD + 1))


def test_an_error_without_request_id_is_described_not_a_key_error():
    # GIVEN a boto3 session as the emulator sets up its interpreter's, and a DynamoDB call that gets a
    # bare HTTP 500 (what an unexpected exception inside moto answers: no x-amzn-requestid header)
    session = boto3.Session(region_name="eu-west-1", **DUMMY_CREDENTIALS)
    emulator_module.describe_errors_without_request_id(session)
    dynamodb = session.client("dynamodb")
    with Stubber(dynamodb) as stub:
        stub.add_client_error("get_item", "InternalServerError", "Internal Server Error", 500)
        with pytest.raises(ClientError) as raised:
            dynamodb.get_item(TableName="t", Key={"id": {"S": "x"}})

    # WHEN the interpreter's DynamoDB integration describes it (unpatched: KeyError('RequestId'))
    describe = state_task_service_dynamodb.StateTaskServiceDynamoDB._error_cause_from_client_error
    error, cause = describe(raised.value)

    # THEN it is the service's own error, which the ASL's Retry and Catch can name
    assert error == "DynamoDB.InternalServerError"
    assert "Status Code: 500" in cause and "Request ID: ;" in cause


# --------------------------------------------------------------------------------- execution retention


def _executions(stepfunctions: Any, arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found += page["executions"]
    return found


def _finished(stepfunctions: Any, execution: str) -> bool:
    """No longer RUNNING; an execution already dropped by the pruner had finished (it drops no other)."""
    try:
        return stepfunctions.describe_execution(executionArn=execution)["status"] != "RUNNING"
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return True
        raise


def _run_all(stepfunctions: Any, arn: str, count: int) -> list[str]:
    arns = [
        stepfunctions.start_execution(stateMachineArn=arn, name=f"e-{uuid.uuid4().hex}", input="{}")[
            "executionArn"
        ]
        for _ in range(count)
    ]
    for execution in arns:
        finished = wait_until(lambda e=execution: _finished(stepfunctions, e), 30, 0.05)
        assert finished, f"{execution} still RUNNING after 30 s"
    return arns


def test_prune_drops_only_finished_express_executions_past_retention():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        import boto3

        stepfunctions = boto3.client("stepfunctions", region_name="eu-west-1")
        express, standard = (
            stepfunctions.create_state_machine(name=kind, definition=PASS_MACHINE, roleArn=ROLE, type=kind)[
                "stateMachineArn"
            ]
            for kind in ("EXPRESS", "STANDARD")
        )
        # GIVEN 5 finished executions of an Express machine and 5 of a Standard one
        _run_all(stepfunctions, express, 5)
        _run_all(stepfunctions, standard, 5)
        now = datetime.now(UTC)

        # WHEN pruned with a 600 s retention, now THEN nothing is dropped
        assert emulator_module.prune_finished_executions(600, now) == 0
        assert len(_executions(stepfunctions, express)) == 5

        # WHEN pruned 601 s later THEN the Express ones are gone; Standard ones stay (AWS keeps them)
        assert emulator_module.prune_finished_executions(600, now + timedelta(seconds=601)) == 5
        assert _executions(stepfunctions, express) == []
        assert len(_executions(stepfunctions, standard)) == 5


def test_the_emulator_forgets_finished_executions_after_its_retention(tmp_path: Path):
    # GIVEN an emulator started with a 1 s retention
    with emulator_process(tmp_path, env={emulator_module.RETENTION_ENV: "1"}) as short:
        stepfunctions = short.client("stepfunctions")
        arn = stepfunctions.create_state_machine(
            name="short", definition=PASS_MACHINE, roleArn=ROLE, type="EXPRESS"
        )["stateMachineArn"]
        retained_after_each_batch = []
        for _batch in range(3):
            # WHEN it runs 3 batches of 60 executions
            arns = _run_all(stepfunctions, arn, 60)
            # THEN after each, every finished execution is dropped: the count never grows with the runs
            wait_until(lambda: not _executions(stepfunctions, arn), timeout=20)
            retained_after_each_batch.append(len(_executions(stepfunctions, arn)))
        assert retained_after_each_batch == [0, 0, 0]
        with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
            stepfunctions.describe_execution(executionArn=arns[0])


def test_finished_interpreter_threads_are_forgotten_so_executions_can_be_freed():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        stepfunctions = boto3.client("stepfunctions", region_name="eu-west-1")
        arn = stepfunctions.create_state_machine(
            name="threads", definition=PASS_MACHINE, roleArn=ROLE, type="EXPRESS"
        )["stateMachineArn"]
        # GIVEN 5 finished executions, whose threads moto keeps in its TMP_THREADS list
        _run_all(stepfunctions, arn, 5)
        finished = [t for t in TMP_THREADS if not t.is_alive()]
        assert len(finished) >= 5

        # WHEN the emulator's pruner reaps finished threads
        reaped = emulator_module.reap_finished_threads()

        # THEN none of them is held any more (each held its execution, history and state machine copy)
        assert reaped >= 5
        assert not any(t in TMP_THREADS for t in finished)


def test_moto_tracks_model_instances_without_keeping_them_alive():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(
            TableName="tracked",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )
        # GIVEN the emulator's weak tracking, and one item updated 50 times (moto copies it at each update)
        emulator_module.track_models_weakly()
        for _ in range(50):
            dynamodb.update_item(
                TableName="tracked",
                Key={"id": {"S": "one"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        gc.collect()

        # WHEN the pruner compacts the tracking
        emulator_module.track_models_weakly()

        # THEN only the live item is tracked (moto kept all 50 copies), and it is intact
        assert len(list(Item.instances_tracked)) == 1
        item = dynamodb.get_item(TableName="tracked", Key={"id": {"S": "one"}})["Item"]
        assert item["n"] == {"N": "50"}
