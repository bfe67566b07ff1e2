"""The bad-input corpus end to end: uploaded together through the local stack, each job ends FAILED with
its specific reason or COMPLETE with the right thumbnails, and none is left PENDING."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from pixelpipe.config import step_names
from pixelpipe_cli.jobs_client import JobsClient
from support import inputs
from support.inputs import BLUE, GREEN, RED, WHITE

pytestmark = pytest.mark.e2e

SMALL = [(1024, 120, 80), (512, 120, 80), (256, 120, 80)]
# file name -> (bytes, the failure reason, or the thumbnails (size, width, height) of a COMPLETE job)
CORPUS: dict[str, tuple[Callable[[], bytes], str | list[tuple[int, int, int]]]] = {
    "polyglot-jpeg-zip.jpg": (inputs.jpeg_then_zip, SMALL),
    "iphone.heic": (inputs.heic_bytes, "unsupported format: HEIC/HEIF"),
    "photo.avif": (inputs.avif_bytes, "unsupported format: AVIF"),
    "orientation-6.jpg": (lambda: inputs.oriented_jpeg(6), SMALL),
    "orientation-7.jpg": (lambda: inputs.oriented_jpeg(7), SMALL),
    "icc-3mb.jpg": (inputs.jpeg_with_huge_icc, SMALL),
    "bomb-50000x50000.png": (
        inputs.bomb_png_50k,
        "image too large: 2500.0 megapixels is over the 40-megapixel limit (possible decompression bomb)",
    ),
    "frames-10000.gif": (inputs.gif_with_frames, [(1024, 64, 64), (512, 64, 64), (256, 64, 64)]),
    "zero-0x0.png": (lambda: inputs.png_declaring(0, 0), "empty image: its header declares 0x0 pixels"),
    "tall-1x65535.png": (inputs.tall_png, [(1024, 1, 1024), (512, 1, 512), (256, 1, 256)]),
}


@pytest.fixture(scope="module")
def finished(client: JobsClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict | None]:
    """Every corpus file uploaded at once, then each job's record once terminal (or at the timeout)."""
    folder: Path = tmp_path_factory.mktemp("bad-inputs")
    ids = {name: client.upload(inputs.write(folder, name, make())) for name, (make, _) in CORPUS.items()}
    records = client.wait(ids.values(), timeout=120)
    return {name: records[job_id] for name, job_id in ids.items()}


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_bad_input_ends_terminal_with_its_reason_or_its_thumbnails(
    finished: dict, client: JobsClient, name: str
) -> None:
    # GIVEN the corpus file uploaded with the others / WHEN the pipeline has run
    job = finished[name]
    expected = CORPUS[name][1]
    # THEN the job is terminal (never left PENDING) with the expected outcome
    assert job is not None and job["status"] in ("COMPLETE", "FAILED"), (name, job and job["status"])
    if isinstance(expected, str):
        assert job["status"] == "FAILED", (name, job.get("thumbnails"))
        step, _, reason = job["failureReason"].partition(": ")
        assert step in step_names() and reason == expected, job["failureReason"]
    else:
        assert job["status"] == "COMPLETE", (name, job.get("failureReason"))
        assert [(t["size"], t["width"], t["height"]) for t in job["thumbnails"]] == expected
        assert isinstance(job["labels"], list)


UPRIGHT = [RED, GREEN, BLUE, WHITE]


@pytest.mark.parametrize(
    ("name", "colours"),
    [
        ("orientation-6.jpg", UPRIGHT),
        ("orientation-7.jpg", UPRIGHT),
        ("polyglot-jpeg-zip.jpg", UPRIGHT),
        ("icc-3mb.jpg", [GREEN, RED, BLUE, WHITE]),  # the profile swaps red and green: applied, not copied
    ],
)
def test_stored_thumbnails_are_upright_small_and_carry_nothing_extra(
    finished: dict, client: JobsClient, name: str, colours: list
) -> None:
    # GIVEN the finished job / WHEN its smallest thumbnail is read back from the thumbnails bucket
    thumb = next(t for t in finished[name]["thumbnails"] if t["size"] == 256)
    body = client.s3.get_object(Bucket=client.target.thumbnail_bucket, Key=thumb["key"])["Body"].read()
    image = Image.open(io.BytesIO(body))
    # THEN it shows the pattern upright in the intended colours, a few KB with no ZIP and no profile
    for xy, colour in zip([(30, 20), (90, 20), (30, 60), (90, 60)], colours, strict=True):
        actual = image.convert("RGB").getpixel(xy)
        assert all(abs(a - b) <= 24 for a, b in zip(actual, colour, strict=True)), (xy, actual, colour)
    assert b"PK\x03\x04" not in body and "icc_profile" not in image.info
    assert len(body) == thumb["bytes"] < 4_000


def test_no_job_of_the_corpus_is_left_pending(finished: dict, client: JobsClient) -> None:
    ids = {job["jobId"] for job in finished.values() if job}
    assert len(ids) == len(CORPUS)
    assert [job["jobId"] for job in client.list(status="PENDING", limit=200) if job["jobId"] in ids] == []
