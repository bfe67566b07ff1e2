"""Uploads named with rich markup and HTML go through the whole pipeline and the CLI prints their names
as the literal text they are (issue 9: `uploads/[/]x.png` used to crash `pixelpipe jobs`, and
`uploads/[link=https://example.com]x[/link].png` rendered a link)."""

from __future__ import annotations

import pytest

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES
from support.stacks import cli

pytestmark = pytest.mark.e2e

NAMES = {
    "[/]x.png": SAMPLES / "coffee.png",
    "[link=https://example.com]x[/link].png": SAMPLES / "cat.png",
    "<b>bold</b> [red]&amp;[/red].jpg": SAMPLES / "not-an-image.jpg",
}


def test_jobs_and_job_print_hostile_upload_names_as_text(stack: LocalStack, client: JobsClient) -> None:
    # GIVEN real uploads whose S3 keys hold rich markup and HTML, processed by the pipeline
    job_ids = {name: client.upload(path, key_name=name) for name, path in NAMES.items()}
    records = client.wait(job_ids.values(), timeout=120)
    assert {r["status"] for r in records.values()} <= {"COMPLETE", "FAILED"}, records
    # WHEN the jobs are listed
    listed = cli(stack, "jobs", "--limit", "50")
    # THEN the command succeeds and shows every name exactly as uploaded
    assert listed.exit_code == 0, listed.output
    for name in NAMES:
        assert name in listed.stdout
    # WHEN one job is shown with its history
    shown = cli(stack, "job", job_ids["[link=https://example.com]x[/link].png"], "--history")
    # THEN its S3 key reads back literally
    assert shown.exit_code == 0, shown.output
    assert "uploads/[link=https://example.com]x[/link].png" in shown.stdout


def test_an_unknown_job_id_with_markup_is_refused_with_the_id_as_typed(stack: LocalStack) -> None:
    result = cli(stack, "job", "[/]nope[link=https://example.com]")
    assert result.exit_code == 2
    assert "no job [/]nope[link=https://example.com]" in result.output
