"""The results of steps without a dedicated view, as `pixelpipe job` and the console show them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelpipe_cli import render
from pixelpipe_cli.step_results import MAX_ROWS, StepResult, flatten, other_results
from support import added_worker
from support.stacks import use_changed_config


def test_flatten_gives_dotted_paths_one_row_per_flat_list_item_and_a_dash_for_empty():
    value = {
        "exif": {},
        "hasGps": False,
        "size": {"w": 3},
        "colours": [{"hex": "#aabbcc", "share": 0.5}],
        "n": None,
    }
    assert flatten(value) == [
        ("exif", "—"),
        ("hasGps", "false"),
        ("size.w", "3"),
        ("colours[0]", "hex: #aabbcc, share: 0.5"),
        ("n", "null"),
    ]


@pytest.fixture
def with_added_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_changed_config(tmp_path, monkeypatch, added_worker.add_to)


def test_a_worker_added_to_the_config_has_its_result_shown_and_dedicated_fields_are_not(with_added_worker):
    job = {
        "jobId": "j",
        "thumbnails": [{"size": 256}],
        "labels": [{"name": "cat", "confidence": 90.0}],
        added_worker.RESULT_FIELD: {"sha256": "<b>ab</b>", "bytes": 5},
    }
    assert other_results(job) == [
        StepResult(added_worker.STEP, added_worker.RESULT_FIELD, [("sha256", "<b>ab</b>"), ("bytes", "5")])
    ]
    assert other_results({"jobId": "j"}) == []  # nothing recorded yet: nothing shown


def test_a_runaway_result_is_cut(with_added_worker):
    job = {added_worker.RESULT_FIELD: {f"k{i}": i for i in range(100)}}
    [result] = other_results(job)
    assert len(result.rows) == MAX_ROWS and result.rows[-1] == ("…", f"{100 - MAX_ROWS + 1} more values")


def test_the_job_panel_prints_the_added_steps_result_as_literal_text(with_added_worker):
    job = {
        "jobId": "j",
        "status": "COMPLETE",
        "source": {"bucket": "b", "key": "k", "size": 1},
        "createdAt": "2026-12-01T00:00:00.000Z",
        added_worker.RESULT_FIELD: {"sha256": "[red]x[/red]"},
    }
    with render.console.capture() as captured:
        for part in render.job_panel(job):
            render.console.print(part)
    assert f"{added_worker.STEP} ({added_worker.RESULT_FIELD})" in captured.get()
    assert "[red]x[/red]" in captured.get()  # markup in a value is shown, not applied
