"""Starts the Express reconcile state machine for a step completion or a missed deadline."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.adapters.dynamo_types import to_typed
from pixelpipe.logic.jobs import StepCompletion
from pixelpipe.logic.lifecycle import step_failure_reason


def completion_input(completion: StepCompletion) -> dict[str, Any]:
    """The state machine's input: plain fields for Choice states, DynamoDB-typed values for the writes."""
    return {
        "kind": "step",
        "jobId": completion.job_id,
        "step": completion.step,
        "outcome": completion.outcome,
        "at": completion.finished_at,
        "resultField": completion.result_field,
        "stepMetric": "StepSucceeded" if completion.succeeded else "StepFailed",
        "durationMs": completion.duration_ms,
        "failureReason": step_failure_reason(completion.step, completion.error) if completion.error else "",
        "dynamo": {
            "record": to_typed(completion.step_record()),
            "result": to_typed(completion.result),
            "history": to_typed([completion.history()]),
            "attempt": to_typed(completion.attempt),
        },
    }


def deadline_input(job_id: str, at: str, reason: str) -> dict[str, Any]:
    return {"kind": "deadline", "jobId": job_id, "at": at, "failureReason": reason}


class Reconciler:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, name: str, payload: dict[str, Any], trace_header: str | None = None) -> str:
        """Start one execution; a repeat of the same name is the same execution, not an error."""
        kwargs = {"stateMachineArn": self._arn, "name": name, "input": json.dumps(payload)}
        if trace_header:
            kwargs["traceHeader"] = trace_header
        try:
            return self._client.start_execution(**kwargs)["executionArn"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return ""
            raise
