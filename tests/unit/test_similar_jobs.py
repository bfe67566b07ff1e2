"""`pixelpipe jobs --similar`'s rule, on records carrying the hashes the metadata step gives real photos."""

from __future__ import annotations

import pytest
from PIL import Image

from pixelpipe.config import settings
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.metadata import summarise
from pixelpipe.logic.perceptual_hash import NEAR_DUPLICATE_DISTANCE
from pixelpipe_cli.similar import NoHash, similar_jobs
from support import inputs
from support.inputs import SAMPLES, SKIMAGE_DATA

LIMITS = ImageLimits.from_config(settings().limits)


def record(job_id: str, data: bytes, created: str = "2026-12-01T10:00:00.000Z") -> dict:
    return {"jobId": job_id, "createdAt": created, "status": "COMPLETE", "metadata": summarise(data, LIMITS)}


def cat_variants() -> dict[str, bytes]:
    with Image.open(SAMPLES / "cat.png") as cat:
        cat = cat.convert("RGB")
        cropped = cat.crop((6, 4, cat.width - 6, cat.height - 4))
        return {
            "cat-png": (SAMPLES / "cat.png").read_bytes(),
            "cat-sideways": (SAMPLES / "cat-sideways-exif.jpg").read_bytes(),
            "cat-small-jpeg": inputs.jpeg_bytes(cat.resize((225, 150)), quality=70),
            "cat-cropped": inputs.jpeg_bytes(cropped, quality=85),
        }


def test_near_duplicates_are_found_closest_first_and_other_photos_are_not():
    # GIVEN a cat photo's job, three near-duplicate cats and three other photos
    cats = {name: record(name, data) for name, data in cat_variants().items()}
    others = [
        record(name, (SKIMAGE_DATA / name).read_bytes())
        for name in ("coffee.png", "astronaut.png", "rocket.jpg")
    ]
    reference = cats.pop("cat-png")
    # WHEN the similar jobs are picked from all of them
    matches = similar_jobs(reference, [*others, *cats.values(), reference])
    # THEN the three cats and nothing else, by distance
    assert sorted(match.job["jobId"] for match in matches) == sorted(cats)
    distances = [match.distance for match in matches]
    assert distances == sorted(distances) and max(distances) <= NEAR_DUPLICATE_DISTANCE


def test_equal_distances_are_newest_first_and_a_repeat_is_listed_once():
    data = (SAMPLES / "rocket.jpg").read_bytes()
    reference = record("ref", data, "2026-12-01T09:00:00.000Z")
    old, new = (
        record("old", data, "2026-12-01T10:00:00.000Z"),
        record("new", data, "2026-12-01T11:00:00.000Z"),
    )
    matches = similar_jobs(reference, [old, new, new])
    assert [(match.job["jobId"], match.distance) for match in matches] == [("new", 0), ("old", 0)]


def test_jobs_without_a_usable_hash_are_skipped():
    reference = record("ref", (SAMPLES / "rocket.jpg").read_bytes())
    candidates = [
        {"jobId": "pending", "createdAt": "x"},
        {"jobId": "failed", "metadata": None},
        {"jobId": "forged", "metadata": {"phash": "not a hash <b>"}},
        {"jobId": "list", "metadata": ["phash"]},
    ]
    assert similar_jobs(reference, candidates) == []


def test_a_reference_without_a_hash_is_an_error_naming_the_job():
    with pytest.raises(NoHash, match="job j-1 has no perceptual hash"):
        similar_jobs({"jobId": "j-1", "status": "PENDING"}, [])
