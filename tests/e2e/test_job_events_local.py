"""The job-finished events on the local stack, end to end: real uploads through the whole pipeline, the
state machine's PutEvents on the local bus, the example rule's queue, read by `pixelpipe events`.

One event per job with the job's final status and content; hostile file names printed as text; and
`pixelpipe events --follow` prints an event while it is running, as the job finishes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli, wait_until

pytestmark = pytest.mark.e2e

UPLOADS = {
    "events-cat.png": SAMPLES / "cat.png",
    "events-coffee.png": SAMPLES / "coffee.png",
    "[red]events[/red] <b>not</b> an image.jpg": SAMPLES / "not-an-image.jpg",
}


def collect(stack: LocalStack, job_ids: set[str], found: dict[str, list[dict[str, Any]]]) -> bool:
    """Read what `pixelpipe events --json` prints now; True once every job in `job_ids` has an event."""
    result = cli(stack, "events", "--json")
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        event = json.loads(line)
        found.setdefault(event["detail"]["jobId"], []).append(event)
    return job_ids <= set(found)


def test_one_event_per_finished_job_with_its_status_read_by_pixelpipe_events(
    stack: LocalStack, client: JobsClient
) -> None:
    # GIVEN a few real uploads, one of them not an image, processed to the end
    job_ids = {client.upload(path, key_name=name): name for name, path in UPLOADS.items()}
    records = client.wait(list(job_ids), timeout=120)
    assert {r["status"] for r in records.values()} == {"COMPLETE", "FAILED"}, records

    # WHEN `pixelpipe events --json` reads the example queue (until every job's event has arrived)
    found: dict[str, list[dict[str, Any]]] = {}
    wait_until(lambda: collect(stack, set(job_ids), found), timeout=30)
    time.sleep(1)
    collect(stack, set(job_ids), found)  # anything that came late, e.g. a duplicate

    # THEN each job has exactly one event, saying what its record says
    for job_id, name in job_ids.items():
        [event] = found[job_id]
        record = client.get(job_id)
        detail = event["detail"]
        assert event["detail-type"] == "Pixel-Pipe Job Finished"
        assert detail["status"] == record["status"], name
        assert detail["eventId"] == record["eventId"]
        assert detail["key"] == record["source"]["key"] == f"uploads/{name}"
        assert detail["finishedAt"] == record["completedAt"]
        if record["status"] == "COMPLETE":
            assert detail["reason"] is None
            assert [t["key"] for t in detail["thumbnails"]] == [t["key"] for t in record["thumbnails"]]
            assert [label["name"] for label in detail["labels"]] == [
                label["name"] for label in record["labels"]
            ]
        else:
            assert detail["reason"] == record["failureReason"]
        assert "eventPendingAt" not in record
    # AND the queue is consumed: a second read prints none of them again
    assert collect(stack, set(), again := {}) and not set(again) & set(job_ids)


def test_pixelpipe_events_prints_hostile_names_as_text(stack: LocalStack, client: JobsClient) -> None:
    # GIVEN an upload whose name holds rich markup, finished
    name = "[link=https://example.com]events[/link] [bold]x[/bold].png"
    job_id = client.upload(SAMPLES / "cat.png", key_name=name)
    client.wait([job_id], timeout=120)

    # WHEN events are printed as lines
    printed = ""

    def read() -> bool:
        nonlocal printed
        result = cli(stack, "events")
        assert result.exit_code == 0, result.output
        printed += result.stdout
        return job_id[:8] in printed

    wait_until(read, timeout=30)

    # THEN the name reads back literally, markup and all
    assert name in printed


def test_pixelpipe_events_follow_prints_a_job_as_it_finishes(stack: LocalStack, client: JobsClient) -> None:
    # GIVEN `pixelpipe events --follow --json` running before the upload
    env = {**os.environ, "PIXELPIPE_TARGET": str(stack.target_path)}
    follower = subprocess.Popen(
        [sys.executable, "-m", "pixelpipe_cli.main", "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        time.sleep(1)  # it drains whatever other tests left, then waits
        # WHEN a job finishes
        job_id = client.upload(SAMPLES / "coffee.png", key_name="events-follow.png")
        client.wait([job_id], timeout=120)

        # THEN its event is printed while the command is still running
        wait_until(lambda: any(json.loads(line)["detail"]["jobId"] == job_id for line in list(lines)), 30)
        assert follower.poll() is None, follower.stderr.read()
    finally:
        follower.terminate()
        follower.wait(timeout=10)
