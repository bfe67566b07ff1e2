"""Run one worker step's real logic on one input file, as a child process whose peak RSS a test measures.

    python tests/support/step_memory.py {resize|analysis|metadata} INPUT_FILE [ADDRESS_SPACE_MB]

The step functions are the ones the Lambda handlers call (`create_thumbnails`, `detect_labels` with the
offline model, `describe_image`), with the pipeline.json settings and limits; only S3 is replaced by
memory. Prints one JSON line: {"outcome": "COMPLETE", "result": ...} or {"outcome": "FAILED",
"reason": "..."}, plus "peak_rss_kb", this process's own high-water resident set (VmHWM).
With ADDRESS_SPACE_MB, the process caps its own address space first, so that a runaway allocation
fails here with MemoryError instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from pixelpipe.config import settings
from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.job_message import JobMessage


def peak_rss_kb() -> int:
    """VmHWM of this process's own memory map. Not wait4's ru_maxrss: Linux carries the parent's
    high-water mark into a forked child's rusage at exec, so a big test process would be counted."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


class MemoryStorage:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.written: dict[str, int] = {}

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes:
        return self.data

    def write(self, bucket: str, key: str, data: bytes, image_format: str) -> None:
        self.written[key] = len(data)


def run(step: str, path: Path) -> dict:
    config = settings()
    limits = ImageLimits.from_config(config.limits)
    storage = MemoryStorage(path.read_bytes())
    message = JobMessage("job-memory", "uploads", f"uploads/{path.name}", None, [step])
    try:
        if step == "resize":
            from pixelpipe.logic.resize import ThumbnailSettings, create_thumbnails

            thumbnails = ThumbnailSettings.from_config(config.thumbnails, config.storage, "thumbnails")
            result = create_thumbnails(message, storage, thumbnails, limits)
        elif step == "metadata":
            from pixelpipe.logic.metadata import describe_image

            result = describe_image(message, storage, limits)
        else:
            from pixelpipe.adapters.onnx_labels import OnnxImageNetLabels
            from pixelpipe.logic.analysis import LabelSettings, detect_labels

            labels = config.labels
            chosen = LabelSettings(labels.max_labels, labels.min_confidence["onnx"], labels.max_side)
            result = detect_labels(message, storage, OnnxImageNetLabels(), chosen, limits)
    except PermanentError as error:
        return {"outcome": "FAILED", "reason": error.reason}
    return {"outcome": "COMPLETE", "result": result}


if __name__ == "__main__":
    if len(sys.argv) > 3:
        limit = int(sys.argv[3]) << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    outcome = run(sys.argv[1], Path(sys.argv[2]))
    print(json.dumps({**outcome, "peak_rss_kb": peak_rss_kb()}))
