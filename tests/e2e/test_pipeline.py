"""End to end through the local stack: real uploads, real thumbnails, real labels, real reconcile."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelpipe.config import step_names
from pixelpipe.logic.job_message import JobMessage
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES, SKIMAGE_DATA, decompression_bomb_png, jpeg_bytes, write
from support.stacks import wait_until, worker_entries

pytestmark = pytest.mark.e2e


def thumbnail_image(client: JobsClient, job: dict, size: int) -> Image.Image:
    thumb = next(t for t in job["thumbnails"] if t["size"] == size)
    body = client.s3.get_object(Bucket=client.target.thumbnail_bucket, Key=thumb["key"])["Body"].read()
    image = Image.open(io.BytesIO(body))
    image.load()
    assert (image.width, image.height) == (thumb["width"], thumb["height"])
    assert len(body) == thumb["bytes"]
    return image


def test_good_photos_complete_with_real_thumbnails_and_fitting_labels(client: JobsClient) -> None:
    # GIVEN three real photos, one stored sideways with an EXIF orientation tag
    paths = [SAMPLES / "cat.png", SAMPLES / "cat-sideways-exif.jpg", SAMPLES / "coffee.png"]
    # WHEN they are uploaded
    ids = [client.upload(path) for path in paths]
    cat, sideways_cat, coffee = (client.wait(ids, timeout=120)[job_id] for job_id in ids)
    # THEN every job is COMPLETE with every configured step recorded once
    for job in (cat, sideways_cat, coffee):
        assert job["status"] == "COMPLETE", job.get("failureReason")
        steps = {name: step["status"] for name, step in job["steps"].items()}
        assert steps == dict.fromkeys(step_names(), "SUCCEEDED")
        assert job["succeededCount"] == len(step_names()) and job["completedAt"]
        assert [entry["event"] for entry in job["history"]].count("COMPLETE") == 1
    # the cat's thumbnails have the real sizes (451x300 source: never upscaled) and look like the source
    assert [(t["size"], t["width"], t["height"]) for t in cat["thumbnails"]] == [
        (1024, 451, 300),
        (512, 451, 300),
        (256, 256, 170),
    ]
    small = thumbnail_image(client, cat, 256)
    source = Image.open(SAMPLES / "cat.png").convert("RGB").resize((256, 170))
    assert abs(_mean(small) - _mean(source)) < 4
    # the sideways photo comes out upright: landscape like the original, not 300x451
    upright = thumbnail_image(client, sideways_cat, 256)
    assert upright.size == (256, 170)
    assert abs(_mean(upright) - _mean(source)) < 4
    # labels fit the photos
    assert "cat" in cat["labels"][0]["name"].lower() or "Mau" in cat["labels"][0]["name"]
    assert any("cat" in label["name"].lower() for label in sideways_cat["labels"])
    assert coffee["labels"][0]["name"] == "espresso" and coffee["labels"][0]["confidence"] > 50


def test_bad_inputs_fail_with_a_clear_reason_and_nothing_stays_pending(
    client: JobsClient, tmp_path: Path
) -> None:
    # GIVEN one file of every kind of bad input
    photo = jpeg_bytes(Image.open(SKIMAGE_DATA / "astronaut.png").convert("RGB"), quality=90)
    bad = {
        "zero.jpg": (b"", "empty"),
        "random.jpg": (os.urandom(4096), "not a recognised image"),
        "notes.jpg": (b"just some text, saved with the wrong name\n" * 20, "looks like text"),
        "truncated.jpg": (photo[: len(photo) // 2], "truncated"),
        "bomb.png": (decompression_bomb_png(), "megapixel"),
        "icon.ico": (_ico_bytes(), "unsupported format"),
    }
    paths = {name: write(tmp_path, name, data) for name, (data, _) in bad.items()}
    # WHEN they are uploaded
    ids = {name: client.upload(path) for name, path in paths.items()}
    records = client.wait(ids.values(), timeout=120)
    # THEN each job is FAILED with its reason recorded, none is left PENDING
    for name, (_, phrase) in bad.items():
        job = records[ids[name]]
        assert job is not None, name
        assert job["status"] == "FAILED", (name, job["status"])
        assert phrase in job["failureReason"], (name, job["failureReason"])
    assert client.list(status="PENDING") == []


def test_odd_keys_are_decoded_and_processed(client: JobsClient) -> None:
    # GIVEN a photo uploaded under a key with spaces, a plus sign and non-ASCII letters
    job_id = client.upload(SAMPLES / "cat.png", key_name="my cat+friend café 猫.png")
    # WHEN it is processed
    job = client.wait([job_id], timeout=60)[job_id]
    # THEN the record names the key exactly as uploaded and the job completes
    assert job["source"]["key"] == "uploads/my cat+friend café 猫.png"
    assert job["status"] == "COMPLETE"


def test_uploading_the_same_key_again_is_a_new_job_and_the_old_one_is_untouched(client: JobsClient) -> None:
    # GIVEN a finished job
    first = client.upload(SAMPLES / "coffee.png", key_name="again.png")
    client.wait([first], timeout=60)
    # WHEN the same key is uploaded again (a new S3 version)
    second = client.upload(SAMPLES / "rocket.jpg", key_name="again.png")
    records = client.wait([first, second], timeout=60)
    # THEN it is a second job; the first keeps its own result
    assert first != second
    assert records[first]["labels"][0]["name"] == "espresso"
    assert records[second]["status"] == "COMPLETE"
    assert records[second]["source"]["versionId"] != records[first]["source"]["versionId"]


def test_a_step_that_keeps_failing_transiently_ends_failed_and_its_message_in_the_dlq(
    impatient_config: dict, tmp_path: Path
) -> None:
    # GIVEN a stack of its own whose thumbnails bucket is gone: every write fails, not the input's fault
    with LocalStack(tmp_path / "stack") as stack:
        client = JobsClient(stack.target)
        client.s3.delete_bucket(Bucket=stack.target.thumbnail_bucket)
        # WHEN a good photo is uploaded
        job_id = client.upload(SAMPLES / "cat.png")
        job = client.wait([job_id], timeout=60)[job_id]
        # THEN resize is retried up to maxReceiveCount, reported FAILED, and its message lands in the DLQ
        assert job["status"] == "FAILED"
        receives = worker_entries(impatient_config)["resize"]["source"]["max_receive_count"]
        assert job["steps"]["resize"]["attempts"] == receives
        assert "gave up after 2 attempts" in job["failureReason"]
        sqs = stack.target.client("sqs")
        dlq = sqs.receive_message(QueueUrl=stack.target.queues["resize"]["dlq_url"], WaitTimeSeconds=5)
        assert [JobMessage.from_json(m["Body"]).job_id for m in dlq.get("Messages", [])] == [job_id]
        # and the analysis step, which had no problem, still succeeded
        # (its result may arrive after the job turned FAILED: a late result is still recorded)
        analysis = wait_until(
            lambda: (
                (step := client.get(job_id)["steps"]["analysis"])["status"] in ("SUCCEEDED", "FAILED")
                and step
            ),
            timeout=30,
        )
        assert analysis["status"] == "SUCCEEDED", analysis


def JobsClient_job_id(body: str) -> str:
    from pixelpipe.logic.job_message import JobMessage

    return JobMessage.from_json(body).job_id


def _mean(image: Image.Image) -> float:
    return float(np.asarray(image.convert("L"), dtype=np.float64).mean())


def _ico_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buffer, "ICO")
    return buffer.getvalue()
