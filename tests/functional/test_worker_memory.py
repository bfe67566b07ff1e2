"""A worker's peak memory on the worst inputs stays far below its Lambda's memory_mb.

Each case runs one step's real logic (`create_thumbnails`, or `detect_labels` with the offline model;
pipeline.json's settings and limits; S3 replaced by memory) in a child process, which reports its own
peak resident set (VmHWM). wait4's ru_maxrss is not used: Linux copies the parent's high-water mark into
a forked child's at exec, so it measured the test process (513 MB in CI) rather than the step.
A Lambda that goes over `memory_mb` is killed and its message retried into the DLQ, so the bound is
half of `memory_mb`: the other half is left for what the child does not load (the Lambda runtime,
boto3, Powertools, the X-Ray SDK) and for the rest of a batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pixelpipe.config import workers
from support.inputs import MEMORY_WORST, write

RUNNER = Path(__file__).resolve().parents[1] / "support" / "step_memory.py"
BOMB = "image too large: 2500.0 megapixels is over the 40-megapixel limit (possible decompression bomb)"
THUMBNAILS = {  # resize's thumbnails (size, width, height) for each input, or the reason it fails
    "bomb-50000x50000-1bit.png": BOMB,
    "frames-10000.gif": [(1024, 64, 64), (512, 64, 64), (256, 64, 64)],
    "icc-3mb.jpg": [(1024, 120, 80), (512, 120, 80), (256, 120, 80)],
    "tall-1x65535.png": [(1024, 1, 1024), (512, 1, 512), (256, 1, 256)],
    "wide-65535x1.png": [(1024, 1024, 1), (512, 512, 1), (256, 256, 1)],
    "at-limit-6000x6600-rgba.png": [(1024, 931, 1024), (512, 465, 512), (256, 233, 256)],
}


def run_in_child(step: str, path: Path, address_space_mb: int) -> tuple[dict, float]:
    """The step's JSON outcome and the child's peak RSS in MB. The child caps its own address space
    (no preexec_fn: this process may have threads, e.g. a local stack's), so a runaway allocation
    fails in the child rather than taking the shared machine's memory."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out, err = path.with_suffix(".out"), path.with_suffix(".err")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, str(RUNNER), step, str(path), str(address_space_mb)],
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
        watchdog = threading.Timer(120, child.kill)
        watchdog.start()
        try:
            child.wait()
        finally:
            watchdog.cancel()
    assert child.returncode == 0, f"{step} crashed (exit {child.returncode}):\n{err.read_text()[-3000:]}"
    outcome = json.loads(out.read_text())
    return outcome, outcome.pop("peak_rss_kb") / 1024


@pytest.mark.parametrize("step", ["resize", "analysis", "metadata"])
@pytest.mark.parametrize("name", list(MEMORY_WORST))
def test_peak_rss_of_a_step_on_a_worst_input_stays_under_half_its_lambda_memory(tmp_path, name, step):
    # GIVEN one of the worst inputs, as the bytes S3 would return
    path = write(tmp_path, name, MEMORY_WORST[name]())
    memory_mb = workers()[step].memory_mb
    # WHEN the step's real logic runs on it in a child process
    outcome, peak_mb = run_in_child(step, path, address_space_mb=4 * memory_mb)
    # THEN it ends with the expected outcome
    expected = THUMBNAILS[name]
    if isinstance(expected, str):
        assert outcome == {"outcome": "FAILED", "reason": expected}
    elif step == "resize":
        assert outcome["outcome"] == "COMPLETE"
        assert [(t["size"], t["width"], t["height"]) for t in outcome["result"]] == expected
    elif step == "metadata":
        assert outcome["outcome"] == "COMPLETE" and len(outcome["result"]["phash"]) == 16
    else:
        assert outcome["outcome"] == "COMPLETE" and isinstance(outcome["result"], list)
    # AND its peak resident memory stays under half the function's memory_mb
    assert peak_mb < memory_mb / 2, f"{step} on {name}: peak RSS {peak_mb:.0f} MB of {memory_mb} MB"


def test_the_measured_peak_is_the_childs_own_not_the_test_processs(tmp_path):
    # GIVEN this test process holding 600 MB of touched memory
    ballast = bytearray(600 << 20)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    path = write(tmp_path, "icc-3mb.jpg", MEMORY_WORST["icc-3mb.jpg"]())
    # WHEN a step runs on a small input in a child
    _, peak_mb = run_in_child("resize", path, address_space_mb=4096)
    # THEN the child's peak is its own, far below the parent's ballast
    assert peak_mb < 300, f"peak {peak_mb:.0f} MB includes the parent's memory"
    del ballast
