"""`pixelpipe jobs --similar JOB`: the jobs whose photo looks like JOB's (near-duplicates).

The metadata step records a 64-bit perceptual hash (`metadata.phash`). Candidates are read through the
status index, newest first, at most `SCAN_PER_STATUS` jobs of each status (never a Scan of the table):
a bounded read whatever the table's size, so a job older than the newest `SCAN_PER_STATUS` of its
status is not compared. A candidate is similar when its hash is within `NEAR_DUPLICATE_DISTANCE` bits
(pixelpipe.logic.perceptual_hash, where the distance is measured and explained).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import typer
from rich.table import Table

from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe.logic.perceptual_hash import HASH_BITS, NEAR_DUPLICATE_DISTANCE, hamming_distance, is_hash
from pixelpipe_cli import render

SCAN_PER_STATUS = 1000  # newest jobs read per status: 3 statuses x 1,000 items, a few query pages each

SimilarOption = Annotated[
    str | None,
    typer.Option(
        "--similar",
        metavar="JOB",
        help=f"Jobs whose photo looks like JOB's (perceptual hashes at most {NEAR_DUPLICATE_DISTANCE} of "
        f"{HASH_BITS} bits apart), closest first, among the newest {SCAN_PER_STATUS} jobs of each status.",
    ),
]


class ReadsJobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...
    def by_status(self, status: str, created_before: str | None = None, limit: int = 100) -> list[dict]: ...


class NoHash(LookupError):
    """The job named has no perceptual hash to compare (missing, or its metadata step not done)."""


@dataclass(frozen=True)
class Match:
    job: dict[str, Any]
    distance: int


def perceptual_hash(job: dict[str, Any]) -> str | None:
    """The job's recorded hash, if it has a well-formed one (records are data: check, don't trust)."""
    metadata = job.get("metadata")
    value = metadata.get("phash") if isinstance(metadata, dict) else None
    return value if is_hash(value) else None


def similar_jobs(
    reference: dict[str, Any],
    candidates: Iterable[dict[str, Any]],
    max_distance: int = NEAR_DUPLICATE_DISTANCE,
) -> list[Match]:
    """The candidates within `max_distance` bits of `reference`'s hash, closest first (then newest);
    the reference itself, repeats and jobs without a hash are left out."""
    target = perceptual_hash(reference)
    if target is None:
        raise NoHash(
            f"job {reference.get('jobId')} has no perceptual hash (its metadata step has not succeeded)"
        )
    seen = {reference.get("jobId")}
    matches = []
    for job in candidates:
        job_hash = perceptual_hash(job)
        if job_hash is None or job.get("jobId") in seen:
            continue
        seen.add(job.get("jobId"))
        distance = hamming_distance(target, job_hash)
        if distance <= max_distance:
            matches.append(Match(job, distance))
    matches.sort(key=lambda match: str(match.job.get("createdAt", "")), reverse=True)
    return sorted(matches, key=lambda match: match.distance)  # stable: newest first within a distance


def find_similar(
    jobs: ReadsJobs,
    job_id: str,
    max_distance: int = NEAR_DUPLICATE_DISTANCE,
    scan_per_status: int = SCAN_PER_STATUS,
) -> list[Match]:
    """`similar_jobs` of `job_id` among the newest `scan_per_status` jobs of each status."""
    reference = jobs.get(job_id)
    if reference is None:
        raise NoHash(f"no job {job_id}")
    candidates = jobs.by_statuses(JobStatus, limit=scan_per_status)
    return similar_jobs(reference, candidates, max_distance)


def matches_table(job_id: str, matches: list[Match], max_distance: int = NEAR_DUPLICATE_DISTANCE) -> Table:
    title = f"Jobs similar to {job_id} (hashes at most {max_distance} of {HASH_BITS} bits apart)"
    table = Table(title=render.literal(title))
    for column in ("job", "distance", "file", "status", "created"):
        table.add_column(column, overflow="fold")
    for match in matches:
        job = match.job
        table.add_row(
            render.literal(job["jobId"]),
            render.literal(match.distance),
            render.literal(str(job.get("source", {}).get("key", "")).split("/", 1)[-1]),
            render.status_text(str(job.get("status", ""))),
            render.literal(job.get("createdAt", "")),
        )
    return table


def print_similar(jobs: ReadsJobs, job_id: str, limit: int, as_json: bool) -> None:
    """The `jobs --similar` command's output: at most `limit` matches, as a table or JSON."""
    try:
        matches = find_similar(jobs, job_id)[:limit]
    except NoHash as error:
        raise typer.BadParameter(str(error)) from None
    if as_json:
        render.print_json([{**match.job, "distance": match.distance} for match in matches])
    else:
        render.console.print(matches_table(job_id, matches))
