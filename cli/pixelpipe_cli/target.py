"""Where the CLI's commands point: the stack description (`pixelpipe_emulator.target`, shared with the
local stack that writes it) and the one place a command loads it."""

from __future__ import annotations

from pixelpipe_emulator.target import (
    DISPATCH_FAILURES_QUEUE,
    LOCAL_CREDENTIALS,
    S3_EVENTS_QUEUE,
    Target,
    state_dir,
    target_file,
)

__all__ = [
    "DISPATCH_FAILURES_QUEUE",
    "LOCAL_CREDENTIALS",
    "S3_EVENTS_QUEUE",
    "Target",
    "current_target",
    "state_dir",
    "target_file",
]


def current_target() -> Target:
    path = target_file()
    if not path.is_file():
        raise SystemExit(f"no stack to talk to: {path} is missing. Start one with `pixelpipe up`.")
    return Target.load(path)
