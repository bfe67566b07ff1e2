"""The reconcile ASL names DynamoDB errors as Step Functions raises them on AWS, and the local emulator
raises them under the same names.

Sources (looked up, not guessed):
- https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html — an integration's
  error is `ServiceName.ErrorName`, and Step Functions always adds the `Exception` suffix to an error
  name the service's API reference spells without it (S3's BucketAlreadyExists is
  `S3.BucketAlreadyExistsException`).
- https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html#API_UpdateItem_Errors
  and API_GetItem.html#API_GetItem_Errors — the transient errors: InternalServerError (HTTP 500),
  ProvisionedThroughputExceededException, RequestLimitExceeded, ThrottlingException.
- ConditionalCheckFailedException is the ASL's own signal (a stale or duplicate write): never retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb

from pixelpipe.config import settings
from pixelpipe_emulator import emulator as emulator_module

# Every DynamoDB error a Retry may name: the API reference's transient errors, suffixed as Step Functions
# suffixes them (sources above). A name outside this set never matches on AWS.
TRANSIENT_DYNAMODB_ERRORS = {
    "DynamoDB.InternalServerErrorException",  # API: InternalServerError (HTTP 500)
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceededException",  # API: RequestLimitExceeded
    "DynamoDB.ThrottlingException",
}
NEVER_RETRIED = "DynamoDB.ConditionalCheckFailedException"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key])


def _definition() -> dict[str, Any]:
    return json.loads((REPO_ROOT / settings().state_machine.definition).read_text())


def _dynamodb_tasks() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, state)
        for name, state in _states(_definition())
        if state["Type"] == "Task" and ":dynamodb:" in state["Resource"]
    ]


def test_the_machine_has_dynamodb_tasks_to_check() -> None:
    assert len(_dynamodb_tasks()) >= 5


@pytest.mark.parametrize("name", [name for name, _ in _dynamodb_tasks()])
def test_each_dynamodb_task_retries_exactly_the_transient_errors_by_their_aws_names(name: str) -> None:
    state = dict(_dynamodb_tasks())[name]
    retried = {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
    named = {error for error in retried if error.startswith("DynamoDB.")}
    assert named == TRANSIENT_DYNAMODB_ERRORS, (
        f"{name}: not AWS names {sorted(named - TRANSIENT_DYNAMODB_ERRORS)}; "
        f"missing {sorted(TRANSIENT_DYNAMODB_ERRORS - named)}"
    )


def test_no_retry_anywhere_names_a_failed_condition() -> None:
    for name, state in _states(_definition()):
        for retry in state.get("Retry", []):
            assert NEVER_RETRIED not in retry["ErrorEquals"], name
            assert (
                "States.ALL" not in retry["ErrorEquals"]
                or state["Type"] != "Task"
                or (":dynamodb:" not in state.get("Resource", ""))
            ), f"{name}: States.ALL would retry a failed condition"


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InternalServerError", 500, "DynamoDB.InternalServerErrorException"),
        ("RequestLimitExceeded", 400, "DynamoDB.RequestLimitExceededException"),
        ("ThrottlingException", 400, "DynamoDB.ThrottlingException"),
        ("ConditionalCheckFailedException", 400, "DynamoDB.ConditionalCheckFailedException"),
    ],
)
def test_the_local_interpreter_names_dynamodb_errors_as_step_functions_does_on_aws(
    monkeypatch: pytest.MonkeyPatch, code: str, status: int, expected: str
) -> None:
    # GIVEN the interpreter's DynamoDB integration as the emulator process sets it up (restored after)
    service = state_task_service_dynamodb.StateTaskServiceDynamoDB
    monkeypatch.setattr(
        service, "_error_cause_from_client_error", service.__dict__["_error_cause_from_client_error"]
    )
    emulator_module.name_dynamodb_errors_as_aws()
    dynamodb = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(dynamodb) as stub:
        stub.add_client_error("update_item", code, "an error", status, response_meta={"RequestId": "r-1"})
        with pytest.raises(ClientError) as raised:
            dynamodb.update_item(TableName="t", Key={"jobId": {"S": "j"}})
    # WHEN it describes the ClientError
    error, _ = service._error_cause_from_client_error(raised.value)
    # THEN the name is AWS's, so the ASL's Retry (or Catch) matches locally as on AWS
    assert error == expected
    assert error in TRANSIENT_DYNAMODB_ERRORS | {NEVER_RETRIED}
