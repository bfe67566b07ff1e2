"""make_thumbnails against libvips, Pillow and the unavoidable work, in one run, at equal encoder settings.

    .venv/bin/python benchmarks/bench_resize.py [--repeat 7] [--json]

Each source (1, 12 and 48 MP JPEGs, a PNG and a WebP made from real photos at run time) goes through every
contender in benchmarks/resize_contenders.py; contenders take turns within each round so a noisy neighbour
on the machine hurts all of them alike. Ratios use the minimum time (the run least disturbed by others);
medians are shown too. Every output is scored by SSIM against a float Lanczos resize of the full decode,
so a contender cannot win by blurring or by skipping work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from resize_contenders import (
    CONTENDERS,
    NAIVE,
    PROJECT,
    PYVIPS,
    SIZES,
    SOURCES,
    UNAVOIDABLE,
    Reference,
    fit,
    output_sizes,
    pillow_encode,
    write_source,
)


def time_source(path: Path, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per call of each contender, after one warm-up call each; turns rotate per round."""
    for contender in CONTENDERS.values():
        contender(path)
    names = list(CONTENDERS)
    timings: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            CONTENDERS[name](path)
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def measure(path: Path, repeat: int) -> dict[str, Any]:
    timings = time_source(path, repeat)
    reference = Reference(path)
    rows = {}
    for name, contender in CONTENDERS.items():
        outputs = contender(path)
        rows[name] = {
            "min_ms": round(min(timings[name]), 2),
            "median_ms": round(statistics.median(timings[name]), 2),
            "bytes": sum(len(o) for o in outputs),
            "sizes": output_sizes(outputs),
            # The unavoidable-work outputs are crops, not thumbnails: no quality to score.
            "ssim": None if name == UNAVOIDABLE else [round(reference.ssim(o), 4) for o in outputs],
        }
    return rows


def ratios(rows: dict[str, Any]) -> dict[str, float]:
    ours = rows[PROJECT]["min_ms"]
    best_vips = min(rows[name]["min_ms"] for name in PYVIPS)
    return {
        "vs_pyvips": round(ours / best_vips, 3),
        "vs_unavoidable": round(ours / rows[UNAVOIDABLE]["min_ms"], 3),
        "vs_naive_pillow": round(ours / rows[NAIVE]["min_ms"], 3),
    }


def run(repeat: int) -> dict[str, Any]:
    """Every source measured; returns {source name: {"rows": ..., "ratios": ...}}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="pixelpipe-bench-") as directory:
        for source in SOURCES:
            path = write_source(source, Path(directory))
            # Big sources take seconds per round: fewer rounds keep `make bench` within its budget.
            rounds = max(3, repeat // 2) if source.width * source.height > 20e6 else repeat
            rows = measure(path, rounds)
            results[source.name] = {
                "stages_ms": {k: round(v, 2) for k, v in stages(path, rounds).items()},
                "file_bytes": path.stat().st_size,
                "rounds": rounds,
                "rows": rows,
                "ratios": ratios(rows),
            }
    return results


def stages(path: Path, repeat: int) -> dict[str, float]:
    """Minimum milliseconds of each stage of make_thumbnails' work (decode with draft, each resample, each
    encode), redone step by step with the same Pillow calls, so a profile shows where the time goes."""
    from PIL import Image

    def fastest(action: Any) -> tuple[float, Any]:
        best, result = float("inf"), None
        for _ in range(repeat):
            started = time.perf_counter()
            result = action()
            best = min(best, (time.perf_counter() - started) * 1000)
        return best, result

    def decode() -> Image.Image:
        with Image.open(path) as image:
            image.draft("RGB", fit(*image.size, max(SIZES)))
            image.load()
            return image.convert("RGB")

    with Image.open(path) as image:
        original = image.size
    timings: dict[str, float] = {}
    timings["decode (draft)"], current = fastest(decode)
    for size in sorted(SIZES, reverse=True):
        target = fit(*original, size)
        source = current
        timings[f"Lanczos {source.width}x{source.height} → {target[0]}x{target[1]}"], current = fastest(
            lambda source=source, target=target: source.resize(
                target, Image.Resampling.LANCZOS, reducing_gap=3.0
            )
        )
        timings[f"encode {target[0]}x{target[1]}"], _ = fastest(lambda image=current: pillow_encode(image))
    return timings


def markdown(results: dict[str, Any]) -> str:
    """One table per source: time, ratio of make_thumbnails to each contender, bytes, worst SSIM."""
    lines = []
    for source, result in results.items():
        rows = result["rows"]
        ours = rows[PROJECT]["min_ms"]
        lines += [
            f"**{source}** ({result['file_bytes'] / 1e6:.1f} MB file, {result['rounds']} rounds; "
            f"outputs {SIZES} px)",
            "",
            "| contender | min ms | median ms | make_thumbnails / this | output bytes | SSIM (worst) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, row in rows.items():
            ssim = "—" if row["ssim"] is None else f"{min(row['ssim']):.4f}"
            lines.append(
                f"| {name} | {row['min_ms']:.1f} | {row['median_ms']:.1f} | {ours / row['min_ms']:.2f}× "
                f"| {row['bytes']:,} | {ssim} |"
            )
        profile = ", ".join(f"{stage} {ms:.1f}" for stage, ms in result["stages_ms"].items())
        lines += ["", f"Where make_thumbnails' time goes (min ms per stage): {profile}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="Print the raw results as JSON.")
    args = parser.parse_args()
    results = run(args.repeat)
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
