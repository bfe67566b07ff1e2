"""The handler of the test-only `checksum` worker (support.added_worker): built like every worker."""

# First, before anything loads pydantic (pixelpipe.config does): see worker_runtime's docstring.
from pixelpipe.handlers.worker_runtime import build_worker_handler  # isort: skip

import hashlib

from pixelpipe.adapters.storage import Storage
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.job_message import JobMessage
from support.added_worker import STEP

_storage = Storage(LazyClient("s3"))
_max_bytes = lambda_settings().pipeline.limits.max_input_bytes


def checksum(message: JobMessage) -> dict:
    data = _storage.read(message.bucket, message.key, message.version_id, _max_bytes)
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


handler = build_worker_handler(STEP, checksum)
