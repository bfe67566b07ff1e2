"""metadata-worker: `metadata-queue` → EXIF summary, GPS flag, perceptual hash, dominant colours → reconcile.

Nothing of the photo but the summary leaves the function: no EXIF value is logged or traced, and the
GPS position is reduced to a flag where it is read (pixelpipe.logic.exif_summary).
"""

# First, before anything loads pydantic (pixelpipe.config does): see worker_runtime's docstring.
from pixelpipe.handlers.worker_runtime import build_worker_handler  # isort: skip

from functools import partial

from pixelpipe.adapters.storage import Storage
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.metadata import describe_image

_settings = lambda_settings()

handler = build_worker_handler(
    "metadata",
    partial(
        describe_image,
        storage=Storage(LazyClient("s3")),
        limits=ImageLimits.from_config(_settings.pipeline.limits),
    ),
)
