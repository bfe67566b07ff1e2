"""Where the CLI's commands point: the stack description (`pixelpipe_emulator.target`, shared with the
local stack that writes it) and the one place a command loads it."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import boto3

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
    """The target the commands talk to, or one line saying why there is none and what to do.

    A stale local target (the stack was stopped or the machine restarted) and an AWS target without
    credentials would otherwise surface as a botocore traceback from the first call a command makes.
    """
    path = target_file()
    if not path.is_file():
        raise SystemExit(f"no stack to talk to: {path} is missing. Start one with `pixelpipe up`.")
    target = Target.load(path)
    if target.is_local and not _listening(target.endpoint_url or ""):
        raise SystemExit(
            f"the local stack at {target.endpoint_url} (from {path}) is not running: start it with "
            "`pixelpipe up`, or point PIXELPIPE_TARGET at a running stack's target.json."
        )
    if not target.is_local and not _have_aws_credentials():
        raise SystemExit(
            f"no AWS credentials for the AWS target in {path}: sign in (e.g. `aws sso login`) or set "
            "AWS_PROFILE / AWS_ACCESS_KEY_ID, then try again."
        )
    return target


def _listening(endpoint_url: str) -> bool:
    """Whether something accepts connections at the endpoint (loopback: refused at once when nothing does)."""
    address = urlsplit(endpoint_url)
    try:
        with socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=1):
            return True
    except OSError:
        return False


_credentials_seen = False


def _have_aws_credentials() -> bool:
    """Remembered once found (a console left open does not resolve them at every request); looked up
    again while missing, so signing in later is noticed."""
    global _credentials_seen
    _credentials_seen = _credentials_seen or boto3.Session().get_credentials() is not None
    return _credentials_seen
