"""Property-based proof of the reconciler: the real ASL (statemachine/reconcile.asl.json) on the local
stack's emulator, driven by hypothesis through claims, completions (current and stale attempts, success
and failure), duplicates, late completions after a terminal state, operator retries, deadlines and
completions started concurrently, a deadline racing a completion; after every step, once every execution
has finished, the job records, the history, the metrics and the job-finished events (exactly one per
terminal transition, each confirmed, with a distinct eventId and the record's content) are checked against
a model and against the invariants of docs/reliability.md.

`make test` runs the `pixelpipe` profile (bounded); `HYPOTHESIS_PROFILE=soak` runs many more examples.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pixelpipe.adapters.dynamo_types import to_item
from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.adapters.reconciler import completion_input, deadline_input
from pixelpipe.config import settings as pipeline_settings
from pixelpipe.config import step_names, workers
from pixelpipe.logic.clock import format_iso
from pixelpipe.logic.jobs import SourceObject, StepCompletion, job_id_for, new_job_record
from pixelpipe.logic.lifecycle import deadline_after, terminal_transitions
from pixelpipe_emulator.provision import state_machine_definition
from support.emulator import Emulator, emulator_process

settings.register_profile(
    "pixelpipe",
    max_examples=20,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=200,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "soak",
    max_examples=1000,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "pixelpipe")

JOBS = 1
STEPS = step_names()
EXECUTION_TIMEOUT_SECONDS = 60.0
ROLE = "arn:aws:iam::012345678901:role/DummyRole"
T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
DEADLINE_SECONDS = 900  # every example's clock stays far below it: only an overdue sweep is past it
RESULTS: dict[str, Any] = {
    "thumbnails": [{"size": 256, "key": "thumbnails/job/256.jpg", "width": 256, "height": 170}],
    "labels": [{"name": "tabby cat", "confidence": 71.42}],
}
TERMINAL = ("COMPLETE", "FAILED")


@dataclass(frozen=True)
class Payload:
    """One worker's report on one attempt: the outcome of an attempt is decided once, at its claim."""

    job_id: str
    step: str
    attempt: int
    error: str | None
    finished_at: str

    def completion(self) -> StepCompletion:
        field_name = workers()[self.step].result_field
        return StepCompletion(
            job_id=self.job_id,
            step=self.step,
            attempt=self.attempt,
            succeeded=self.error is None,
            started_at=self.finished_at,
            finished_at=self.finished_at,
            duration_ms=1000,
            result_field=field_name,
            result=None if self.error else RESULTS.get(field_name, {"recorded": self.step}),
            error=self.error,
        )

    @property
    def outcome(self) -> str:
        return "SUCCEEDED" if self.error is None else "FAILED"

    @property
    def reason(self) -> str:
        return f"{self.step}: {self.error}"


@dataclass
class StepModel:
    status: str = "PENDING"
    attempts: int = 0
    recorded: Payload | None = None


@dataclass
class JobModel:
    """What the record must say, as DynamoDB's conditions and the ASL's choices decide it."""

    job_id: str
    deadline_at: str
    steps: dict[str, StepModel] = field(default_factory=lambda: {s: StepModel() for s in STEPS})
    status: str = "PENDING"
    reopens: int = 0
    terminal_events: list[str] = field(default_factory=list)
    # Every (step, attempt, outcome) the record's history must show, however ordered.
    recorded: Counter = field(default_factory=Counter)
    # The reasons failureReason may hold (more than one only after failures started at the same time).
    reasons: set[str] = field(default_factory=set)

    def count(self, status: str) -> int:
        return sum(1 for s in self.steps.values() if s.status == status)


@dataclass
class Harness:
    emulator: Emulator
    dynamodb: Any
    stepfunctions: Any
    cloudwatch: Any
    events: Any
    sqs: Any
    table: str


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with emulator_process(tmp_path_factory.mktemp("reconcile-properties")) as emulator:
        pool = {"max_pool_connections": 16}
        dynamodb = emulator.client("dynamodb", **pool)
        table = f"{pipeline_settings().table.name}-properties"
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        )
        yield Harness(
            emulator,
            dynamodb,
            emulator.client("stepfunctions", **pool),
            emulator.client("cloudwatch"),
            emulator.client("events"),
            emulator.client("sqs"),
            table,
        )


