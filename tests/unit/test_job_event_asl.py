"""The reconcile ASL's job-finished event, read as a graph: only the execution that wins a terminal write
(or the sweeper's re-send of a finished job) reaches the PutEvents task, every such path reaches it,
and the task retries exactly EventBridge's transient errors by the names Step Functions gives them.

Sources (looked up, not guessed):
- https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html — a non-zero
  `FailedEntryCount` fails the Task with `EventBridge.FailedEntry` (a throttled entry, ErrorCode
  ThrottlingException, or InternalFailure, arrives this way).
- https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html#API_PutEvents_Errors —
  the request's own transient error, InternalException; ThrottlingException is a common error. An
  integration's error is `ServiceName.ErrorName`
  (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pixelpipe.logic.lifecycle import COMPLETE, FAIL, MISS_DEADLINE

ROOT = Path(__file__).resolve().parents[2]
STATES: dict[str, Any] = json.loads((ROOT / "statemachine" / "reconcile.asl.json").read_text())["States"]
ANNOUNCE = "Announce job finished"
RESEND = "Read the finished job (event not confirmed)"
TERMINAL_WRITES = {t.executed_by for t in (COMPLETE, FAIL, MISS_DEADLINE)}
TRANSIENT_EVENTBRIDGE_ERRORS = {
    "EventBridge.FailedEntry",
    "EventBridge.InternalException",
    "EventBridge.ThrottlingException",
}


def successors(name: str) -> set[str]:
    state = STATES[name]
    found = {state[key] for key in ("Next", "Default") if key in state}
    found |= {choice["Next"] for choice in state.get("Choices", [])}
    found |= {catch["Next"] for catch in state.get("Catch", [])}
    return found


def reachable(start: str, avoiding: set[str] = frozenset()) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name in avoiding:
            continue
        seen.add(name)
        todo += successors(name)
    return seen


def removals(name: str) -> str:
    return STATES[name].get("Parameters", {}).get("UpdateExpression", "")


def test_each_terminal_write_marks_the_event_pending_with_its_id_in_the_same_write():
    for name in TERMINAL_WRITES:
        parameters = STATES[name]["Parameters"]
        assert ", eventId = :eventId, eventPendingAt = :at " in parameters["UpdateExpression"], name
        assert parameters["ExpressionAttributeValues"][":eventId"] == {"S.$": "$$.Execution.Id"}, name
        assert parameters["ReturnValues"] == "ALL_NEW", name


def test_every_way_out_of_a_terminal_write_that_wrote_leads_to_the_event():
    for name in TERMINAL_WRITES:
        # Its success path (Next), and the metric's Catch after it, reach the event.
        assert ANNOUNCE in reachable(STATES[name]["Next"]), name
        # The failed condition (another execution won) never does.
        [caught] = STATES[name]["Catch"]
        assert caught["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
        assert ANNOUNCE not in reachable(caught["Next"]), name


def test_only_a_terminal_write_or_the_sweepers_resend_reaches_the_event():
    start = json.loads((ROOT / "statemachine" / "reconcile.asl.json").read_text())["StartAt"]
    assert ANNOUNCE not in reachable(start, avoiding=TERMINAL_WRITES | {RESEND})
    assert ANNOUNCE in reachable(RESEND)


def test_the_put_retries_exactly_eventbridges_transient_errors_and_a_failure_leaves_it_for_the_sweeper():
    task = STATES[ANNOUNCE]
    assert task["Resource"] == "arn:aws:states:::events:putEvents"
    retried = {error for retry in task["Retry"] for error in retry["ErrorEquals"]}
    assert retried == TRANSIENT_EVENTBRIDGE_ERRORS
    [catch] = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    # After a failed put nothing removes eventPendingAt: the sweeper's query finds the job.
    assert not [n for n in reachable(catch["Next"]) if "REMOVE eventPendingAt" in removals(n)]
    # After a successful put the mark is removed, and only then.
    [confirm] = [n for n in reachable(task["Next"]) if "REMOVE eventPendingAt" in removals(n)]
    assert confirm == task["Next"]
