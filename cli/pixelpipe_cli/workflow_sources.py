"""Where the reconcile workflow's definition and a job's executions are read, locally and on AWS.

The definition is the deployed one (`DescribeStateMachine`) wherever the target can be reached: on
AWS that is what ran, and the local stack creates the machine from the repository's ASL, so both draw
what executes. Executions differ by target. The local stack's moto answers `GetExecutionHistory` for
its Express executions; AWS keeps no history of Express executions in Step Functions, only the events
the state machine logs to its CloudWatch Logs group (level ALL, execution data included), read with
`FilterLogEvents` on the execution's ARN.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pixelpipe.logic.clock import parse_iso
from pixelpipe_cli.asl_model import StateGraph, load_definition, parse_asl
from pixelpipe_cli.execution_history import ExecutionTrace, JobExecutions, parse_history, parse_log_records
from pixelpipe_cli.target import Target

# A job's executions start after it was created; the margin covers clocks that disagree a little.
_CLOCK_SKEW_MS = 5 * 60 * 1000


def deployed_definition(stepfunctions: Any, state_machine_arn: str) -> dict[str, Any]:
    """The ASL the machine runs (the template variables filled in)."""
    return json.loads(stepfunctions.describe_state_machine(stateMachineArn=state_machine_arn)["definition"])


def machine_graph(target: Target | None, strict: bool = False) -> tuple[StateGraph, list[str]]:
    """The graph of the definition the target runs, and what to tell the reader about it.

    Without a target, the repository's ASL; with one that cannot be reached (a local stack that is not
    running), the repository's ASL too, unless `strict` (then the error is raised).
    """
    if target is None:
        return parse_asl(load_definition()), []
    try:
        definition = deployed_definition(target.client("stepfunctions"), target.state_machine_arn)
    except (ClientError, BotoCoreError) as error:
        if strict:
            raise
        return parse_asl(load_definition()), [f"drawing the repository's ASL: {error}"]
    return parse_asl(definition), []


def fetch_trace(stepfunctions: Any, arn: str) -> ExecutionTrace:
    """An execution from `GetExecutionHistory`, every page."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return parse_history(arn, events)
        kwargs["nextToken"] = page["nextToken"]


def log_filter_pattern(execution_arn: str) -> str:
    """A CloudWatch Logs JSON filter matching the events one execution logged."""
    return f'{{ $.execution_arn = "{execution_arn}" }}'


def fetch_log_trace(
    logs: Any, log_group: str, arn: str, start_ms: int | None = None
) -> ExecutionTrace | None:
    """An execution from the events it logged (`FilterLogEvents`, every page), None if none arrived.

    `start_ms` skips what was logged before (epoch milliseconds), so the scan stays short.
    """
    kwargs: dict[str, Any] = {"logGroupName": log_group, "filterPattern": log_filter_pattern(arn)}
    if start_ms is not None:
        kwargs["startTime"] = start_ms
    records: list[dict[str, Any]] = []
    while True:
        page = logs.filter_log_events(**kwargs)
        records += [json.loads(event["message"]) for event in page.get("events", [])]
        if not page.get("nextToken"):  # a page may be empty and still have a next one
            break
        kwargs["nextToken"] = page["nextToken"]
    return parse_log_records(arn, records) if records else None


def console_url(region: str, execution_arn: str) -> str:
    """Where an Express execution can be seen in the AWS console (which reads the same log group)."""
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/express-executions/details/{execution_arn}"
    )


def job_executions(target: Target, job: dict[str, Any]) -> JobExecutions:
    """Every reconcile execution the job's record names (`executions`), from the target's source."""
    arns = list(job.get("executions", []))
    if target.is_local:
        found = _local_executions(target, arns)
    else:
        found = _aws_executions(target, arns, _start_ms(job))
        found.links = [(console_url(target.region, arn), console_url(target.region, arn)) for arn in arns]
    if not arns:
        found.notes.append(f"job {job['jobId']} has no recorded reconcile executions yet")
    return found


def _local_executions(target: Target, arns: list[str]) -> JobExecutions:
    stepfunctions = target.client("stepfunctions")
    found = JobExecutions()
    for arn in arns:
        try:
            found.traces.append(fetch_trace(stepfunctions, arn))
        except ClientError as error:  # the emulator drops finished Express executions after a while
            found.notes.append(f"{arn}: history unavailable ({error})")
    return found


def _aws_executions(target: Target, arns: list[str], start_ms: int | None) -> JobExecutions:
    found = JobExecutions()
    if not arns:
        return found
    if not target.state_machine_log_group:
        found.notes.append(
            "On AWS an Express execution's history is only in CloudWatch Logs, and this target names no "
            "state_machine_log_group (write it again from `terraform output -json cli_target`). Console:"
        )
        return found
    logs = target.client("logs")
    for arn in arns:
        try:
            trace = fetch_log_trace(logs, target.state_machine_log_group, arn, start_ms)
        except (ClientError, BotoCoreError) as error:
            found.notes.append(f"{arn}: CloudWatch Logs unreadable ({error})")
            continue
        if trace is None:
            found.notes.append(
                f"{arn}: no events in {target.state_machine_log_group} yet (log delivery is best-effort "
                "and can lag by seconds) — see the console link"
            )
        else:
            found.traces.append(trace)
    return found


def _start_ms(job: dict[str, Any]) -> int | None:
    try:
        return round(parse_iso(job["createdAt"]).timestamp() * 1000) - _CLOCK_SKEW_MS
    except (KeyError, TypeError, ValueError):
        return None
