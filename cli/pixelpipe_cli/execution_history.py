"""What one reconcile execution did, read from its history events: the model `pixelpipe graph`,
`pixelpipe job --history` and the console share.

The same events come in two shapes. Step Functions' `GetExecutionHistory` (moto implements it for every
machine; AWS only for Standard ones) returns each event with numeric `id`/`previousEventId`, a datetime
`timestamp` and its details under a key named after its type (`stateEnteredEventDetails`,
`taskFailedEventDetails`, …). An Express execution on AWS has no such API: with logging level ALL and
execution data included, it writes one CloudWatch Logs event per history event, a JSON object with `id`
and `previous_event_id` as strings, `event_timestamp` in epoch milliseconds as a string, `type`,
`execution_arn` and the same details body under `details` (input and output stay JSON text). Both are
reduced to `HistoryEvent`s and read by one function, so both sources give equal `ExecutionTrace`s.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli.asl_model import END, START

# How an execution ended, by the type of its last event (ExecutionRedriven is not an ending).
_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
_FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class HistoryEvent:
    """One history event, whichever API it came from."""

    offset_ms: int  # since the execution's first event
    type: str
    state: str = ""  # the state entered or exited; empty for other events
    id: int = 0
    previous_id: int = 0
    timestamp_ms: int = 0  # epoch milliseconds (CloudWatch Logs keeps no finer time)
    input: str | None = None  # JSON text, as recorded (cut short when `truncated`)
    output: str | None = None
    error: str = ""
    cause: str = ""
    truncated: bool = False


@dataclass(frozen=True)
class StateVisit:
    """One entry into a state: what it was given, what it passed on, and the error it met, if any."""

    name: str
    type: str  # the ASL state type: Task, Choice, Pass, Succeed, Fail, …
    entered_ms: int  # offsets since the execution's first event
    exited_ms: int | None = None  # None while running, or when a Catch or the execution's end left it
    input: str | None = None
    output: str | None = None
    error: str = ""  # what its last attempt failed with ("" when it succeeded)
    cause: str = ""
    attempts: int = 0  # Task attempts (Retry adds one each); 0 for states that run no task
    truncated: bool = False  # CloudWatch Logs cut the input or output short (over 248 KB)

    @property
    def duration_ms(self) -> int | None:
        return None if self.exited_ms is None else self.exited_ms - self.entered_ms


@dataclass
class ExecutionTrace:
    """One reconcile execution: its states in order, how it left each, its input, output and ending."""

    arn: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    step: str  # from the input: the step whose result it records, or "deadline"
    outcome: str  # from the input: SUCCEEDED or FAILED
    states: list[str] = field(default_factory=list)
    # (from, to) pairs left through a Catch, i.e. after a failure inside `from`
    caught: set[tuple[str, str]] = field(default_factory=set)
    events: list[HistoryEvent] = field(default_factory=list)
    visits: list[StateVisit] = field(default_factory=list)
    started_ms: int | None = None  # epoch milliseconds
    stopped_ms: int | None = None
    input: str | None = None
    output: str | None = None
    error: str = ""
    cause: str = ""

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    @property
    def started_at(self) -> datetime | None:
        return None if self.started_ms is None else datetime.fromtimestamp(self.started_ms / 1000, UTC)

    @property
    def duration_ms(self) -> int | None:
        if self.started_ms is None or self.stopped_ms is None:
            return None
        return self.stopped_ms - self.started_ms

    def visit_counts(self) -> dict[str, int]:
        """How many times each state was entered."""
        return dict(Counter(self.states))

    def transitions(self) -> list[tuple[str, str, bool]]:
        """(from, to, through a Catch) for every transition taken, Start and End included."""
        if not self.states:
            return []
        path = [START, *self.states] + ([END] if self.status in _FINISHED else [])
        return [(a, b, (a, b) in self.caught) for a, b in itertools.pairwise(path)]


@dataclass
class JobExecutions:
    """A job's reconcile executions as far as they could be read, with what to tell the reader about the
    rest: `notes` (why some are missing) and `links` (text, url) to see them elsewhere."""

    traces: list[ExecutionTrace] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        """For the terminal: the notes, then the links' URLs."""
        return [*self.notes, *(url for _, url in self.links)]


def parse_history(arn: str, events: list[dict[str, Any]]) -> ExecutionTrace:
    """An execution from `GetExecutionHistory` events (all pages, oldest first)."""
    return build_trace(arn, [_from_api(event) for event in events])


