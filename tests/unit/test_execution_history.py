"""One execution's history, from GetExecutionHistory events or from the CloudWatch Logs records an Express
execution writes on AWS, read into the same model: states in order with their input and output, the
Catch taken, the ending, the step and outcome it recorded."""

from __future__ import annotations

import json
import random

from pixelpipe_cli.asl_model import END, START
from pixelpipe_cli.execution_history import parse_history, parse_log_records
from support.execution_events import STEP_MS, as_api_events, as_log_records, reconcile_walk

ARN = "arn:aws:states:eu-west-1:111122223333:express:pixelpipe-reconcile:job-resize-1-S:5f0c9f1e"
RESIZE_OK = {"kind": "step", "jobId": "job", "step": "resize", "outcome": "SUCCEEDED"}
COMPLETES_JOB = [
    ("Is this a deadline?", "Choice"),
    ("Did the step succeed?", "Choice"),
    ("Record step success", "Task"),
    ("Count step result", "Task"),
    ("Job still pending?", "Choice"),
    ("Mark job COMPLETE", "Task"),
    ("Count JobsCompleted", "Task"),
]
FINDS_JOB_DONE = [
    ("Is this a deadline?", "Choice"),
    ("Did the step succeed?", "Choice"),
    ("Record step success", "Task"),
    ("Read job (result already recorded or stale)", "Task"),
    ("Job still pending?", "Choice"),
    ("Keep terminal state", "Succeed"),
]


def test_the_same_execution_read_from_either_source_is_the_same_model():
    # GIVEN one execution's events, as GetExecutionHistory returns them and as CloudWatch Logs holds them
    events = reconcile_walk(COMPLETES_JOB, RESIZE_OK)
    # WHEN each is read
    from_api = parse_history(ARN, as_api_events(events))
    from_logs = parse_log_records(ARN, as_log_records(ARN, events))
    # THEN the models are equal, and hold what the execution did
    assert from_logs == from_api
    assert from_logs.states == [name for name, _ in COMPLETES_JOB]
    assert (from_logs.step, from_logs.outcome, from_logs.status) == ("resize", "SUCCEEDED", "SUCCEEDED")
    assert from_logs.name == "5f0c9f1e"
    assert from_logs.duration_ms == STEP_MS * (len(events) - 1)
    assert json.loads(from_logs.input) == RESIZE_OK
    assert json.loads(from_logs.output)["visited"] == len(COMPLETES_JOB)
    record = from_logs.visits[2]
    assert (record.name, record.type) == ("Record step success", "Task")
    assert json.loads(record.input)["visited"] == 2 and json.loads(record.output)["visited"] == 3
    assert record.duration_ms == 4 * STEP_MS  # entered, scheduled, started, succeeded, exited
    assert from_logs.transitions()[0] == (START, "Is this a deadline?", False)
    assert from_logs.transitions()[-1] == ("Count JobsCompleted", END, False)


def test_log_records_in_any_order_repeated_or_of_other_executions_read_as_the_execution_alone():
    # GIVEN the execution's records shuffled, one delivered twice, and another execution's among them
    events = reconcile_walk(COMPLETES_JOB, RESIZE_OK)
    records = as_log_records(ARN, events)
    other = as_log_records(ARN.replace("5f0c9f1e", "77aa"), reconcile_walk(FINDS_JOB_DONE, RESIZE_OK))
    mixed = [*records, records[3], *other]
    random.Random(7).shuffle(mixed)
    # WHEN read for this execution THEN it is as if the records came once, in order
    assert parse_log_records(ARN, mixed) == parse_log_records(ARN, records)


def test_a_caught_failure_is_the_catch_transition_with_the_error_on_the_state_it_left():
    # GIVEN an execution whose conditional write failed and whose Catch read the job instead
    events = reconcile_walk(FINDS_JOB_DONE, RESIZE_OK, caught_in="Record step success")
    # WHEN it is read from CloudWatch Logs
    trace = parse_log_records(ARN, as_log_records(ARN, events))
    # THEN the transition out of the failed state is the Catch, and the visit names the error
    assert trace.caught == {("Record step success", "Read job (result already recorded or stale)")}
    assert ("Record step success", "Read job (result already recorded or stale)", True) in trace.transitions()
    failed = trace.visits[2]
    assert failed.error == "DynamoDB.ConditionalCheckFailedException"
    assert failed.cause == "The conditional request failed"
    assert json.loads(failed.output)["error"] == "ConditionalCheckFailed"  # the Catch's output
    assert failed.attempts == 1
    assert [v.error for v in trace.visits if v.error] == [failed.error]
    assert trace.visit_counts() == {name: 1 for name, _ in FINDS_JOB_DONE}


