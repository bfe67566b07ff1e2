"""StatusCounts: one count shared by every page and live update, recounted only when the last count is
older than BUSY_FACTOR x its duration, recounted at once for another target, and never started twice at
the same time."""

from __future__ import annotations

import threading
import time

from pixelpipe_cli.target import Target
from pixelpipe_console.counts import StatusCounts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _target(table: str = "jobs") -> Target:
    return Target(
        "us-east-1", "u", "uploads/", "t", table, "idx", "topic", "machine", endpoint_url="http://x"
    )


def test_counts_are_reused_until_older_than_five_times_a_count() -> None:
    # GIVEN a count that takes 2 s and reports how often it ran
    clock, calls = Clock(), []

    def count(target: Target) -> dict[str, int]:
        calls.append(target.jobs_table)
        clock.now += 2.0
        return {"PENDING": len(calls), "COMPLETE": 0, "FAILED": 0}

    counts = StatusCounts(count, clock)
    # WHEN asked now, 9 s later and 10.5 s later
    first, first_age = counts.get(_target())
    clock.now += 9.0
    second, second_age = counts.get(_target())
    clock.now += 1.5
    third, third_age = counts.get(_target())
    # THEN the second answer is the first count, 9 s old; the third is a recount (over 5 x 2 s)
    assert (first, first_age) == ({"PENDING": 1, "COMPLETE": 0, "FAILED": 0}, 0.0)
    assert (second["PENDING"], second_age) == (1, 9.0)
    assert (third["PENDING"], third_age) == (2, 0.0)
    assert calls == ["jobs", "jobs"]


def test_a_fast_count_is_never_served_stale_and_another_target_is_counted_afresh() -> None:
    clock, calls = Clock(), []

    def count(target: Target) -> dict[str, int]:
        calls.append(target.jobs_table)
        clock.now += 0.01
        return {"PENDING": 0, "COMPLETE": len(calls), "FAILED": 0}

    counts = StatusCounts(count, clock)
    counts.get(_target())
    clock.now += 0.1  # past 5 x 10 ms
    assert counts.get(_target())[0]["COMPLETE"] == 2
    assert counts.get(_target("other"))[0]["COMPLETE"] == 3  # a fresh target, however fresh the counts
    assert calls == ["jobs", "jobs", "other"]


def test_callers_arriving_during_a_count_wait_for_it_instead_of_counting_again() -> None:
    # GIVEN a slow count (real time) and eight pages asking at once
    started, calls = threading.Event(), []

    def count(target: Target) -> dict[str, int]:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return {"PENDING": 1, "COMPLETE": 2, "FAILED": 3}

    counts = StatusCounts(count)
    answers: list[dict[str, int]] = []
    first = threading.Thread(target=lambda: answers.append(counts.get(_target())[0]))
    first.start()
    started.wait(5)
    others = [threading.Thread(target=lambda: answers.append(counts.get(_target())[0])) for _ in range(7)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
    # THEN one count ran and all eight got its answer
    assert len(calls) == 1
    assert answers == [{"PENDING": 1, "COMPLETE": 2, "FAILED": 3}] * 8
