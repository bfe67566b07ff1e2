"""End-to-end throughput and latency of the local stack, against the bare image work as a baseline.

Baseline (same run, same images): decode + thumbnails + labels called in-process, no emulator, no
queues. Pipeline: the same images uploaded to a private local stack and waited on. The ratio is the
price of the event-driven path (S3 events, SNS/SQS, DynamoDB, Step Functions, tracing) on moto.

    .venv/bin/python benchmarks/bench_pipeline.py [--jobs 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels
from pixelpipe.config import pipeline_config
from pixelpipe.logic.clock import parse_iso
from pixelpipe.logic.images import ImageLimits, make_thumbnails, open_image, to_rgb
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PHOTOS = ["cat.png", "coffee.png", "rocket.jpg", "cat-sideways-exif.jpg"]


def baseline_seconds_per_image(paths: list[Path]) -> float:
    config = pipeline_config()
    limits, thumbs, labels = ImageLimits.from_config(config["limits"]), config["thumbnails"], config["labels"]
    labeller = OnnxImageNetLabels()
    labeller.detect(to_rgb(open_image(paths[0].read_bytes(), limits)), 5, 5)  # load the model first
    started = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        make_thumbnails(data, thumbs["sizes"], thumbs["format"], thumbs["quality"], limits)
        labeller.detect(
            to_rgb(open_image(data, limits)), labels["max_labels"], labels["min_confidence"]["onnx"]
        )
    return (time.perf_counter() - started) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    args = parser.parse_args()
    paths = [SAMPLES / PHOTOS[i % len(PHOTOS)] for i in range(args.jobs)]
    base = baseline_seconds_per_image(paths)
    with tempfile.TemporaryDirectory() as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        started = time.perf_counter()
        ids = [client.upload(path, key_name=f"bench-{i:04d}{path.suffix}") for i, path in enumerate(paths)]
        records = client.wait(ids, timeout=600)
        wall = time.perf_counter() - started
    done = [r for r in records.values() if r and r["status"] == "COMPLETE"]
    latencies = sorted(
        (parse_iso(r["completedAt"]) - parse_iso(r["createdAt"])).total_seconds() * 1000 for r in done
    )
    print(f"jobs: {args.jobs} ({len(done)} COMPLETE), photos: {', '.join(PHOTOS)}")
    print(f"baseline, in-process image work:   {base * 1000:7.1f} ms/image")
    print(
        f"local stack, end to end:           {wall / args.jobs * 1000:7.1f} ms/job"
        f"  ({args.jobs / wall:.1f} jobs/s)"
    )
    print(
        f"job latency created→completed:     median {statistics.median(latencies):.0f} ms, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms"
    )
    print(f"ratio, pipeline per job / bare work per image: {wall / args.jobs / base:.1f}x")


if __name__ == "__main__":
    main()
