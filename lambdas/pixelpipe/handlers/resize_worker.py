"""resize-worker: SQS `resize-queue` → thumbnails in S3 → reconcile."""

# First, before anything loads pydantic (pixelpipe.config does): see worker_runtime's docstring.
from pixelpipe.handlers.worker_runtime import build_worker_handler  # isort: skip

from functools import partial

from pixelpipe.adapters.storage import Storage
from pixelpipe.aws_clients import LazyClient
from pixelpipe.config import lambda_settings
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.resize import ThumbnailSettings, create_thumbnails

_settings = lambda_settings()

handler = build_worker_handler(
    "resize",
    partial(
        create_thumbnails,
        storage=Storage(LazyClient("s3")),
        settings=ThumbnailSettings.from_config(
            _settings.pipeline.thumbnails, _settings.pipeline.storage, _settings.resources.thumbnail_bucket
        ),
        limits=ImageLimits.from_config(_settings.pipeline.limits),
    ),
)
