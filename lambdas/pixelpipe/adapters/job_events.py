"""Finished jobs whose job-finished event was never confirmed sent, through the sparse event index.

The reconcile state machine sets `eventPendingAt` in the terminal transition and removes it once
EventBridge accepted the event; a record that still carries it long after (an execution killed, or a
PutEvents that failed every retry) is what the sweeper re-sends (docs/job-record.md#job-finished-events).
A job rejected at intake is born FAILED with its event pending and no execution to wait for: it is due
at once. The index holds only unconfirmed events (a moment per finished job), so reading it whole is cheap.
"""

from __future__ import annotations

from typing import Any

from pixelpipe.logic.jobs import is_intake_event
from pixelpipe.logic.lifecycle import JobStatus

EVENT_PENDING_AT = "eventPendingAt"


def event_input(job_id: str, at: str) -> dict[str, Any]:
    """The reconcile input that re-reads a finished job and sends its event again (kind `event`)."""
    return {"kind": "event", "jobId": job_id, "at": at}


class UnconfirmedEvents:
    """Queries of the (status, eventPendingAt) index, which projects `eventId`: only records with an
    unconfirmed event are in it."""

    def __init__(self, client: Any, table_name: str, event_index: str) -> None:
        self._client = client
        self._table = table_name
        self._index = event_index

    def unconfirmed(self, before: str, limit: int = 500) -> list[str]:
        """Ids of COMPLETE and FAILED jobs whose event is due: pending since before `before`, or rejected
        at intake (owned by no execution)."""
        job_ids: list[str] = []
        for status in (JobStatus.COMPLETE, JobStatus.FAILED):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": self._index,
                "KeyConditionExpression": "#status = :status",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":status": {"S": status.value}},
            }
            while len(job_ids) < limit:
                page = self._client.query(**request)
                job_ids += [
                    item["jobId"]["S"]
                    for item in page["Items"]
                    if item[EVENT_PENDING_AT]["S"] <= before or is_intake_event(item["eventId"]["S"])
                ]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return job_ids[:limit]
