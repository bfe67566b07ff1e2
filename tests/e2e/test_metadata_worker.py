"""The metadata step on the shared local stack: real photos in, the summary on the record, the GPS
position nowhere (record, function logs, the job's trace), near-duplicates found by `jobs --similar`."""

from __future__ import annotations

import json

import pytest
from PIL import ExifTags, Image

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.traces import job_trace
from pixelpipe_emulator.stack import LocalStack
from support import inputs
from support.inputs import SAMPLES
from support.stacks import cli, finished, wait_until

pytestmark = pytest.mark.e2e

LATITUDE, LONGITUDE = (48.0, 51.0, 29.871), (2.0, 17.0, 40.152)  # distinctive seconds to search for
POSITION_FIGURES = ("29.871", "40.152", "48.85829", "2.29448")  # the seconds, and the decimal degrees


def gps_tagged_photo() -> bytes:
    """coffee.png as a phone JPEG with a position in its EXIF (Pillow's Exif API)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Pixel", "Pixel 9"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", LONGITUDE
    with Image.open(SAMPLES / "coffee.png") as image:
        return inputs.jpeg_bytes(image.convert("RGB"), quality=90, exif=exif)


def test_a_gps_tagged_photo_is_flagged_and_its_position_reaches_no_record_log_or_trace(
    client: JobsClient, stack: LocalStack, tmp_path
) -> None:
    # GIVEN a photo whose EXIF carries a position
    path = inputs.write(tmp_path, "gps-coffee.jpg", gps_tagged_photo())
    # WHEN it is processed
    job = finished(client, client.upload(path), timeout=90)
    # THEN the metadata step succeeded and flags the position
    assert job["status"] == "COMPLETE", job.get("failureReason")
    assert job["steps"]["metadata"]["status"] == "SUCCEEDED"
    metadata = job["metadata"]
    assert metadata["hasGps"] is True and metadata["exif"] == {"make": "Pixel", "model": "Pixel 9"}
    assert (metadata["format"], metadata["width"], metadata["height"]) == ("JPEG", 600, 400)
    # ... and no figure of the position is in the record, any function's log, or the job's trace
    trace = wait_until(lambda: (t := job_trace(client.target, job))["spans"] and t, timeout=15)
    places = {"record": json.dumps(job), "trace": json.dumps(trace, default=str)}
    places |= {log.name: log.read_text(errors="replace") for log in stack.logs.glob("*.log")}
    for place, text in places.items():
        for figure in POSITION_FIGURES:
            assert figure not in text, (place, figure)


def test_the_exif_rotated_sample_is_described_upright_and_its_copy_is_found_similar(
    client: JobsClient, stack: LocalStack, tmp_path
) -> None:
    # GIVEN the cat stored sideways (EXIF orientation 6) and the upright cat re-encoded smaller
    with Image.open(SAMPLES / "cat.png") as cat:
        small = inputs.jpeg_bytes(cat.convert("RGB").resize((300, 200)), quality=70)
    sideways = client.upload(SAMPLES / "cat-sideways-exif.jpg", key_name="similar-cat-sideways.jpg")
    copy = client.upload(inputs.write(tmp_path, "similar-cat-small.jpg", small))
    other = client.upload(SAMPLES / "rocket.jpg", key_name="similar-rocket.jpg")
    jobs = {job_id: finished(client, job_id, timeout=90) for job_id in (sideways, copy, other)}
    # THEN the sideways cat is described as displayed
    metadata = jobs[sideways]["metadata"]
    assert (metadata["width"], metadata["height"], metadata["exif"]["orientation"]) == (451, 300, 6)
    assert metadata["hasGps"] is False and len(metadata["colours"]) == 5
    # WHEN its near-duplicates are asked for
    answer = cli(stack, "jobs", "--similar", sideways, "--json")
    # THEN the re-encoded copy is listed and the rocket is not
    assert answer.exit_code == 0, answer.output
    similar = {match["jobId"]: match["distance"] for match in json.loads(answer.output)}
    assert copy in similar and other not in similar and sideways not in similar
    # ... and the table view escapes nothing away
    table = cli(stack, "jobs", "--similar", sideways)
    assert table.exit_code == 0 and "similar-cat-small.jpg" in table.output


def test_similar_to_a_job_without_metadata_is_a_one_line_error(stack: LocalStack) -> None:
    answer = cli(stack, "jobs", "--similar", "no-such-job")
    assert answer.exit_code != 0 and "no job no-such-job" in answer.output


def test_pixelpipe_job_shows_the_metadata_step_and_its_summary(client: JobsClient, stack: LocalStack) -> None:
    job = finished(client, client.upload(SAMPLES / "rocket.jpg", key_name="shown-rocket.jpg"), timeout=90)
    shown = cli(stack, "job", job["jobId"])
    assert shown.exit_code == 0, shown.output
    assert "metadata (metadata)" in shown.output and job["metadata"]["phash"] in shown.output
