"""A worker's peak memory on the worst inputs stays far below its Lambda's memory_mb.

Each case runs one step's real logic (`create_thumbnails`, or `detect_labels` with the offline model;
pipeline.json's settings and limits; S3 replaced by memory) in a child process, and takes the child's
peak resident set from the kernel (wait4's ru_maxrss for that child alone). A Lambda that goes over
`memory_mb` is killed and its message retried into the DLQ, so the bound is half of `memory_mb`: the
other half is left for what the child does not load (the Lambda runtime, boto3, Powertools, the X-Ray
SDK) and for the rest of a batch.
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
            _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        finally:
            watchdog.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, f"{step} crashed (exit {child.returncode}):\n{err.read_text()[-3000:]}"
    return json.loads(out.read_text()), usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


@pytest.mark.parametrize("step", ["resize", "analysis"])
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
    else:
        assert outcome["outcome"] == "COMPLETE" and isinstance(outcome["result"], list)
    # AND its peak resident memory stays under half the function's memory_mb
    assert peak_mb < memory_mb / 2, f"{step} on {name}: peak RSS {peak_mb:.0f} MB of {memory_mb} MB"
