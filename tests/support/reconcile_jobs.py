"""A fresh PENDING job for the reconcile state machine tests, on a fixed clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pixelpipe.config import settings, step_names
from pixelpipe.logic.clock import format_iso
from pixelpipe.logic.jobs import SourceObject, job_id_for, new_job_record

# The steps the reconcile tests exercise by name. The state machine is generic over steps, so a job of these
# two stands for a job of any configured steps; the pipeline must still list them.
STEPS = ("resize", "analysis")

DEADLINE = 900
T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """T0 plus `seconds`, as the record stores times."""
    return format_iso(T0 + timedelta(seconds=seconds))


@pytest.fixture
def job_id(reconcile_stack) -> str:
    """A PENDING job for a real-looking upload, as dispatch writes it, due at T0 + DEADLINE."""
    source = SourceObject(
        bucket=settings().storage.upload_bucket,
        key=f"{settings().storage.upload_prefix}{uuid.uuid4().hex}/chelsea.png",
        size=240_000,
        etag='"5d41402abc4b2a76b9719d911017c592"',
        version_id=uuid.uuid4().hex,
        content_type="image/png",
    )
    new_id = job_id_for(source)
    assert set(STEPS) <= set(step_names()), step_names()
    reconcile_stack.put_job(new_job_record(new_id, source, list(STEPS), at(0), deadline_at=at(DEADLINE)))
    return new_id
