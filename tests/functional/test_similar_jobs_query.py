"""`pixelpipe jobs --similar` reads the jobs table through the status index only (a Query per status,
bounded; never a Scan) and finds a re-encoded copy of a photo among other photos' jobs."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import settings
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record
from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe.logic.metadata import summarise
from pixelpipe_cli.similar import find_similar
from pixelpipe_emulator.provision import create_jobs_table
from support import inputs
from support.deployed import use_test_credentials
from support.inputs import SKIMAGE_DATA

LIMITS = ImageLimits.from_config(settings().limits)
PHOTOS = ["coffee.png", "astronaut.png", "rocket.jpg", "horse.png", "camera.png"]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch):
    use_test_credentials(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_jobs_table(client)
        calls: list[tuple[str, dict]] = []
        client.meta.events.register(
            "before-parameter-build.dynamodb.*", lambda model, params, **_: calls.append((model.name, params))
        )
        config = settings().table
        yield JobsTable(client, config.name, config.status_index), calls


def add_job(jobs: JobsTable, name: str, data: bytes, minute: int, status: JobStatus) -> str:
    created = f"2026-12-01T10:{minute:02d}:00.000Z"
    source = SourceObject("uploads", f"uploads/{name}", len(data), f"etag-{name}")
    record = new_job_record(job_id_for(source), source, ["metadata"], created)
    record.update(status=status, metadata=summarise(data, LIMITS))
    assert jobs.create(record)
    return record["jobId"]


def chelsea() -> Image.Image:
    with Image.open(SKIMAGE_DATA / "chelsea.png") as image:
        return image.convert("RGB")


def test_a_reencoded_copy_is_found_through_the_status_index_without_a_scan(table):
    jobs, calls = table
    # GIVEN a cat photo's job, its re-encoded copy (failed, say) and five other photos' jobs
    original = add_job(jobs, "cat.png", inputs.encoded(chelsea(), "PNG"), 0, JobStatus.COMPLETE)
    copy = add_job(jobs, "cat.jpg", inputs.jpeg_bytes(chelsea(), quality=60), 1, JobStatus.FAILED)
    for minute, name in enumerate(PHOTOS, start=2):
        add_job(jobs, name, (SKIMAGE_DATA / name).read_bytes(), minute, JobStatus.COMPLETE)
    calls.clear()
    # WHEN the similar jobs of the original are looked up
    matches = find_similar(jobs, original, scan_per_status=50)
    # THEN only the copy, read by one GetItem and a bounded Query of the status index per status
    assert [(match.job["jobId"], match.distance) for match in matches] == [(copy, 0)]
    assert [name for name, _ in calls] == ["GetItem"] + ["Query"] * len(JobStatus)
    for _, params in calls[1:]:
        assert params["IndexName"] == settings().table.status_index
        assert params["Limit"] <= 50 and params["ScanIndexForward"] is False


def test_only_the_newest_jobs_of_each_status_are_compared(table):
    jobs, _ = table
    # GIVEN an old copy of a photo, then three newer jobs of other photos in the same status
    original = add_job(jobs, "cat.png", inputs.encoded(chelsea(), "PNG"), 30, JobStatus.PENDING)
    old_copy = add_job(jobs, "cat-old.jpg", inputs.jpeg_bytes(chelsea()), 0, JobStatus.COMPLETE)
    for minute, name in enumerate(PHOTOS[:3], start=1):
        add_job(jobs, name, (SKIMAGE_DATA / name).read_bytes(), minute, JobStatus.COMPLETE)
    # WHEN the look-up reads 3 jobs per status / THEN the old copy lies beyond the bound
    assert find_similar(jobs, original, scan_per_status=3) == []
    # and within a bound that reaches it, it is found
    assert [match.job["jobId"] for match in find_similar(jobs, original, scan_per_status=4)] == [old_copy]
