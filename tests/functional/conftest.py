"""Where the reconcile state machine really runs: moto in server mode by default, Step Functions Local +
DynamoDB Local in CI.

Set both `RECONCILE_TEST_SFN_ENDPOINT` and `RECONCILE_TEST_DYNAMODB_ENDPOINT` to use running emulators
(Step Functions Local must itself be configured to reach that DynamoDB Local, and DynamoDB Local should
run with `-sharedDb`: otherwise it keeps one database per access key and region, and the table these
tests create is invisible to Step Functions Local's own credentials); otherwise a
`ThreadedMotoServer` is started on a free loopback port with ASL execution switched on.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.adapters.jobs_table import Claim, JobsTable
from pixelpipe.config import settings
from pixelpipe_emulator import emulator
from pixelpipe_emulator.provision import state_machine_definition
from support import reconcile_jobs
from support.emulator import DUMMY_CREDENTIALS, free_loopback_port
from support.handlers import aws, chelsea_jpeg, load_function  # noqa: F401  (fixtures for these tests)

job_id = reconcile_jobs.job_id  # the fresh PENDING job the reconcile tests share

# moto's interpreter in this process (mock_aws, ThreadedMotoServer) parses each definition and JSONPath
# once, as the local stack's emulator does: the state machine runs here as it runs there.
emulator.cache_interpreter_parsing()

SFN_ENDPOINT_ENV = "RECONCILE_TEST_SFN_ENDPOINT"
DYNAMODB_ENDPOINT_ENV = "RECONCILE_TEST_DYNAMODB_ENDPOINT"
DUMMY_ROLE_ARN = "arn:aws:iam::012345678901:role/DummyRole"
EXECUTION_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Execution:
    """A finished execution: its status and the states it passed through, in order."""

    arn: str
    status: str
    path: list[str]
    error: str | None
    cause: str | None


@dataclass
class ReconcileStack:
    """The jobs table and the reconcile state machine on one emulator, with the calls tests need."""

    backend: str
    dynamodb: Any
    stepfunctions: Any
    table: str
    state_machine_arn: str
    cloudwatch: Any | None = None  # where the machine's metrics land; None where they are not emulated

    def metric_sum(self, name: str, dimensions: list[dict[str, str]] | None = None) -> float:
        """Everything sent so far to one of the pipeline's CloudWatch metrics."""
        assert self.cloudwatch is not None
        now = datetime.now(UTC)
        datapoints = self.cloudwatch.get_metric_statistics(
            Namespace=settings().metrics.namespace,
            MetricName=name,
            Dimensions=dimensions or [],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(point["Sum"] for point in datapoints)

    @property
    def jobs(self) -> JobsTable:
        return JobsTable(self.dynamodb, self.table, settings().table.status_index)

    def put_job(self, record: dict[str, Any]) -> None:
        self.dynamodb.put_item(TableName=self.table, Item=to_item(record))

    def job(self, job_id: str) -> dict[str, Any]:
        record = self.jobs.get(job_id)
        assert record is not None, f"job {job_id} is missing from {self.table}"
        return record

    def claim(self, job_id: str, step: str, at: str) -> Claim:
        claim = self.jobs.claim_step(job_id, step, at, "receive 1 of 5")
        assert claim is not None, f"claim of {step} on {job_id} was refused"
        return claim

    def run(self, payload: dict[str, Any], label: str = "") -> Execution:
        """Start one execution (always a fresh name) and wait, bounded, until it is no longer RUNNING."""
        name = f"test-{label}-{uuid.uuid4().hex}"[:80]
        arn = self.stepfunctions.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
        )["executionArn"]
        deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
        while True:
            described = self.stepfunctions.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"execution {name} still RUNNING after {EXECUTION_TIMEOUT_SECONDS} s "
                    f"(error={described.get('error')!r}, cause={described.get('cause')!r}, "
                    f"states so far={self.path_of(arn)})"
                )
            time.sleep(0.02)
        return Execution(
            arn, described["status"], self.path_of(arn), described.get("error"), described.get("cause")
        )

    def run_ok(self, payload: dict[str, Any], label: str = "") -> Execution:
        """`run`, failing the test with the execution's error and cause unless it SUCCEEDED."""
        execution = self.run(payload, label)
        if execution.status != "SUCCEEDED":
            pytest.fail(
                f"execution ended {execution.status}: error={execution.error!r} cause={execution.cause!r} "
                f"path={execution.path}"
            )
        return execution

    def path_of(self, execution_arn: str) -> list[str]:
        names, token = [], None
        while True:
            page = self.stepfunctions.get_execution_history(
                executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            names += [
                e["stateEnteredEventDetails"]["name"]
                for e in page["events"]
                if "stateEnteredEventDetails" in e
            ]
            token = page.get("nextToken")
            if not token:
                return names


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=settings().region, endpoint_url=endpoint, **DUMMY_CREDENTIALS)


