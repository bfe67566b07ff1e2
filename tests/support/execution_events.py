"""One reconcile execution's history events in the two shapes AWS hands them out, for tests.

`GetExecutionHistory` (API reference, HistoryEvent): numeric `id`/`previousEventId`, a datetime
`timestamp`, the details under `<type in lowerCamelCase>EventDetails` (`stateEnteredEventDetails` and
`stateExitedEventDetails` for every state type). CloudWatch Logs, level ALL with execution data, as the
Step Functions developer guide's logging page shows it: one JSON message per event with `id`,
`previous_event_id` and `event_timestamp` (epoch milliseconds) as strings, `type`, `execution_arn`,
`redrive_count` and the same details body under `details`; input and output stay escaped JSON text with
`inputDetails`/`outputDetails` `{"truncated": false}`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 25, 8, 0, 0, 123000, tzinfo=UTC)
ROLE_ARN = "arn:aws:iam::111122223333:role/pixelpipe-reconcile"
STEP_MS = 7  # between consecutive events


def reconcile_walk(
    path: list[tuple[str, str]],
    execution_input: dict[str, Any],
    caught_in: str = "",
    ending: tuple[str, dict[str, Any]] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(type, details) of every event of an execution through `path` [(state, ASL type)], a Task in
    `caught_in` failing with a conditional check its Catch takes (the state still exits, its output the
    Catch's, as AWS records it), then `ending` (default: success)."""
    data = json.dumps(execution_input)
    events: list[tuple[str, dict[str, Any]]] = [
        ("ExecutionStarted", {"input": data, **_no_cut("input"), "roleArn": ROLE_ARN})
    ]
    for index, (name, kind) in enumerate(path):
        state_input = json.dumps({**execution_input, "visited": index})
        state_output = json.dumps({**execution_input, "visited": index + 1})
        events.append((f"{kind}StateEntered", {"name": name, "input": state_input, **_no_cut("input")}))
        if kind == "Task":
            task = {"resourceType": "dynamodb", "resource": "updateItem"}
            events.append(("TaskScheduled", {**task, "region": "eu-west-1", "parameters": "{}"}))
            events.append(("TaskStarted", task))
            if name == caught_in:
                events.append(
                    (
                        "TaskFailed",
                        {
                            **task,
                            "error": "DynamoDB.ConditionalCheckFailedException",
                            "cause": "The conditional request failed",
                        },
                    )
                )
                caught = {**execution_input, "visited": index, "error": "ConditionalCheckFailed"}
                exit_details = {"name": name, "output": json.dumps(caught), **_no_cut("output")}
                events.append((f"{kind}StateExited", exit_details))  # AWS exits a caught state too
                continue
            events.append(("TaskSucceeded", {**task, "output": state_output, **_no_cut("output")}))
        events.append((f"{kind}StateExited", {"name": name, "output": state_output, **_no_cut("output")}))
    final = json.dumps({**execution_input, "visited": len(path)})
    events.append(ending or ("ExecutionSucceeded", {"output": final, **_no_cut("output")}))
    return events


def as_api_events(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The events as `GetExecutionHistory` returns them (boto3: datetimes)."""
    shaped = []
    for index, (kind, details) in enumerate(events, 1):
        shaped.append(
            {
                "timestamp": T0 + timedelta(milliseconds=STEP_MS * index),
                "type": kind,
                "id": index,
                "previousEventId": index - 1,
                _details_key(kind): details,
            }
        )
    return shaped


def as_log_records(arn: str, events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The events as the JSON objects the execution logs to CloudWatch Logs."""
    begin = round(T0.timestamp() * 1000)
    return [
        {
            "id": str(index),
            "type": kind,
            "details": details,
            "previous_event_id": str(index - 1),
            "event_timestamp": str(begin + STEP_MS * index),
            "execution_arn": arn,
            "redrive_count": "0",
        }
        for index, (kind, details) in enumerate(events, 1)
    ]


def api_events_as_log_records(arn: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Real `GetExecutionHistory` events (from moto) written the way CloudWatch Logs carries them."""
    return [
        {
            "id": str(event["id"]),
            "type": event["type"],
            "details": next((v for k, v in event.items() if k.endswith("EventDetails")), {}),
            "previous_event_id": str(event.get("previousEventId", 0)),
            "event_timestamp": str(round(event["timestamp"].timestamp() * 1000)),
            "execution_arn": arn,
            "redrive_count": "0",
        }
        for event in events
    ]


def filter_log_events_pages(
    records: list[dict[str, Any]], per_page: int, empty_page_after: int | None = None
) -> list[dict[str, Any]]:
    """FilterLogEvents responses (API reference: events[] of logStreamName, timestamp, message,
    ingestionTime, eventId; nextToken on every page but the last) carrying `records`, `per_page` a page;
    an empty page with a nextToken after page `empty_page_after`, as the API may return while it scans."""
    pages: list[dict[str, Any]] = []
    for start in range(0, len(records), per_page):
        events = []
        for record in records[start : start + per_page]:
            at = int(record["event_timestamp"])
            machine = record["execution_arn"].split(":")[6]
            events.append(
                {
                    "logStreamName": f"states/{machine}/2026-11-25-08-00/00000000",
                    "timestamp": at,
                    "message": json.dumps(record),
                    "ingestionTime": at + 350,
                    "eventId": f"3780{at}{record['id']:0>6}",
                }
            )
        pages.append({"events": events, "searchedLogStreams": []})
        if empty_page_after is not None and len(pages) == empty_page_after:
            pages.append({"events": [], "searchedLogStreams": []})
    for number, page in enumerate(pages[:-1], 1):
        page["nextToken"] = f"token-{number}"
    return pages


def _details_key(kind: str) -> str:
    if kind.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if kind.endswith("StateExited"):
        return "stateExitedEventDetails"
    return kind[0].lower() + kind[1:] + "EventDetails"


def _no_cut(field: str) -> dict[str, Any]:
    return {f"{field}Details": {"truncated": False}}
