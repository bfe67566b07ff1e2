"""What the CLI does to jobs, against any target: upload, read, wait, download."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.logic.jobs import SourceObject, job_id_for
from pixelpipe.logic.lifecycle import TERMINAL, JobStatus
from pixelpipe_cli.target import Target


class JobsClient:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.s3 = target.client("s3")
        self.table = JobsTable(target.client("dynamodb"), target.jobs_table, target.status_index)

    def upload(self, path: Path, key_name: str | None = None) -> str:
        """Upload under the upload prefix; the job id follows from the new object's version."""
        key = self.target.upload_prefix + (key_name or path.name)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = path.read_bytes()
        response = self.s3.put_object(
            Bucket=self.target.upload_bucket, Key=key, Body=data, ContentType=content_type
        )
        source = SourceObject(
            bucket=self.target.upload_bucket,
            key=key,
            size=len(data),
            etag=response["ETag"].strip('"'),
            version_id=response.get("VersionId"),
        )
        return job_id_for(source)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.table.get(job_id)

    def list(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        statuses = [status] if status else [JobStatus.PENDING, *TERMINAL]
        return self.table.by_statuses(statuses, limit=limit)[:limit]

    def wait(
        self,
        job_ids: Iterable[str],
        timeout: float = 300,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """Poll until every job is terminal (or the timeout passes); returns the last records seen.

        Polls only the statuses, in batches, and reads a whole record once it is terminal: the
        emulator answers every AWS call of the pipeline too, so a waiting client must stay cheap.
        """
        ids = list(job_ids)
        records: dict[str, dict[str, Any] | None] = dict.fromkeys(ids)
        deadline = time.monotonic() + timeout
        while True:
            waiting = [job_id for job_id in ids if not _is_terminal(records[job_id])]
            for job_id, status in self.table.statuses(waiting).items():
                if status in TERMINAL or time.monotonic() > deadline:
                    records[job_id] = self.get(job_id)
            done = sum(_is_terminal(r) for r in records.values())
            if on_progress:
                on_progress(done, len(ids))
            if done == len(ids) or time.monotonic() > deadline:
                return records
            time.sleep(0.2)

    def download_thumbnails(self, job: dict[str, Any], directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for thumb in job.get("thumbnails", []):
            path = directory / f"{job['jobId']}-{Path(thumb['key']).name}"
            self.s3.download_file(self.target.thumbnail_bucket, thumb["key"], str(path))
            paths.append(path)
        return paths


def _is_terminal(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") in TERMINAL
