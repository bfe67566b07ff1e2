"""Listing jobs of one status within a creation window reads only that window (the index's key condition),
newest first, with `created_before` exclusive so keyset pages neither repeat nor skip a job."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import settings
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe_emulator.provision import create_jobs_table
from support.deployed import use_test_credentials

CREATED = [f"2026-11-25T10:{minute:02d}:00.000Z" for minute in range(10)]


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch):
    use_test_credentials(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_jobs_table(client)
        table = settings().table
        jobs = JobsTable(client, table.name, table.status_index)
        for created in CREATED:
            source = SourceObject("uploads", f"uploads/{created}.png", 1, f"etag-{created}")
            assert jobs.create(new_job_record(job_id_for(source), source, ["resize"], created))
        yield jobs


def created(records: list[dict]) -> list[str]:
    return [record["createdAt"] for record in records]


def test_since_alone_is_inclusive_and_newest_first(jobs: JobsTable) -> None:
    assert created(jobs.by_status("PENDING", created_since=CREATED[7])) == CREATED[:6:-1]


def test_since_and_before_give_the_half_open_window(jobs: JobsTable) -> None:
    window = jobs.by_status("PENDING", created_since=CREATED[2], created_before=CREATED[6])
    assert created(window) == [CREATED[5], CREATED[4], CREATED[3], CREATED[2]]


def test_pages_through_a_window_with_no_job_repeated_or_skipped(jobs: JobsTable) -> None:
    seen, before = [], None
    while page := jobs.by_status("PENDING", created_since=CREATED[1], created_before=before, limit=3):
        seen += created(page)
        before = page[-1]["createdAt"]
    assert seen == CREATED[:0:-1]


def test_a_job_that_finishes_between_the_status_queries_is_listed_once_in_its_newer_state(
    jobs: JobsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the newest job completing just after the PENDING query read it (the console's live list and
    # `pixelpipe jobs` read one status at a time, so the COMPLETE query then reads it again)
    [newest] = jobs.by_status("PENDING", limit=1)
    read_one_status = jobs.by_status

    def completing_after_the_pending_read(status: str, *args, **kwargs) -> list[dict]:
        found = read_one_status(status, *args, **kwargs)
        if status == "PENDING":
            jobs._client.update_item(
                TableName=settings().table.name,
                Key={"jobId": {"S": newest["jobId"]}},
                UpdateExpression="SET #status = :complete, updatedAt = :later",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":complete": {"S": "COMPLETE"},
                    ":later": {"S": "2026-11-25T11:00:00.000Z"},
                },
            )
        return found

    monkeypatch.setattr(jobs, "by_status", completing_after_the_pending_read)
    # WHEN every status is listed
    listed = jobs.by_statuses(["PENDING", "COMPLETE", "FAILED"])
    # THEN that job is there once, COMPLETE, and every other job once, newest first
    assert [job["jobId"] for job in listed].count(newest["jobId"]) == 1
    assert next(job for job in listed if job["jobId"] == newest["jobId"])["status"] == "COMPLETE"
    assert created(listed) == CREATED[::-1]
