"""Time the offline label backend per image, so a Lambda memory size (vCPU count) can be chosen.

Baseline, measured in the same run: the same backend on one intra-op thread (a 1,769 MB Lambda has one
vCPU), so the ratio shows what a second core buys.

PYTHONPATH=lambdas python benchmarks/bench_labels.py [--threads N] [--repeat 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import skimage
from PIL import Image

from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png"]


def photo(name: str) -> Image.Image:
    image = Image.open(Path(skimage.__file__).parent / "data" / name)
    image.load()
    return image


def bench(backend: OnnxImageNetLabels, image: Image.Image, repeat: int) -> float:
    """Mean milliseconds per call, session already warm."""
    start = time.perf_counter()
    for _ in range(repeat):
        backend.detect(image, max_labels=3, min_confidence=0)
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    backend = OnnxImageNetLabels(threads=args.threads)
    start = time.perf_counter()
    backend.detect(photo(PHOTOS[0]), max_labels=1, min_confidence=0)
    print(f"cold start (checksum + session + first image): {(time.perf_counter() - start) * 1000:.0f} ms")
    baseline = OnnxImageNetLabels(threads=1)
    baseline.detect(photo(PHOTOS[0]), max_labels=1, min_confidence=0)
    print(f"threads: {backend.threads} (baseline: 1)")
    for name in PHOTOS:
        image = photo(name)
        top = ", ".join(f"{lb.name} {lb.confidence:.1f}%" for lb in backend.detect(image, 3, 0))
        ms, base_ms = bench(backend, image, args.repeat), bench(baseline, image, args.repeat)
        print(f"{name:22} {ms:6.2f} ms/image (1 thread {base_ms:6.2f}, ratio {base_ms / ms:.2f}x)  {top}")


if __name__ == "__main__":
    main()
