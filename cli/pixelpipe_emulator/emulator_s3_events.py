"""S3 event notifications from the emulator in the shape AWS sends them.

moto's events carry no `versionId` and encode `/` in keys as `%2F`. Without the version, dispatch has to
ask HEAD for the latest one, so two uploads of the same bytes under one key in quick succession can
both map to the second version and one job is lost. S3 itself names the version each event is about,
so the emulator does too.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications

_sequence = itertools.count(1)


def install() -> None:
    """Wrap moto's event builder; every notification (SQS, SNS, Lambda) goes through it."""
    build = notifications._get_s3_event

    def aws_shaped(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = build(event_name, bucket, key, notification_id)
        described = event["Records"][0]["s3"]["object"]
        described["key"] = quote_plus(key.name, safe="/")  # S3 keeps '/' and sends spaces as '+'
        if bucket.is_versioned and key.version_id:
            described["versionId"] = key.version_id
        described["sequencer"] = f"{next(_sequence):016X}"
        return event

    notifications._get_s3_event = aws_shaped