def parse_log_records(arn: str, records: list[dict[str, Any]]) -> ExecutionTrace:
    """An execution from the JSON objects its CloudWatch Logs events carry, in any order.

    Records of other executions are left out; a record delivered twice counts once.
    """
    by_id = {int(r["id"]): r for r in records if r.get("execution_arn", arn) == arn}
    return build_trace(arn, [_from_log(by_id[key]) for key in sorted(by_id)])


def build_trace(arn: str, events: list[HistoryEvent]) -> ExecutionTrace:
    """Read the events in order: which states were entered, with what, how each was left, how it ended."""
    trace = ExecutionTrace(arn=arn, status="RUNNING", step="?", outcome="?")
    begin = events[0].timestamp_ms if events else 0
    open_visit: dict[str, Any] | None = None
    failed_inside = False

    def close(exited_ms: int | None) -> None:
        nonlocal open_visit
        if open_visit is not None:
            trace.visits.append(StateVisit(**open_visit, exited_ms=exited_ms))
            open_visit = None

    for event in events:
        event = replace(event, offset_ms=event.timestamp_ms - begin)
        trace.events.append(event)
        if event.type.endswith("StateEntered"):
            if trace.states and failed_inside:
                trace.caught.add((trace.states[-1], event.state))
            close(None)
            trace.states.append(event.state)
            open_visit = {
                "name": event.state,
                "type": event.type.removesuffix("StateEntered"),
                "entered_ms": event.offset_ms,
                "input": event.input,
                "truncated": event.truncated,
            }
            failed_inside = False
        elif event.type.endswith("StateExited"):
            if open_visit is not None:
                open_visit["output"] = event.output
                open_visit["truncated"] = open_visit["truncated"] or event.truncated
            close(event.offset_ms)
        elif event.type == "ExecutionStarted":
            trace.started_ms, trace.input = event.timestamp_ms, event.input
            trace.step, trace.outcome = _step_and_outcome(event.input)
        elif event.type in _ENDINGS:
            close(None)
            trace.status, trace.stopped_ms = _ENDINGS[event.type], event.timestamp_ms
            trace.output, trace.error, trace.cause = event.output, event.error, event.cause
        elif event.type.endswith("Scheduled") and open_visit is not None:  # a first attempt or a Retry
            open_visit.update(attempts=open_visit.get("attempts", 0) + 1, error="", cause="")
            failed_inside = False
        elif event.type.endswith(("Failed", "TimedOut")):
            failed_inside = True
            if open_visit is not None:
                open_visit["error"], open_visit["cause"] = event.error, event.cause
    close(None)
    return trace


def _step_and_outcome(text: str | None) -> tuple[str, str]:
    """The reconcile input names the step and its outcome; a deadline run fails the job."""
    try:
        details = json.loads(text or "{}")
    except json.JSONDecodeError:  # cut short in CloudWatch Logs
        return "?", "?"
    if not isinstance(details, dict):
        return "?", "?"
    if details.get("kind") == "deadline":
        return "deadline", JobStatus.FAILED
    return str(details.get("step", "?")), str(details.get("outcome", "?"))


def _from_api(event: dict[str, Any]) -> HistoryEvent:
    details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
    return _event(
        event["type"],
        details,
        int(event.get("id", 0)),
        int(event.get("previousEventId", 0)),
        round(event["timestamp"].timestamp() * 1000),
    )


def _from_log(record: dict[str, Any]) -> HistoryEvent:
    return _event(
        record["type"],
        record.get("details") or {},
        int(record["id"]),
        int(record.get("previous_event_id", 0)),
        int(record["event_timestamp"]),
    )


def _event(kind: str, details: dict[str, Any], id_: int, previous: int, at_ms: int) -> HistoryEvent:
    is_state = kind.endswith(("StateEntered", "StateExited"))
    truncated = any(
        bool((details.get(key) or {}).get("truncated")) for key in ("inputDetails", "outputDetails")
    )
    return HistoryEvent(
        offset_ms=0,
        type=kind,
        state=str(details.get("name", "")) if is_state else "",
        id=id_,
        previous_id=previous,
        timestamp_ms=at_ms,
        input=_text(details.get("input")),
        output=_text(details.get("output")),
        error=str(details.get("error") or ""),
        cause=str(details.get("cause") or ""),
        truncated=truncated,
    )


def _text(value: Any) -> str | None:
    """Input and output are JSON text in both APIs; anything else is written back as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
