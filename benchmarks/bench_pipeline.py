"""End-to-end throughput and latency of the local stack, against the bare image work as a baseline.

Baseline (same run, same images): decode + thumbnails + labels called in-process, no emulator, no
queues. Pipeline: the same images uploaded at once (a burst) to a private local stack and waited on.
The overhead is what the event-driven path (S3 events, SNS/SQS, DynamoDB, Step Functions, tracing on
moto) adds per job on top of the bare work: (wall time per job - bare time per image) / bare time.

    .venv/bin/python benchmarks/bench_pipeline.py [--jobs 60] [--photos 1mp|samples]

`--photos 1mp` (the default; issue 12's goal is stated for 1 MP photos) makes 1 MP JPEGs from real
photos (benchmarks/resize_contenders.py, nothing binary committed); `samples` uses the bundled samples
(0.1-0.3 MP). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels
from pixelpipe.config import settings
from pixelpipe.logic.clock import parse_iso
from pixelpipe.logic.images import ImageLimits, make_thumbnails, open_image, to_rgb
from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_PHOTOS = ["cat.png", "coffee.png", "rocket.jpg", "cat-sideways-exif.jpg"]
# 1 MP JPEGs (about 1226 x 816) from four different scikit-image photos.
ONE_MP_PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png"]


def one_megapixel_photos(directory: Path) -> list[Path]:
    from resize_contenders import Source, write_source

    return [
        write_source(Source(f"1mp-{Path(photo).stem}", photo, 1226, 816, "JPEG"), directory)
        for photo in ONE_MP_PHOTOS
    ]


def baseline_seconds_per_image(paths: list[Path]) -> float:
    config = settings()
    limits, thumbs, labels = ImageLimits.from_config(config.limits), config.thumbnails, config.labels
    labeller = OnnxImageNetLabels()
    labeller.detect(to_rgb(open_image(paths[0].read_bytes(), limits)), 5, 5)  # load the model first
    started = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        make_thumbnails(data, thumbs.sizes, thumbs.format, thumbs.quality, limits)
        labeller.detect(to_rgb(open_image(data, limits)), labels.max_labels, labels.min_confidence["onnx"])
    return (time.perf_counter() - started) / len(paths)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


def burst(paths: list[Path]) -> tuple[float, list[dict[str, Any] | None]]:
    """Upload every image at once to a fresh local stack; the wall seconds until all are terminal."""
    with tempfile.TemporaryDirectory() as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        started = time.perf_counter()
        ids = [client.upload(path, key_name=f"bench-{i:04d}{path.suffix}") for i, path in enumerate(paths)]
        records = client.wait(ids, timeout=600)
        return time.perf_counter() - started, list(records.values())


def run(jobs: int, photos: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        sources = (
            one_megapixel_photos(Path(scratch))
            if photos == "1mp"
            else [SAMPLES / name for name in SAMPLE_PHOTOS]
        )
        paths = [sources[i % len(sources)] for i in range(jobs)]
        bare = baseline_seconds_per_image(paths)
        wall, records = burst(paths)
    done = [r for r in records if r and r["status"] == JobStatus.COMPLETE]
    latencies = sorted(
        (parse_iso(r["completedAt"]) - parse_iso(r["createdAt"])).total_seconds() * 1000 for r in done
    )
    per_job = wall / jobs
    return {
        "photos": photos,
        "jobs": jobs,
        "complete": len(done),
        "bare_ms_per_image": round(bare * 1000, 1),
        "ms_per_job": round(per_job * 1000, 1),
        "jobs_per_s": round(jobs / wall, 2),
        "latency_median_ms": round(statistics.median(latencies)) if latencies else None,
        "latency_p95_ms": round(percentile(latencies, 0.95)) if latencies else None,
        "overhead_vs_bare": round((per_job - bare) / bare, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--photos", choices=["1mp", "samples"], default="1mp")
    args = parser.parse_args()
    result = run(args.jobs, args.photos)
    print(f"{result['jobs']} jobs in one burst ({result['complete']} COMPLETE), photos: {args.photos}")
    print(f"bare image work, in-process:   {result['bare_ms_per_image']:7.1f} ms/image")
    print(
        f"local stack, end to end:       {result['ms_per_job']:7.1f} ms/job  ({result['jobs_per_s']} jobs/s)"
    )
    print(
        f"job latency created→completed: median {result['latency_median_ms']} ms, "
        f"p95 {result['latency_p95_ms']} ms"
    )
    print(f"pipeline overhead per job / bare work per image: {result['overhead_vs_bare']}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
