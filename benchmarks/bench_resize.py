"""Time make_thumbnails against a naive per-size resize on a ~12 MP JPEG, in the same run.

PYTHONPATH=lambdas python benchmarks/bench_resize.py [--repeat 5]

Baseline: for each size, open the JPEG, decode it at full resolution (no draft) and call
thumbnail(), then encode - what a first implementation usually does. make_thumbnails decodes
once at reduced DCT scale and cascades from the largest thumbnail down.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import skimage
from PIL import Image

from pixelpipe.logic.images import ImageLimits, make_thumbnails

SIZES = [1024, 512, 256]
QUALITY = 85
LIMITS = ImageLimits(max_input_bytes=26_214_400, max_input_pixels=40_000_000, allowed_formats=("JPEG",))


def twelve_megapixel_jpeg() -> bytes:
    """coffee.png (600x400) upscaled to 4200x2800 (11.8 MP), saved as a camera-like JPEG."""
    with Image.open(Path(skimage.__file__).parent / "data" / "coffee.png") as photo:
        big = photo.convert("RGB").resize((4200, 2800), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def naive(data: bytes) -> list[bytes]:
    outputs = []
    for size in SIZES:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # full-resolution decode: a loaded image cannot be drafted
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
            outputs.append(buffer.getvalue())
    return outputs


def ours(data: bytes) -> list[bytes]:
    return [t.data for t in make_thumbnails(data, SIZES, "JPEG", QUALITY, LIMITS)]


def median_ms(function: Callable[[bytes], list[bytes]], data: bytes, repeat: int) -> float:
    function(data)  # warm-up: plugin imports, allocator
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(data)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data = twelve_megapixel_jpeg()
    with Image.open(io.BytesIO(data)) as probe:
        width, height = probe.size
    print(f"source: {width}x{height} JPEG ({width * height / 1e6:.1f} MP, {len(data) / 1e6:.1f} MB)")
    print(f"sizes: {SIZES}, median of {args.repeat} runs")

    baseline = median_ms(naive, data, args.repeat)
    optimised = median_ms(ours, data, args.repeat)
    print(f"naive open+load+thumbnail() per size: {baseline:8.1f} ms")
    print(f"make_thumbnails (draft + cascade):    {optimised:8.1f} ms")
    print(f"speed-up: {baseline / optimised:.1f}x")


if __name__ == "__main__":
    main()