class ReconcilerMachine(RuleBasedStateMachine):
    """One example: a fresh state machine (its own metrics namespace and event bus, so the counts and
    the events are this example's alone) and JOBS fresh jobs; the rules act on them and the model
    follows."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.harness = h = harness
        suffix = uuid.uuid4().hex[:12]
        self.namespace = f"PixelPipeProperties{suffix}"
        self.bus, self.events_queue_url = self.event_bus(suffix)
        self.events: list[dict[str, Any]] = []
        definition = state_machine_definition(h.table, event_bus=self.bus).replace(
            json.dumps(pipeline_settings().metrics.namespace), json.dumps(self.namespace)
        )
        self.machine_arn = h.stepfunctions.create_state_machine(
            name=f"reconcile-properties-{uuid.uuid4().hex[:12]}",
            definition=definition,
            roleArn=ROLE,
            type="EXPRESS",
        )["stateMachineArn"]
        self.jobs_table = JobsTable(h.dynamodb, h.table, pipeline_settings().table.status_index)
        self.clock = 0
        self.jobs: list[JobModel] = []
        self.payloads: list[Payload] = []
        self.executions = 0

    def event_bus(self, suffix: str) -> tuple[str, str]:
        """A bus with the example rule (pipeline.json's source and detail-type) sending to a queue."""
        h, config = self.harness, pipeline_settings().events
        bus = f"reconcile-properties-{suffix}"
        h.events.create_event_bus(Name=bus)
        url = h.sqs.create_queue(QueueName=bus)["QueueUrl"]
        arn = h.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": [config.source], "detail-type": [config.detail_type]}
        h.events.put_rule(Name=bus, EventBusName=bus, EventPattern=json.dumps(pattern))
        h.events.put_targets(Rule=bus, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        return bus, url

    def teardown(self) -> None:
        h = self.harness
        h.stepfunctions.delete_state_machine(stateMachineArn=self.machine_arn)
        h.events.remove_targets(Rule=self.bus, EventBusName=self.bus, Ids=["queue"])
        h.events.delete_rule(Name=self.bus, EventBusName=self.bus)
        h.events.delete_event_bus(Name=self.bus)
        h.sqs.delete_queue(QueueUrl=self.events_queue_url)

    def received_events(self) -> list[dict[str, Any]]:
        """Every event the example rule delivered so far (EventBridge's envelope, detail parsed)."""
        sqs = self.harness.sqs
        while messages := sqs.receive_message(
            QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            self.events += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(
                QueueUrl=self.events_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return self.events

    # ------------------------------------------------------------------------------------------ helpers

    def now(self) -> str:
        self.clock += 1
        return format_iso(T0 + timedelta(seconds=self.clock))

    def record(self, job: JobModel) -> dict[str, Any]:
        found = self.jobs_table.get(job.job_id)
        assert found is not None, f"job {job.job_id} vanished"
        return found

    def run(self, payloads: list[dict[str, Any]]) -> None:
        """Start every payload at once (one thread each when more than one), then wait for them all."""
        sfn = self.harness.stepfunctions
        arns: list[str] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(payloads))

        def start(payload: dict[str, Any]) -> None:
            try:
                if len(payloads) > 1:
                    barrier.wait(timeout=30)
                arns.append(
                    sfn.start_execution(
                        stateMachineArn=self.machine_arn, name=uuid.uuid4().hex, input=json.dumps(payload)
                    )["executionArn"]
                )
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=start, args=(p,)) for p in payloads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, f"StartExecution failed: {errors[0]!r}"
        self.executions += len(arns)
        for arn in arns:
            deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
            while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
                assert time.monotonic() < deadline, f"{arn} still RUNNING after {EXECUTION_TIMEOUT_SECONDS} s"
                time.sleep(0.02)
            assert described["status"] == "SUCCEEDED", (
                f"execution {described['status']}: {described.get('error')} {described.get('cause')}"
            )

    def apply(self, payload: Payload) -> bool:
        """The model's reconcile of one completion; True when it is recorded."""
        job = self.jobs[[j.job_id for j in self.jobs].index(payload.job_id)]
        step = job.steps[payload.step]
        recorded = step.status == "RUNNING" and step.attempts == payload.attempt
        if recorded:
            step.status, step.recorded = payload.outcome, payload
            job.recorded[(payload.step, payload.attempt, payload.outcome)] += 1
        # Recorded or not (a duplicate reads the job), a PENDING job whose counts say so is finished.
        if job.status == "PENDING":
            if job.count("FAILED") > 0:
                self.finish(job, "FAILED")
            elif job.count("SUCCEEDED") == len(STEPS):
                self.finish(job, "COMPLETE")
        return recorded

    def finish(self, job: JobModel, status: str) -> None:
        job.status = status
        job.terminal_events.append(status)

    def job_of(self, index: int) -> JobModel:
        return self.jobs[index % len(self.jobs)]

    # -------------------------------------------------------------------------------------------- rules

    @initialize()
    def create_jobs(self) -> None:
        for _ in range(JOBS):
            source = SourceObject(
                bucket=pipeline_settings().storage.upload_bucket,
                key=f"{pipeline_settings().storage.upload_prefix}{uuid.uuid4().hex}/cat.png",
                size=1000,
                etag='"5d41402abc4b2a76b9719d911017c592"',
                version_id=uuid.uuid4().hex,
                content_type="image/png",
            )
            job_id = job_id_for(source)
            deadline = deadline_after(format_iso(T0), DEADLINE_SECONDS)
            self.harness.dynamodb.put_item(
                TableName=self.harness.table,
                Item=to_item(new_job_record(job_id, source, STEPS, format_iso(T0), deadline_at=deadline)),
                ConditionExpression="attribute_not_exists(jobId)",
            )
            self.jobs.append(JobModel(job_id, deadline))

    @rule(
        job=st.integers(0, JOBS - 1), step=st.sampled_from(STEPS), error=st.sampled_from([None, None, "bad"])
    )
    def claim(self, job: int, step: str, error: str | None) -> None:
        """A worker receives the step's message and claims it; what the attempt will report is decided now."""
        model = self.job_of(job)
        allowed = model.status == "PENDING" and model.steps[step].status in ("PENDING", "RUNNING")
        claim = self.jobs_table.claim_step(model.job_id, step, self.now(), "receive")
        assert (claim is not None) == allowed, f"claim {'refused' if allowed else 'accepted'}: {model}"
        if claim is None:
            return
        model.steps[step].status = "RUNNING"
        model.steps[step].attempts += 1
        assert claim.attempt == model.steps[step].attempts
        message = None if error is None else f"{error} input, attempt {claim.attempt}"
        self.payloads.append(Payload(model.job_id, step, claim.attempt, message, self.now()))

    @precondition(lambda self: self.payloads)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        """Any attempt's report arrives: the current one, a stale one, a duplicate or a late one."""
        payload = data.draw(st.sampled_from(self.payloads), label="payload")
        self.run([completion_input(payload.completion())])
        self.apply_batch([payload])

    @precondition(lambda self: self.payloads)
    @rule(data=st.data())
    def complete_twice(self, data: st.DataObject) -> None:
        """At-least-once delivery: the same report, twice in a row."""
        payload = data.draw(st.sampled_from(self.payloads), label="payload")
        for _ in range(2):
            self.run([completion_input(payload.completion())])
            self.apply_batch([payload])

    @precondition(lambda self: self.payloads)
    @rule(data=st.data())
    def complete_concurrently(self, data: st.DataObject) -> None:
        """2-7 reports started at the same moment (repeats allowed): executions that interleave."""
        batch = data.draw(st.lists(st.sampled_from(self.payloads), min_size=2, max_size=7), label="batch")
        self.run([completion_input(p.completion()) for p in batch])
        self.apply_batch(batch)

    def apply_batch(self, batch: list[Payload]) -> None:
        """Reconcile outcomes do not depend on the order of concurrent executions, except which failure
        reason lands first: every failure recorded by the batch is a candidate."""
        reason_was_set = {job.job_id: bool(job.reasons) for job in self.jobs}
        for payload in batch:
            job = self.jobs[[j.job_id for j in self.jobs].index(payload.job_id)]
            if self.apply(payload) and payload.error and not reason_was_set[job.job_id]:
                job.reasons.add(payload.reason)

    @rule(job=st.integers(0, JOBS - 1), overdue=st.booleans())
    def deadline(self, job: int, overdue: bool) -> None:
        """A sweep's deadline: past the job's deadlineAt (overdue), or read before a retry moved it (not);
        either may race with the job's last step."""
        model = self.job_of(job)
        reason = f"timeout: test deadline {self.clock}"
        at = deadline_after(model.deadline_at, 1) if overdue else self.now()
        self.run([deadline_input(model.job_id, at, reason)])
        if model.status == "PENDING" and overdue:
            if not model.reasons:
                model.reasons.add(reason)
            self.finish(model, "FAILED")

    @precondition(lambda self: self.payloads)
    @rule(data=st.data())
    def complete_racing_deadline(self, data: st.DataObject) -> None:
        """A sweep's overdue deadline and a step's report started at the same moment: whichever terminal
        write lands first wins, the other finds the job finished; the report is recorded on its step
        either way (a late result)."""
        payload = data.draw(st.sampled_from(self.payloads), label="payload")
        model = self.jobs[[j.job_id for j in self.jobs].index(payload.job_id)]
        was_pending, reason_was_set = model.status == "PENDING", bool(model.reasons)
        reason = f"timeout: racing deadline {self.clock}"
        deadline = deadline_input(model.job_id, deadline_after(model.deadline_at, 1), reason)
        self.run([completion_input(payload.completion()), deadline])
        step = model.steps[payload.step]
        recorded = step.status == "RUNNING" and step.attempts == payload.attempt
        if recorded:
            step.status, step.recorded = payload.outcome, payload
            model.recorded[(payload.step, payload.attempt, payload.outcome)] += 1
            if payload.error and not reason_was_set:
                model.reasons.add(payload.reason)
        if not was_pending:
            return
        # The deadline always can win (the job is past it); the record says whether it did.
        deadline_won = terminal_transitions(self.record(model))[-1]["detail"] == reason
        if deadline_won:
            if not reason_was_set:
                model.reasons.add(reason)
            self.finish(model, "FAILED")
        elif model.count("FAILED") > 0:
            self.finish(model, "FAILED")
        else:
            assert model.count("SUCCEEDED") == len(STEPS), (
                "neither the deadline nor the report finished the job"
            )
            self.finish(model, "COMPLETE")

    @rule(
        job=st.integers(0, JOBS - 1), steps=st.sets(st.sampled_from(STEPS), min_size=1), force=st.booleans()
    )
    def retry(self, job: int, steps: set[str], force: bool) -> None:
        """An operator's `pixelpipe retry` (or a DLQ redrive) reopens some steps of the job."""
        model = self.job_of(job)
        chosen = sorted(steps)
        recorded_reason = self.record(model).get("failureReason")
        if recorded_reason in model.reasons:  # failures that raced: now we know which one landed
            model.reasons = {recorded_reason}
        allowed = model.status == "FAILED" or (force and model.status == "COMPLETE")
        at = self.now()
        deadline = deadline_after(at, DEADLINE_SECONDS)
        try:
            self.jobs_table.reopen_steps(model.job_id, chosen, at, "test retry", force, deadline_at=deadline)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            assert not allowed, f"reopen of a {model.status} job refused (force={force})"
            return
        assert allowed, f"reopen of a {model.status} job accepted (force={force})"
        model.status = "PENDING"
        model.deadline_at = deadline
        model.reopens += 1
        # A step left FAILED will fail the job again: its reason stays (the one recorded, if it is one of
        # theirs, else the earliest of theirs); otherwise the job has no reason until a step fails.
        left = [s for s in STEPS if s not in chosen and model.steps[s].status == "FAILED"]
        still_failed = [p for p in (model.steps[s].recorded for s in left) if p is not None]
        theirs = {p.reason for p in still_failed}
        model.reasons = (model.reasons & theirs) or (
            {min(still_failed, key=lambda p: p.finished_at).reason} if still_failed else set()
        )
        for step in chosen:
            model.steps[step].status = "PENDING"

    # ------------------------------------------------------------------------------------- invariants

    @invariant()
    def records_match_the_model_and_hold_the_invariants(self) -> None:
        completed = failed = 0
        step_results: Counter = Counter()
        for model in self.jobs:
            job = self.record(model)
            steps = job["steps"]
            # The model: status, and each step's status and attempts (claims counted, none lost).
            assert job["status"] == model.status
            assert {s: steps[s]["status"] for s in STEPS} == {s: model.steps[s].status for s in STEPS}
            assert {s: steps[s]["attempts"] for s in STEPS} == {s: model.steps[s].attempts for s in STEPS}
            # Counts equal the steps recorded as SUCCEEDED / FAILED.
            assert job["succeededCount"] == sum(1 for s in steps.values() if s["status"] == "SUCCEEDED")
            assert job["failedCount"] == sum(1 for s in steps.values() if s["status"] == "FAILED")
            # No stale attempt recorded: a recorded step is the report of the claim that is current.
            for name in STEPS:
                if model.steps[name].recorded is not None and steps[name]["status"] in (
                    "SUCCEEDED",
                    "FAILED",
                ):
                    assert steps[name] == model.steps[name].recorded.completion().step_record()
                    assert steps[name]["attempts"] == model.steps[name].attempts
            outcomes = Counter(
                (e["step"], e["attempt"], e["event"])
                for e in job["history"]
                if e["step"] in STEPS and e["event"] in ("SUCCEEDED", "FAILED")
            )
            assert outcomes == model.recorded, "a report recorded twice, or a stale one recorded"
            # One terminal transition per terminal state: history entries, completedAt.
            job_events = terminal_transitions(job)
            assert [e["event"] for e in job_events] == model.terminal_events
            assert len(job_events) == model.reopens + (1 if job["status"] in TERMINAL else 0)
            if job["status"] in TERMINAL:
                assert job.get("completedAt") == job_events[-1]["at"]
                assert "deadlineAt" not in job
            else:
                assert "completedAt" not in job
                # A PENDING job's deadline counts from its creation or its latest retry.
                assert job.get("deadlineAt") == model.deadline_at
            # Every job is terminal once all its steps are.
            if all(steps[s]["status"] in ("SUCCEEDED", "FAILED") for s in STEPS):
                assert job["status"] in TERMINAL, f"all steps finished, job {job['status']}"
            # A FAILED job says why: the first failing step's reason (or the deadline's); so does a
            # reopened job that still has a FAILED step. Any other job has no reason.
            assert job["status"] != "FAILED" or model.reasons, "the model lost a FAILED job's reason"
            if model.reasons:
                assert job.get("failureReason") in model.reasons, (job.get("failureReason"), model.reasons)
            else:
                assert "failureReason" not in job
            step_results.update((step, outcome) for step, _attempt, outcome in model.recorded.elements())
            completed += model.terminal_events.count("COMPLETE")
            failed += model.terminal_events.count("FAILED")
        self.check_events()
        # The metrics count each terminal transition exactly once.
        assert (self.metric_sum("JobsCompleted"), self.metric_sum("JobsFailed")) == (completed, failed)
        # Step metrics count only the attempts the reconciler recorded.
        for step in STEPS:
            for outcome, metric in (("SUCCEEDED", "StepSucceeded"), ("FAILED", "StepFailed")):
                assert self.metric_sum(metric, step) == step_results[(step, outcome)], (metric, step)

    def check_events(self) -> None:
        """Exactly one job-finished event per terminal transition, each confirmed (no
        eventPendingAt left once its execution ended), each with its own eventId; the latest one says what
        the record says."""
        received = self.received_events()
        ids = [event["detail"]["eventId"] for event in received]
        assert len(ids) == len(set(ids)), "an event was sent twice"
        for model in self.jobs:
            job = self.record(model)
            details = [e["detail"] for e in received if e["detail"]["jobId"] == model.job_id]
            # Counted, not ordered: a deadline's time is the job's deadline, later than the example's clock.
            assert Counter(d["status"] for d in details) == Counter(model.terminal_events)
            assert "eventPendingAt" not in job, "an event sent but never confirmed"
            if job["status"] not in TERMINAL:
                continue
            # The latest terminal transition's event says what the record says.
            [latest] = [d for d in details if d["eventId"] == job["eventId"]]
            assert latest["finishedAt"] == job["completedAt"]
            assert latest["key"] == job["source"]["key"]
            assert latest["reason"] == (job.get("failureReason") if job["status"] == "FAILED" else None)
            # The results as the transition read them: a late result recorded after it is in the record,
            # not in the event; a COMPLETE job had every result before it finished.
            shown = ("size", "key", "width", "height")
            thumbnails = [{f: t[f] for f in shown} for t in job.get("thumbnails") or []]
            labels = [{"name": x["name"], "confidence": x["confidence"]} for x in job.get("labels") or []]
            for sent, recorded in ((latest["thumbnails"], thumbnails), (latest["labels"], labels)):
                assert sent == recorded or (job["status"] == "FAILED" and sent == []), (sent, recorded)
        for event in received:
            assert event["source"] == pipeline_settings().events.source
            assert event["detail-type"] == pipeline_settings().events.detail_type

    def metric_sum(self, name: str, step: str | None = None) -> float:
        now = datetime.now(UTC)
        points = self.harness.cloudwatch.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=name,
            Dimensions=[{"Name": "step", "Value": step}] if step else [],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)


def test_reconciler_properties(harness: Harness) -> None:
    run_state_machine_as_test(lambda: ReconcilerMachine(harness), settings=settings.get_profile(PROFILE))
