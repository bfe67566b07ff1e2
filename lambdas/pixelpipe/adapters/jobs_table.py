"""The DynamoDB `jobs` table: every read and conditional write the functions and the CLI make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.adapters.dynamo_types import from_item, to_item, to_typed
from pixelpipe.logic.jobs import (
    COMPLETE,
    FAILED,
    PENDING,
    STEP_FAILED,
    STEP_PENDING,
    STEP_RUNNING,
    STEP_SUCCEEDED,
    failed_before_dispatch,
    history_entry,
    step_failure_reason,
)


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one attempt of a step; `attempt` is the step's attempts after this claim."""

    attempt: int


class JobsTable:
    def __init__(
        self, client: Any, table_name: str, status_index: str, deadline_index: str | None = None
    ) -> None:
        self._client = client
        self._table = table_name
        self._status_index = status_index
        self._deadline_index = deadline_index

    def create(self, record: dict[str, Any]) -> bool:
        """Put a new job; False when it exists already (a duplicate S3 event)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(jobId)",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

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
        """Mark the step RUNNING and count the attempt; None when the job or step is already finished."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"jobId": {"S": job_id}},
                UpdateExpression=(
                    "SET steps.#step.#status = :running, steps.#step.startedAt = :at, updatedAt = :at, "
                    "history = list_append(history, :h) ADD steps.#step.attempts :one"
                ),
                ConditionExpression="#status = :pending AND steps.#step.#status IN (:step_pending, :running)",
                ExpressionAttributeNames={"#step": step, "#status": "status"},
                ExpressionAttributeValues={
                    ":running": {"S": STEP_RUNNING},
                    ":pending": {"S": PENDING},
                    ":step_pending": {"S": STEP_PENDING},
                    ":at": {"S": at},
                    ":one": {"N": "1"},
                    ":h": to_typed([history_entry(at, step, "started", detail)]),
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        attempts = from_item(response["Attributes"])["steps"][step]["attempts"]
        return Claim(attempt=int(attempts))

    def reopen_steps(
        self, job_id: str, steps: list[str], at: str, detail: str, force: bool, deadline_at: str
    ) -> dict[str, Any]:
        """An operator's retry: the job back to PENDING for `steps`, keeping attempts and history.

        Only a FAILED job (or, with `force`, a COMPLETE one) is reopened; each reopened step goes back to
        PENDING and leaves the succeeded/failed counts, so the next completions finish the job again.
        The job gets a new `deadlineAt`: its deadline counts from the retry, not from the upload. The
        failureReason goes, unless a step not reopened is still FAILED (the job will fail again on it).
        Raises LookupError (no such job), ValueError (a step the job doesn't have, or no steps) and
        ClientError ConditionalCheckFailedException when the job is in another status or changed
        between the read and the write.
        """
        steps = list(dict.fromkeys(steps))  # a step named twice would be two overlapping paths
        if not steps:
            raise ValueError("no steps to reopen")
        job = self.get(job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        unknown = [s for s in steps if s not in job.get("steps", {})]
        if unknown:
            raise ValueError(f"job {job_id} has no step {', '.join(unknown)}")
        names = {"#status": "status"}
        sets = [
            "#status = :pending",
            "updatedAt = :at",
            "deadlineAt = :deadline",
            "history = list_append(history, :h)",
        ]
        values: dict[str, Any] = {
            ":pending": {"S": PENDING},
            ":deadline": {"S": deadline_at},
            ":step_pending": {"S": STEP_PENDING},
            ":at": {"S": at},
            ":h": to_typed([history_entry(at, "operator", "retry", detail)]),
            ":failed": {"S": FAILED},
            ":seen": {"S": job["updatedAt"]},
        }
        for index, step in enumerate(steps):
            names[f"#s{index}"] = step
            sets.append(f"steps.#s{index}.#status = :step_pending")
        # A reopened step no longer counts: its next completion adds to the counts again.
        failed_again = sum(1 for s in steps if job["steps"][s].get("status") == STEP_FAILED)
        succeeded_again = sum(1 for s in steps if job["steps"][s].get("status") == STEP_SUCCEEDED)
        if failed_again:
            values[":failed_n"] = {"N": str(failed_again)}
            sets.append("failedCount = failedCount - :failed_n")
        if succeeded_again:
            values[":succeeded_n"] = {"N": str(succeeded_again)}
            sets.append("succeededCount = succeededCount - :succeeded_n")
        # A step that stays FAILED fails the job again at its next reconcile: keep a reason that names a
        # step still failed, else name the one that failed first, so that FAILED job says why.
        remove = ["failureReason", "completedAt"]
        failed_now = [name for name, record in job["steps"].items() if record.get("status") == STEP_FAILED]
        still_failed = [name for name in failed_now if name not in steps]
        if still_failed:
            remove = ["completedAt"]
            kept = job.get("failureReason", "")
            if not any(kept.startswith(step_failure_reason(s, "")) for s in still_failed):
                first = min(still_failed, key=lambda s: job["steps"][s].get("finishedAt") or "")
                values[":reason"] = {"S": step_failure_reason(first, job["steps"][first].get("error") or "")}
                sets.append("failureReason = :reason")
        condition = "#status = :failed"
        if force:
            # DynamoDB rejects a value the expressions don't use: only name COMPLETE when it is allowed.
            condition = "#status IN (:failed, :complete)"
            values[":complete"] = {"S": COMPLETE}
        response = self._client.update_item(
            TableName=self._table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(remove),
            ConditionExpression=condition + " AND updatedAt = :seen",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])

    def reopen_undispatched(self, job: dict[str, Any], at: str, detail: str, deadline_at: str) -> bool:
        """A job whose message was never published (the sweeper failed it meanwhile) back to PENDING.

        Only a job that `failed_before_dispatch` qualifies, and only if it did not change since `job` was
        read; False when it does not.
        """
        if not failed_before_dispatch(job):
            return False
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"jobId": {"S": job["jobId"]}},
                UpdateExpression=(
                    "SET #status = :pending, updatedAt = :at, deadlineAt = :deadline, "
                    "history = list_append(history, :h) REMOVE failureReason, completedAt"
                ),
                ConditionExpression=(
                    "#status = :failed AND attribute_not_exists(dispatchedAt) AND updatedAt = :seen"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":failed": {"S": FAILED},
                    ":at": {"S": at},
                    ":deadline": {"S": deadline_at},
                    ":seen": {"S": job["updatedAt"]},
                    ":h": to_typed([history_entry(at, "dispatch", "reopened", detail)]),
                },
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def note_unreported(self, job_id: str, step: str, attempt: int, at: str, reason: str) -> bool:
        """Keep a step's reason on the job when its completion could not reach the state machine.

        The step stays RUNNING (only the reconciler finishes steps), so the deadline fails the job later,
        and that transition keeps this reason. False when the attempt is no longer the current one.
        """
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"jobId": {"S": job_id}},
                UpdateExpression=(
                    "SET failureReason = if_not_exists(failureReason, :reason), "
                    "steps.#step.#error = :reason, updatedAt = :at, history = list_append(history, :h)"
                ),
                ConditionExpression=(
                    "#status = :pending AND steps.#step.#status = :running "
                    "AND steps.#step.attempts = :attempt"
                ),
                ExpressionAttributeNames={"#status": "status", "#step": step, "#error": "error"},
                ExpressionAttributeValues={
                    ":reason": {"S": reason},
                    ":pending": {"S": PENDING},
                    ":running": {"S": STEP_RUNNING},
                    ":attempt": {"N": str(attempt)},
                    ":at": {"S": at},
                    ":h": to_typed([history_entry(at, step, "unreported", reason, attempt=attempt)]),
                },
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def overdue(self, now: str, limit: int = 500) -> list[dict[str, Any]]:
        """PENDING jobs whose `deadlineAt` has passed, through the deadline index (sparse: only PENDING
        jobs carry the attribute)."""
        if not self._deadline_index:
            raise RuntimeError("this JobsTable was built without the deadline index")
        return self._query(
            limit,
            IndexName=self._deadline_index,
            KeyConditionExpression="#status = :pending AND deadlineAt <= :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pending": {"S": PENDING}, ":now": {"S": now}},
        )

    def by_status(
        self, status: str, created_before: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Jobs in one status, newest first, through the status/time index."""
        condition = "#status = :status"
        values: dict[str, Any] = {":status": {"S": status}}
        if created_before:
            condition += " AND createdAt < :before"
            values[":before"] = {"S": created_before}
        return self._query(
            limit,
            IndexName=self._status_index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
        )

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
