"""Timestamps as the job record stores them: ISO 8601, UTC, millisecond precision, sortable as text."""

from datetime import UTC, datetime


def now_iso() -> str:
    return format_iso(datetime.now(UTC))


def format_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def millis_between(start: str, end: str) -> int:
    return round((parse_iso(end) - parse_iso(start)).total_seconds() * 1000)
