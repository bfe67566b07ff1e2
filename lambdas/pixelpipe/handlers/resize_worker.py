"""resize-worker: SQS `resize-queue` → thumbnails in S3 → reconcile."""

from functools import partial

import boto3

from pixelpipe.adapters.storage import Storage
from pixelpipe.config import Resources, pipeline_config
from pixelpipe.handlers.worker_runtime import build_worker_handler
from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.resize import ThumbnailSettings, create_thumbnails

_config = pipeline_config()

handler = build_worker_handler(
    "resize",
    partial(
        create_thumbnails,
        storage=Storage(boto3.client("s3")),
        settings=ThumbnailSettings.from_config(_config, Resources.from_env().thumbnail_bucket),
        limits=ImageLimits.from_config(_config["limits"]),
    ),
)