def _create_stack(backend: str, dynamodb: Any, stepfunctions: Any) -> ReconcileStack:
    suffix = uuid.uuid4().hex[:8]
    table = f"{settings().table.name}-test-{suffix}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    arn = stepfunctions.create_state_machine(
        name=f"{settings().state_machine.name}-test-{suffix}",
        definition=state_machine_definition(table),
        roleArn=DUMMY_ROLE_ARN,
        type="EXPRESS",
    )["stateMachineArn"]
    return ReconcileStack(backend, dynamodb, stepfunctions, table, arn)


def _remove_stack(stack: ReconcileStack) -> None:
    """Emulators in CI may outlive the run: leave nothing behind (best effort)."""
    for remove in (
        lambda: stack.stepfunctions.delete_state_machine(stateMachineArn=stack.state_machine_arn),
        lambda: stack.dynamodb.delete_table(TableName=stack.table),
    ):
        try:
            remove()
        except Exception as error:  # cleanup must never hide a test's own failure
            logging.getLogger(__name__).warning("cleanup failed: %s", error)


@pytest.fixture(scope="module")
def reconcile_stack() -> Iterator[ReconcileStack]:
    """Module-scoped: an in-process moto server shares moto's global state with `mock_aws`, so it
    must not be alive while another module's in-process mocks reset that state."""
    sfn_endpoint, dynamodb_endpoint = os.environ.get(SFN_ENDPOINT_ENV), os.environ.get(DYNAMODB_ENDPOINT_ENV)
    if bool(sfn_endpoint) != bool(dynamodb_endpoint):
        pytest.fail(f"set both {SFN_ENDPOINT_ENV} and {DYNAMODB_ENDPOINT_ENV}, or neither")
    if sfn_endpoint and dynamodb_endpoint:
        stack = _create_stack(
            "stepfunctions-local",
            _client("dynamodb", dynamodb_endpoint),
            _client("stepfunctions", sfn_endpoint),
        )
        yield stack
        _remove_stack(stack)
        return

    from moto.server import ThreadedMotoServer

    port = free_loopback_port()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        # moto's ASL interpreter calls DynamoDB at localhost:$MOTO_PORT: set it before the server starts.
        env.setenv("MOTO_PORT", str(port))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            requests.post(
                f"{endpoint}/moto-api/config",
                json={"stepfunctions": {"execute_state_machine": True}},
                timeout=10,
            ).raise_for_status()
            stack = _create_stack("moto", _client("dynamodb", endpoint), _client("stepfunctions", endpoint))
            stack.cloudwatch = _client("cloudwatch", endpoint)
            yield stack
        finally:
            requests.post(
                f"{endpoint}/moto-api/config",
                json={"stepfunctions": {"execute_state_machine": False}},
                timeout=10,
            )
            requests.post(f"{endpoint}/moto-api/reset", timeout=10)
            server.stop()
