"""Job-finished events that no execution confirmed are sent by the sweeper, once, with the original id.

The real ASL and the real provisioned bus, rule and example queue on the emulator. A terminal transition
whose execution never gets its event out (killed after the write, or PutEvents failing every retry)
leaves the record finished with `eventPendingAt` set and no event. Here that is produced by the same
state machine pointed at a bus that does not exist: its put fails and the execution ends as a killed one
would leave the record. The sweep (pixelpipe.logic.deadlines.Sweeper with the real index adapter and the
real reconcile input) must then send exactly that event, with the transition's eventId.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.adapters.job_events import UnconfirmedEvents, event_input
from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.reconciler import Reconciler, deadline_input
from pixelpipe.config import settings, step_names
from pixelpipe.logic.clock import format_iso, parse_iso
from pixelpipe.logic.deadlines import Sweeper
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe.logic.lifecycle import deadline_after
from pixelpipe_emulator.provision import JOB_EVENTS_QUEUE, provision, state_machine_definition
from support.emulator import emulator_process
from support.reconcile_jobs import DEADLINE, at

ROLE = "arn:aws:iam::123456789012:role/reconcile"
DOC = Path(__file__).resolve().parents[2] / "docs" / "job-record.md"


def documented_event() -> tuple[set[str], dict[str, Any]]:
    """docs/job-record.md's job-finished events section: its `detail` field table and its example."""
    text = DOC.read_text()
    section = text[text.index("## Job-finished events") :]
    section = section[: section.index("\n## ", 1)]
    table = section[section.index("| `detail` field |") :].split("\n\n", 1)[0]
    fields = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))
    example = json.loads(re.search(r"```json\n(.*?)```", section, flags=re.DOTALL).group(1))
    return fields, example


