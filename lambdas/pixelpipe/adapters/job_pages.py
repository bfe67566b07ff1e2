"""Pages of the status index for `GET /jobs`: one Query per page, DynamoDB's own position as the cursor.

`JobsTable.by_status` pages by `createdAt`, which is fine for the CLI but would skip jobs created in the
same millisecond across a page boundary; an HTTP client needs every job exactly once, so this pages with
`LastEvaluatedKey` / `ExclusiveStartKey` (the index key plus the table key: status, createdAt, jobId).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pixelpipe.adapters.dynamo_types import from_item
from pixelpipe.adapters.jobs_table import JobsTable


class CursorRefused(ValueError):
    """DynamoDB refused the start key a cursor named."""


class ApiJobsTable(JobsTable):
    def page_by_status(
        self, status: str, since: str | None, limit: int, start_key: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Up to `limit` jobs in `status` (created at or after `since`), newest first, and where the next
        page starts (None after the last). A page may come back short, even empty, with a position: the
        Query's Limit counts what it read, as DynamoDB documents."""
        condition = "#status = :status"
        values: dict[str, Any] = {":status": {"S": status}}
        if since:
            condition += " AND createdAt >= :since"
            values[":since"] = {"S": since}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._status_index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            request["ExclusiveStartKey"] = {name: {"S": value} for name, value in start_key.items()}
        try:
            page = self._client.query(**request)
        except ClientError as error:
            # e.g. "The provided starting key is outside query boundaries" (a cursor from another `since`)
            if start_key and error.response["Error"]["Code"] == "ValidationException":
                raise CursorRefused(error.response["Error"].get("Message", "")) from error
            raise
        last = page.get("LastEvaluatedKey")
        return [from_item(item) for item in page["Items"]], (
            {name: value["S"] for name, value in last.items()} if last else None
        )