def test_a_log_message_exactly_as_aws_writes_it_is_read():
    # GIVEN two messages as CloudWatch Logs shows them (strings for ids and times, escaped JSON input)
    messages = [
        '{"id": "1", "type": "ExecutionStarted", "details": {"input": "{\\"kind\\":\\"deadline\\",'
        '\\"jobId\\":\\"a0c371aa\\"}", "inputDetails": {"truncated": false}, "roleArn": '
        '"arn:aws:iam::111122223333:role/pixelpipe-reconcile"}, "previous_event_id": "0", '
        '"event_timestamp": "1795593600123", "execution_arn": "' + ARN + '", "redrive_count": "0"}',
        '{"id": "2", "type": "ChoiceStateEntered", "details": {"input": "{\\"kind\\":\\"deadline\\"}", '
        '"inputDetails": {"truncated": false}, "name": "Is this a deadline?"}, "previous_event_id": "0", '
        '"event_timestamp": "1795593600131", "execution_arn": "' + ARN + '", "redrive_count": "0"}',
    ]
    # WHEN they are read
    trace = parse_log_records(ARN, [json.loads(m) for m in reversed(messages)])
    # THEN a deadline run that is still going, 8 ms in, in its first state
    assert (trace.step, trace.outcome, trace.status) == ("deadline", "FAILED", "RUNNING")
    assert trace.states == ["Is this a deadline?"]
    assert [(e.id, e.offset_ms, e.type) for e in trace.events] == [
        (1, 0, "ExecutionStarted"),
        (2, 8, "ChoiceStateEntered"),
    ]
    assert trace.started_at is not None and trace.started_at.isoformat() == "2026-11-25T08:00:00.123000+00:00"
    assert trace.transitions() == [(START, "Is this a deadline?", False)]


def test_input_cut_short_by_cloudwatch_logs_is_flagged_and_not_misread():
    # GIVEN an execution whose input exceeded what CloudWatch Logs keeps
    events = reconcile_walk(COMPLETES_JOB[:1], RESIZE_OK)
    cut = json.dumps(RESIZE_OK)[:20]
    events[0] = ("ExecutionStarted", {"input": cut, "inputDetails": {"truncated": True}})
    events[1] = (
        "ChoiceStateEntered",
        {"name": "Is this a deadline?", "input": cut, "inputDetails": {"truncated": True}},
    )
    # WHEN read
    trace = parse_log_records(ARN, as_log_records(ARN, events))
    # THEN step and outcome are unknown rather than guessed, and the state says its input is partial
    assert (trace.step, trace.outcome) == ("?", "?")
    assert trace.visits[0].truncated and trace.visits[0].input == cut
    assert trace.events[0].truncated


def test_a_failed_execution_ends_failed_with_its_error_and_cause():
    ending = (
        "ExecutionFailed",
        {"error": "States.Runtime", "cause": "The JSONPath '$.job' could not be found"},
    )
    events = reconcile_walk(COMPLETES_JOB[:2], RESIZE_OK, ending=ending)
    trace = parse_log_records(ARN, as_log_records(ARN, events))
    assert (trace.status, trace.error, trace.cause) == ("FAILED", *ending[1].values())
    assert trace.output is None
    assert trace.transitions()[-1] == ("Did the step succeed?", END, False)
    assert trace == parse_history(ARN, as_api_events(events))


def test_a_timed_out_execution_reads_as_the_api_names_the_status():
    events = reconcile_walk(COMPLETES_JOB[:1], RESIZE_OK, ending=("ExecutionTimedOut", {}))
    assert parse_log_records(ARN, as_log_records(ARN, events)).status == "TIMED_OUT"


def test_a_retried_task_that_then_succeeds_is_left_by_next_not_by_its_catch():
    # GIVEN a Task whose first attempt was throttled and whose Retry then succeeded
    events = reconcile_walk(COMPLETES_JOB[:4], RESIZE_OK)
    task = {"resourceType": "dynamodb", "resource": "updateItem"}
    throttled = {**task, "error": "DynamoDB.ProvisionedThroughputExceededException", "cause": "slow down"}
    entered = next(i for i, (_, details) in enumerate(events) if details.get("name") == "Record step success")
    events[entered + 1 : entered + 1] = [
        ("TaskScheduled", {**task, "region": "eu-west-1", "parameters": "{}"}),
        ("TaskStarted", task),
        ("TaskFailed", throttled),
    ]
    # WHEN read
    trace = parse_log_records(ARN, as_log_records(ARN, events))
    # THEN no Catch was taken, and the visit counts two attempts, the last one clean
    assert trace.caught == set()
    assert all(not through_catch for _, _, through_catch in trace.transitions())
    record = trace.visits[2]
    assert (record.name, record.attempts, record.error) == ("Record step success", 2, "")
