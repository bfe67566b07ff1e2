"""The DynamoDB `jobs` table: every read and conditional write the functions and the CLI make."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.adapters.dynamo_expressions import Expression
from pixelpipe.adapters.dynamo_types import from_item, to_item, to_typed
from pixelpipe.logic import lifecycle
from pixelpipe.logic.conditions import Param, field
from pixelpipe.logic.lifecycle import (
    DEADLINE_AT,
    STATUS,
    STEP,
    STEP_ATTEMPTS,
    STEP_STATUS,
    JobStatus,
    history_entry,
)

AT_PARAM = Param("at")


def is_conditional_failure(error: ClientError) -> bool:
    """A write refused by its condition: the record changed under the caller (shared with the CLI)."""
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one attempt of a step; `attempt` is the step's attempts after this claim."""

    attempt: int


class JobsTable:
    """Reads and writes of the jobs table; every conditional write is a transition of logic/lifecycle.py,
    its ConditionExpression rendered from the transition's condition."""

    def __init__(
        self, client: Any, table_name: str, status_index: str, deadline_index: str | None = None
    ) -> None:
        self._client = client
        self._table = table_name
        self._status_index = status_index
        self._deadline_index = deadline_index

    def create(self, record: dict[str, Any]) -> bool:
        """CREATE (or REJECT, for a job failed at intake); False when it exists already (a duplicate S3
        event)."""
        transition = lifecycle.REJECT if record["status"] == JobStatus.FAILED else lifecycle.CREATE
        e = Expression()
        condition = e.condition(transition.condition)
        written = self._conditional(
            self._client.put_item, Item=to_item(record), **e.request(ConditionExpression=condition)
        )
        return written is not None

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key={"jobId": {"S": job_id}}, ConsistentRead=True)
        return from_item(item["Item"]) if "Item" in item else None

    def statuses(self, job_ids: list[str]) -> dict[str, str]:
        """Just the status of many jobs, 100 per request: cheap enough to poll."""
        found: dict[str, str] = {}
        for start in range(0, len(job_ids), 100):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{"jobId": {"S": job_id}} for job_id in job_ids[start : start + 100]],
                    "ProjectionExpression": "jobId, #status",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    found[item["jobId"]["S"]] = item["status"]["S"]
                request = response.get("UnprocessedKeys") or {}
        return found

    def mark_dispatched(self, job_id: str, at: str, message_id: str) -> None:
        """Not a transition: records that the job's message is out (REOPEN_UNDISPATCHED reads it)."""
        self._client.update_item(
            TableName=self._table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET dispatchedAt = :at, updatedAt = :at, history = list_append(history, :h)",
            ExpressionAttributeValues={
                ":at": {"S": at},
                ":h": to_typed([history_entry(at, "dispatch", "published", f"SNS message {message_id}")]),
            },
        )

    def claim_step(self, job_id: str, step: str, at: str, detail: str) -> Claim | None:
        """CLAIM: the step RUNNING, its attempt counted; None when the job or step is already finished."""
        claim, e = lifecycle.CLAIM, Expression(step=step, at=at)
        condition = e.condition(claim.condition)
        at_value = e.value(AT_PARAM)
        update = (
            f"SET {e.path(STEP_STATUS)} = {e.value(claim.step.target)}, "
            f"{e.path(STEP / 'startedAt')} = {at_value}, updatedAt = {at_value}, "
            f"history = list_append(history, {e.value([history_entry(at, step, 'started', detail)], ':h')}) "
            f"ADD {e.path(STEP_ATTEMPTS)} {e.value(1)}"
        )
        response = self._conditional(
            self._client.update_item,
            Key=_key(job_id),
            ReturnValues="UPDATED_NEW",
            **e.request(UpdateExpression=update, ConditionExpression=condition),
        )
        if response is None:
            return None
        return Claim(attempt=int(from_item(response["Attributes"])["steps"][step]["attempts"]))

    def reopen_steps(
        self, job_id: str, steps: list[str], at: str, detail: str, force: bool, deadline_at: str
    ) -> dict[str, Any]:
        """An operator's retry: REOPEN (REOPEN_FORCED with `force`) of `steps`, attempts and history kept;
        `lifecycle.reopening` plans what it writes. The job gets a new `deadlineAt`: its deadline counts
        from the retry, not from the upload.

        Raises LookupError (no such job), ValueError (a step the job doesn't have, or no steps) and
        ClientError ConditionalCheckFailedException when the job is in another status or changed
        between the read and the write.
        """
        job = self.get(job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        plan = lifecycle.reopening(job, steps, force)
        e = Expression(seen=job["updatedAt"], at=at, deadline=deadline_at)
        condition = e.condition(plan.transition.condition)
        sets = self._reopened(e, plan.transition, history_entry(at, "operator", "retry", detail))
        for index, step in enumerate(plan.steps):
            e.params[f"s{index}"] = step
            step_status = field("steps", Param(f"s{index}"), "status")
            sets.append(f"{e.path(step_status)} = {e.value(plan.transition.step.target)}")
        if plan.failed_uncounted:
            sets.append(f"failedCount = failedCount - {e.value(plan.failed_uncounted, ':failed_n')}")
        if plan.succeeded_uncounted:
            sets.append(
                f"succeededCount = succeededCount - {e.value(plan.succeeded_uncounted, ':succeeded_n')}"
            )
        if plan.failure_reason:
            sets.append(f"failureReason = {e.value(plan.failure_reason, ':reason')}")
        remove = ["completedAt"] if plan.keeps_reason else ["failureReason", "completedAt"]
        response = self._client.update_item(
            TableName=self._table,
            Key=_key(job_id),
            ReturnValues="ALL_NEW",
            **e.request(
                UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(remove)}",
                ConditionExpression=condition,
            ),
        )
        return from_item(response["Attributes"])

    def reopen_undispatched(self, job: dict[str, Any], at: str, detail: str, deadline_at: str) -> bool:
        """REOPEN_UNDISPATCHED: a job whose message was never published (the sweeper failed it meanwhile)
        back to PENDING, if it `failed_before_dispatch` and did not change since `job` was read."""
        if not lifecycle.failed_before_dispatch(job):
            return False
        transition = lifecycle.REOPEN_UNDISPATCHED
        e = Expression(seen=job["updatedAt"], at=at, deadline=deadline_at)
        condition = e.condition(transition.condition)
        sets = self._reopened(e, transition, history_entry(at, "dispatch", "reopened", detail))
        update = f"SET {', '.join(sets)} REMOVE failureReason, completedAt"
        written = self._conditional(
            self._client.update_item,
            Key=_key(job["jobId"]),
            **e.request(UpdateExpression=update, ConditionExpression=condition),
        )
        return written is not None

    @staticmethod
    def _reopened(e: Expression, transition: lifecycle.Transition, entry: dict[str, Any]) -> list[str]:
        """The SETs every reopen makes: the job's new status and deadline, and its history entry."""
        assert transition.job is not None
        return [
            f"{e.path(STATUS)} = {e.value(transition.job.target)}",
            f"updatedAt = {e.value(AT_PARAM)}",
            f"{e.path(DEADLINE_AT)} = {e.value(Param('deadline'))}",
            f"history = list_append(history, {e.value([entry], ':h')})",
        ]

    def note_unreported(self, job_id: str, step: str, attempt: int, at: str, reason: str) -> bool:
        """NOTE_UNREPORTED: keep a step's reason on the job when its completion could not reach the state
        machine. The step stays RUNNING (only the reconciler finishes steps), so the deadline fails the
        job later and keeps this reason. False when the attempt is no longer the current one."""
        e = Expression(step=step, attempt=attempt, at=at)
        condition = e.condition(lifecycle.NOTE_UNREPORTED.condition)
        reason_value = e.value(reason, ":reason")
        entry = history_entry(at, step, "unreported", reason, attempt=attempt)
        update = (
            f"SET failureReason = if_not_exists(failureReason, {reason_value}), "
            f"{e.path(STEP / 'error')} = {reason_value}, updatedAt = {e.value(AT_PARAM)}, "
            f"history = list_append(history, {e.value([entry], ':h')})"
        )
        written = self._conditional(
            self._client.update_item,
            Key=_key(job_id),
            **e.request(UpdateExpression=update, ConditionExpression=condition),
        )
        return written is not None

    def _conditional(self, call: Any, **kwargs: Any) -> dict[str, Any] | None:
        """One conditional write; None when its condition does not hold."""
        try:
            return call(TableName=self._table, **kwargs)
        except ClientError as error:
            if is_conditional_failure(error):
                return None
            raise

    def overdue(self, now: str, limit: int = 500) -> list[dict[str, Any]]:
        """PENDING jobs whose `deadlineAt` has passed, through the deadline index (sparse: only PENDING
        jobs carry the attribute)."""
        if not self._deadline_index:
            raise RuntimeError("this JobsTable was built without the deadline index")
        e = Expression(at=now)
        return self._query(
            limit,
            IndexName=self._deadline_index,
            **e.request(KeyConditionExpression=e.condition(lifecycle.OVERDUE)),
        )

    def by_status(
        self,
        status: str,
        created_before: str | None = None,
        limit: int = 100,
        created_since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs in one status created in [created_since, created_before), newest first, through the
        status/time index: the window is in the key condition, so the query reads only the jobs in it."""
        condition = "#status = :status"
        values: dict[str, Any] = {":status": {"S": status}}
        if created_since and created_before:
            # BETWEEN is inclusive at both ends; `created_before` is exclusive (keyset pagination).
            condition += " AND createdAt BETWEEN :since AND :before"
            values[":since"], values[":before"] = {"S": created_since}, {"S": created_before}
        elif created_before:
            condition += " AND createdAt < :before"
            values[":before"] = {"S": created_before}
        elif created_since:
            condition += " AND createdAt >= :since"
            values[":since"] = {"S": created_since}
        jobs = self._query(
            limit + (1 if created_since and created_before else 0),
            IndexName=self._status_index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
        )
        return [job for job in jobs if job["createdAt"] != created_before][:limit]

    def by_statuses(
        self,
        statuses: Iterable[str],
        created_before: str | None = None,
        limit: int = 100,
        created_since: str | None = None,
    ) -> list[dict[str, Any]]:
        """`by_status` of each status, merged newest first with every job once.

        One query per status: a job whose status changes between two of them (PENDING read, then it
        completes before COMPLETE is read) is in both answers, so the copy updated last is kept.
        """
        latest: dict[str, dict[str, Any]] = {}
        for status in statuses:
            for job in self.by_status(status, created_before, limit, created_since):
                kept = latest.get(job["jobId"])
                if kept is None or job.get("updatedAt", "") > kept.get("updatedAt", ""):
                    latest[job["jobId"]] = job
        return sorted(latest.values(), key=lambda job: job["createdAt"], reverse=True)

    def _query(self, limit: int, **kwargs: Any) -> list[dict[str, Any]]:
        """Up to `limit` items of a query, following LastEvaluatedKey across pages."""
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            page = self._client.query(TableName=self._table, **kwargs, Limit=limit - len(items))
            items += [from_item(i) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items


def _key(job_id: str) -> dict[str, Any]:
    return {"jobId": {"S": job_id}}
