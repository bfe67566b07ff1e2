"""Soak the local stack: N uploads with duplicate S3 events, bad files and injected transient faults.

Ends with one JSON line. lost, stuck and double_terminal must be 0 and every FAILED job a bad input;
the exit status is 1 otherwise.

    .venv/bin/python tools/soak.py --jobs 1000      (make soak N=1000)

- duplicates: that share of uploads get their S3 event delivered a second time (as S3 may), built
  the way S3 builds it and sent to the stack's S3 event relay queue;
- bad files: truncated, corrupt, text named .jpg, zero bytes — each must end FAILED with a reason;
- faults: each AWS call on the job's path fails with that probability, once per (call, job) at most,
  so a retry or redelivery gets through (pixelpipe_emulator.faults);
- the front door: that share of uploads (bad files included) go through the HTTP API as an app sends them
  (a presigned form from POST /uploads, the file posted to S3, the job id from GET /uploads/{id}), retrying
  a throttled (429) call as a client should; every one must become a job like the others.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from PIL import Image

from pixelpipe.config import settings, workers
from pixelpipe.logic.jobs import SourceObject, job_id_for
from pixelpipe.logic.lifecycle import JobStatus, terminal_transitions
from pixelpipe_cli import dlq as dead_letters
from pixelpipe_cli.api_client import ApiClient, ApiError
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import S3_EVENTS_QUEUE
from pixelpipe_emulator.faults import injected
from pixelpipe_emulator.stack import LocalStack

CLAIM = ":running, steps.#step.startedAt"
DISPATCH = settings().dispatch_function
# The worker that writes thumbnails to S3 (the only one calling s3.PutObject).
THUMBNAILER = next(w.function for w in workers().values() if w.result_field == "thumbnails")
FAULTED_CALLS = [
    (DISPATCH, "dynamodb.PutItem", "", "InternalServerError", 500),
    (DISPATCH, "sns.Publish", "", "InternalError", 500),
    ("*", "dynamodb.UpdateItem", CLAIM, "ThrottlingException", 400),
    ("*", "s3.GetObject", "", "SlowDown", 503),
    (THUMBNAILER, "s3.PutObject", "", "SlowDown", 503),
    ("*", "stepfunctions.StartExecution", "", "ThrottlingException", 400),
]


def fault_plan(rate: float) -> list[dict[str, Any]]:
    return [
        {
            "function": function,
            "operation": operation,
            "match": match,
            "error": error,
            "status": status,
            "probability": rate,
        }
        for function, operation, match, error, status in FAULTED_CALLS
    ]


SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PHOTOS = [Image.open(SAMPLES / name).convert("RGB") for name in ("cat.png", "coffee.png", "rocket.jpg")]


def good_image(index: int, rng: random.Random) -> tuple[str, bytes]:
    """A distinct real photo: a random crop (70–100 %) of a bundled sample, scaled, as JPEG or PNG."""
    photo = PHOTOS[index % len(PHOTOS)]
    share = rng.uniform(0.7, 1.0)
    width, height = round(photo.width * share), round(photo.height * share)
    left, top = rng.randint(0, photo.width - width), rng.randint(0, photo.height - height)
    scale = rng.uniform(0.8, 1.6)
    image = photo.crop((left, top, left + width, top + height)).resize(
        (round(width * scale), round(height * scale))
    )
    out = io.BytesIO()
    if index % 2:
        image.save(out, "JPEG", quality=85)
        return f"soak/{index:05d}.jpg", out.getvalue()
    image.save(out, "PNG")
    return f"soak/{index:05d}.png", out.getvalue()


def bad_file(index: int, rng: random.Random) -> tuple[str, bytes]:
    kind = index % 4
    if kind == 0:
        _, jpeg = good_image(1, rng)
        return f"soak/bad-{index:05d}-truncated.jpg", jpeg[: len(jpeg) // 3]
    if kind == 1:
        return f"soak/bad-{index:05d}-text.jpg", b"this is not an image, only text\n" * 40
    if kind == 2:
        return f"soak/bad-{index:05d}-empty.png", b""
    _, png = good_image(2, rng)
    return f"soak/bad-{index:05d}-corrupt.png", png[:64] + bytes(rng.randrange(256) for _ in range(4000))


def s3_event(bucket: str, key: str, size: int, etag: str, version_id: str | None) -> dict[str, Any]:
    """An ObjectCreated:Put notification as S3 sends it (the fields dispatch reads, and a few more)."""
    described = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": "0"}
    if version_id:
        described["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": described},
            }
        ]
    }


def upload_through_the_api(target: Any, folder: Path, name: str, data: bytes) -> str:
    """The job id of one upload through the front door; a throttled call is retried after a pause."""
    path = folder / Path(name).name
    path.write_bytes(data)
    for attempt in range(10):
        try:
            return ApiClient(target).upload(path)
        except ApiError as error:
            if " 429 " not in str(error) or attempt == 9:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def stored_mb(s3: Any, buckets: list[str]) -> float:
    """What the emulator must hold for the objects themselves: every version in the buckets."""
    total = 0
    for bucket in buckets:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            total += sum(version["Size"] for version in page.get("Versions", []))
    return round(total / 2**20, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def soak(
    jobs: int,
    fault_rate: float,
    duplicate_rate: float,
    bad_rate: float,
    seed: int,
    tracing: bool,
    api_rate: float = 0.0,
) -> dict:
    rng = random.Random(seed)
    bad = set(rng.sample(range(jobs), max(1 if bad_rate else 0, round(jobs * bad_rate))))
    duplicated = set(rng.sample(range(jobs), round(jobs * duplicate_rate)))
    files = [bad_file(i, rng) if i in bad else good_image(i, rng) for i in range(jobs)]
    # An empty file never gets past the form's content-length-range (S3 refuses it: no job to wait for).
    sendable = [i for i in range(jobs) if files[i][1]]
    through_api = set(rng.sample(sendable, min(len(sendable), round(jobs * api_rate))))
    bad_keys = {key for key, _ in files if "/bad-" in key}
    with tempfile.TemporaryDirectory(prefix="pixelpipe-soak-") as home:
        plan = Path(home) / "faults.json"
        plan.write_text(json.dumps(fault_plan(fault_rate)))
        with LocalStack(Path(home) / "stack", tracing=tracing, fault_plan=plan) as stack:
            target, client = stack.target, JobsClient(stack.target)
            s3, sqs = target.client("s3"), target.client("sqs")
            emulator_start = rss_mb(stack.emulator_pid)
            duplicates = 0
            started = time.monotonic()

            def upload(index: int) -> tuple[str, str, bool]:
                name, data = files[index]
                if index in through_api:  # the server chooses the key; S3 sends the one event itself
                    return upload_through_the_api(target, Path(home), name, data), name, False
                key = target.upload_prefix + name
                put = s3.put_object(Bucket=target.upload_bucket, Key=key, Body=data)
                etag, version = put["ETag"].strip('"'), put.get("VersionId")
                duplicate = index in duplicated
                if duplicate:
                    event = s3_event(target.upload_bucket, key, len(data), etag, version)
                    sqs.send_message(
                        QueueUrl=target.queues[S3_EVENTS_QUEUE]["url"], MessageBody=json.dumps(event)
                    )
                source = SourceObject(target.upload_bucket, key, len(data), etag, version)
                return job_id_for(source), key, duplicate

            with ThreadPoolExecutor(max_workers=4) as pool:
                uploaded = list(pool.map(upload, range(jobs)))
            duplicates = sum(1 for _, _, duplicate in uploaded if duplicate)
            job_keys = {job_id: key for job_id, key, _ in uploaded}  # an API upload: its file name
            records = client.wait(job_keys, timeout=300 + jobs * 1.5)
            seconds = time.monotonic() - started
            in_dlq = sum(summary.approximate for summary in dead_letters.dlq_list(target))
            emulator_end = rss_mb(stack.emulator_pid)
            stored = stored_mb(s3, [target.upload_bucket, target.thumbnail_bucket])
            faults = len(injected(stack.faults_log))

    lost = [j for j, record in records.items() if record is None]
    stuck = [
        j
        for j, record in records.items()
        if record and record["status"] not in (JobStatus.COMPLETE, JobStatus.FAILED)
    ]
    double = [j for j, record in records.items() if record and len(terminal_transitions(record)) > 1]
    failed = [j for j, record in records.items() if record and record["status"] == JobStatus.FAILED]
    failed_bad = [j for j in failed if job_keys[j].endswith(tuple(bad_keys))]
    complete = [j for j, record in records.items() if record and record["status"] == JobStatus.COMPLETE]
    without_output = [
        j for j in complete if len(records[j].get("thumbnails") or []) != 3 or not records[j].get("labels")
    ]
    return {
        "jobs": jobs,
        "complete": len(complete),
        "failed": len(failed),
        "failed_bad_input": len(failed_bad),
        "lost": len(lost),
        "stuck": len(stuck),
        "double_terminal": len(double),
        "in_dlq": in_dlq,
        "duplicates_injected": duplicates,
        "faults_injected": faults,
        "seconds": round(seconds, 1),
        "jobs_per_s": round(jobs / seconds, 2),
        "emulator_rss_mb_start": emulator_start,
        "emulator_rss_mb_end": emulator_end,
        "s3_stored_mb": stored,
        "bad_inputs": len(bad_keys),
        "api_uploads": len(through_api),
        "complete_without_output": len(without_output),
        "failed_not_bad": [records[j].get("failureReason") for j in failed if j not in failed_bad][:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--duplicate-rate", type=float, default=0.10)
    parser.add_argument("--bad-rate", type=float, default=0.03)
    parser.add_argument("--api-rate", type=float, default=0.10, help="share uploaded through the HTTP API")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--tracing", action="store_true", help="run the stack's X-Ray stand-ins too")
    args = parser.parse_args()
    result = soak(
        args.jobs, args.fault_rate, args.duplicate_rate, args.bad_rate, args.seed, args.tracing, args.api_rate
    )
    print(json.dumps(result), flush=True)
    held = (
        result["lost"] == result["stuck"] == result["double_terminal"] == 0
        and result["failed"] == result["failed_bad_input"] == result["bad_inputs"]
        and result["complete_without_output"] == 0
    )
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
