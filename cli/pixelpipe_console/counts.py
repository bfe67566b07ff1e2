"""Jobs per status for the console: counted with COUNT queries on the status index, and shared."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli.target import Target

STATUSES = tuple(status.value for status in JobStatus)  # the order the pages show them in


def status_counts(target: Target) -> dict[str, int]:
    """Jobs per status: a COUNT query on the status index per status, page by page (no Scan). It reads
    the whole index, projected items included: pages show it through `StatusCounts`."""
    dynamodb = target.client("dynamodb")
    counts = {}
    for status in STATUSES:
        kwargs: dict[str, Any] = {
            "TableName": target.jobs_table,
            "IndexName": target.status_index,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            page = dynamodb.query(**kwargs)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        counts[status] = total
    return counts


class StatusCounts:
    """`status_counts`, shared by every page and live update of one console, and recounted at most every
    BUSY_FACTOR x the last count's duration: counting reads the whole status index (read units on AWS at
    every refresh of every open page; about 5 s at 10,000 jobs on moto), while a small table recounts at
    once. Concurrent callers wait for one count instead of starting their own."""

    BUSY_FACTOR = 5

    def __init__(
        self,
        count: Callable[[Target], dict[str, int]] = status_counts,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count, self._clock = count, clock
        self._lock = threading.Lock()
        self._source: tuple[Any, ...] | None = None
        self._counts: dict[str, int] = {}
        self._counted_at = self._took = 0.0

    def get(self, target: Target) -> tuple[dict[str, int], float]:
        """The counts and their age in seconds."""
        source = (target.endpoint_url, target.region, target.jobs_table, target.status_index)
        with self._lock:
            fresh = self._clock() - self._counted_at <= self.BUSY_FACTOR * self._took
            if source != self._source or not fresh:
                started = self._clock()
                self._counts = self._count(target)
                self._counted_at = self._clock()
                self._took, self._source = self._counted_at - started, source
            return dict(self._counts), self._clock() - self._counted_at