@dataclass
class Stack:
    clients: dict[str, Any]
    target: Any
    unreachable_bus_machine: str

    def run(self, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
        sfn = self.clients["stepfunctions"]
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(payload))[
            "executionArn"
        ]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution still RUNNING after 30 s"
            time.sleep(0.02)
        return described

    def events(self) -> list[dict[str, Any]]:
        """Every event the example rule delivered to the example queue since the last call."""
        sqs, url = self.clients["sqs"], self.target.queues[JOB_EVENTS_QUEUE]["url"]
        found = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found += [json.loads(m["Body"]) for m in messages]
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def record(self, job_id: str) -> dict[str, Any]:
        table = JobsTable(self.clients["dynamodb"], self.target.jobs_table, self.target.status_index)
        found = table.get(job_id)
        assert found is not None
        return found

    def sweeper(self) -> Sweeper:
        """The sweeper's event half as the handler builds it, starting executions on the real machine."""
        reconciler = Reconciler(self.clients["stepfunctions"], self.target.state_machine_arn)

        class Resend:
            def resend_event(self, job_id: str) -> None:
                reconciler.start(f"{job_id}-event-{uuid.uuid4().hex[:8]}", event_input(job_id, at(0)))

            def fail_past_deadline(self, job_id: str, reason: str) -> None:
                raise AssertionError("no deadline is due in these tests")

        return Sweeper(
            jobs=JobsTable(self.clients["dynamodb"], self.target.jobs_table, self.target.status_index),
            reconcile=Resend(),
            deadline_seconds=DEADLINE,
            events=UnconfirmedEvents(
                self.clients["dynamodb"], self.target.jobs_table, settings().table.event_index
            ),
            resend=Resend(),
            resend_after_seconds=settings().events.resend_after_seconds,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with emulator_process(tmp_path_factory.mktemp("job-events")) as emulator:
        names = ("s3", "dynamodb", "sns", "sqs", "stepfunctions", "events")
        clients = {name: emulator.client(name) for name in names}
        target = provision(clients, emulator.endpoint)
        # The same ASL whose PutEvents can never succeed: a terminal transition with no event out.
        unreachable = clients["stepfunctions"].create_state_machine(
            name=f"reconcile-unreachable-bus-{uuid.uuid4().hex[:8]}",
            definition=state_machine_definition(target.jobs_table, event_bus="no-such-bus"),
            roleArn=ROLE,
            type="EXPRESS",
        )["stateMachineArn"]
        yield Stack(clients, target, unreachable)


def pending_job(stack: Stack, key: str = "uploads/<script>alert(1)</script> cat.png") -> str:
    source = SourceObject(
        bucket=settings().storage.upload_bucket,
        key=key,
        size=1000,
        etag=f'"{uuid.uuid4().hex}"',
        version_id=uuid.uuid4().hex,
        content_type="image/png",
    )
    job_id = job_id_for(source)
    record = new_job_record(job_id, source, step_names(), at(0), deadline_at=at(DEADLINE))
    stack.clients["dynamodb"].put_item(TableName=stack.target.jobs_table, Item=to_item(record))
    return job_id


def overdue(job_id: str, machine: str, stack: Stack) -> dict[str, Any]:
    """The job failed by its deadline (the sweeper's terminal transition), on `machine`."""
    reason = "timeout: unfinished steps: resize, analysis"
    return stack.run(machine, deadline_input(job_id, deadline_after(at(DEADLINE), 1), reason))


def seconds_after(moment: str, seconds: float) -> str:
    return format_iso(parse_iso(moment) + timedelta(seconds=seconds))


def test_the_winning_transition_sends_one_event_and_confirms_it(stack: Stack):
    # GIVEN a PENDING job past its deadline
    job_id = pending_job(stack)
    stack.events()

    # WHEN the deadline fails it, and a second sweep's deadline for it runs too
    assert overdue(job_id, stack.target.state_machine_arn, stack)["status"] == "SUCCEEDED"
    assert overdue(job_id, stack.target.state_machine_arn, stack)["status"] == "SUCCEEDED"

    # THEN one event, the record's, confirmed; the key is data, as uploaded
    record = stack.record(job_id)
    [event] = stack.events()
    assert event["detail"]["eventId"] == record["eventId"]
    assert event["detail"]["status"] == "FAILED" == record["status"]
    assert event["detail"]["key"] == "uploads/<script>alert(1)</script> cat.png"
    assert event["detail"]["reason"] == record["failureReason"]
    assert "eventPendingAt" not in record
    assert stack.sweeper().resend_events(seconds_after(record["completedAt"], 3600)) == []


def test_an_event_no_execution_sent_is_sent_by_the_sweep_after_the_resend_delay(stack: Stack):
    # GIVEN a job failed by a terminal transition whose event never got out
    job_id = pending_job(stack)
    stack.events()
    assert overdue(job_id, stack.unreachable_bus_machine, stack)["status"] == "SUCCEEDED"
    record = stack.record(job_id)
    assert record["status"] == "FAILED" and "eventPendingAt" in record
    assert stack.events() == []
    finished = record["completedAt"]
    resend_after = settings().events.resend_after_seconds

    # WHEN the sweep runs while the transition's own execution could still be alive: nothing is sent
    assert stack.sweeper().resend_events(seconds_after(finished, resend_after - 1)) == []
    # WHEN it runs after the resend delay
    assert stack.sweeper().resend_events(seconds_after(finished, resend_after + 1)) == [job_id]
    time.sleep(0.5)
    deadline = time.monotonic() + 30
    while "eventPendingAt" in stack.record(job_id):
        assert time.monotonic() < deadline, "the resend never confirmed the event"
        time.sleep(0.05)

    # THEN exactly that transition's event arrives once, confirmed; a later sweep sends nothing
    [event] = stack.events()
    assert event["detail"]["eventId"] == record["eventId"]
    assert event["detail"] == {
        "eventId": record["eventId"],
        "jobId": job_id,
        "status": "FAILED",
        "key": record["source"]["key"],
        "thumbnails": [],
        "labels": [],
        "reason": record["failureReason"],
        "finishedAt": finished,
    }
    assert stack.sweeper().resend_events(seconds_after(finished, 3 * resend_after)) == []
    assert stack.events() == []


def test_a_resend_for_a_job_reopened_since_sends_nothing(stack: Stack):
    # GIVEN a finished job whose event never got out, then reopened by an operator
    job_id = pending_job(stack)
    assert overdue(job_id, stack.unreachable_bus_machine, stack)["status"] == "SUCCEEDED"
    table = JobsTable(stack.clients["dynamodb"], stack.target.jobs_table, stack.target.status_index)
    table.reopen_steps(job_id, step_names(), at(2000), "test retry", False, deadline_at=at(2000 + DEADLINE))
    stack.events()

    # WHEN the re-send runs for it
    described = stack.run(stack.target.state_machine_arn, event_input(job_id, at(3000)))

    # THEN it sends nothing: the job's next terminal transition sends the event of that run
    assert described["status"] == "SUCCEEDED"
    assert stack.events() == []


def test_the_event_has_the_shape_docs_job_record_md_documents(stack: Stack):
    # GIVEN the documented fields and example
    fields, example = documented_event()
    settings_events = settings().events
    # WHEN a job finishes
    job_id = pending_job(stack, key="uploads/shape.png")
    stack.events()
    assert overdue(job_id, stack.target.state_machine_arn, stack)["status"] == "SUCCEEDED"
    [event] = stack.events()
    # THEN its detail has exactly the documented fields, like the example, and the documented names
    assert set(event["detail"]) == fields == set(example["detail"])
    assert (event["source"], event["detail-type"]) == (settings_events.source, settings_events.detail_type)
    assert (example["source"], example["detail-type"]) == (
        settings_events.source,
        settings_events.detail_type,
    )
    assert set(example) <= set(event) | {"account"}


def test_a_job_rejected_at_intake_gets_its_event_from_the_next_sweep(stack: Stack):
    # GIVEN a job dispatch rejected at intake: born FAILED, no reconcile run ever finishes it
    source = SourceObject(
        bucket=settings().storage.upload_bucket,
        key="uploads/empty.png",
        size=0,
        etag=f'"{uuid.uuid4().hex}"',
        version_id=uuid.uuid4().hex,
        content_type="image/png",
    )
    job_id = job_id_for(source)
    reason = "empty file: the upload has 0 bytes"
    record = new_job_record(job_id, source, step_names(), at(0), rejection=reason)
    stack.clients["dynamodb"].put_item(TableName=stack.target.jobs_table, Item=to_item(record))
    stack.events()

    # WHEN the next sweep runs, with no delay: no execution owns this event
    assert stack.sweeper().resend_events(at(1)) == [job_id]
    deadline = time.monotonic() + 30
    while "eventPendingAt" in stack.record(job_id):
        assert time.monotonic() < deadline, "the event was never confirmed"
        time.sleep(0.05)

    # THEN its one event says FAILED with the intake reason; the next sweep sends nothing
    [event] = stack.events()
    assert event["detail"] | {"eventId": None} == {
        "eventId": None,
        "jobId": job_id,
        "status": "FAILED",
        "key": "uploads/empty.png",
        "thumbnails": [],
        "labels": [],
        "reason": reason,
        "finishedAt": at(0),
    }
    assert event["detail"]["eventId"] == stack.record(job_id)["eventId"]
    assert stack.sweeper().resend_events(at(2)) == []
