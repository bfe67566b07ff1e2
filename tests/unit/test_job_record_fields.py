"""docs/job-record.md, the record's public contract, documents every worker pipeline.json lists: its step
among the expected steps and its result field as a row of the field table (fails for an undocumented one)."""

from __future__ import annotations

import re
from pathlib import Path

from pixelpipe.config import settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "job-record.md"


def field_rows() -> dict[str, str]:
    """The field table's rows by field name (the first cell, in backticks)."""
    return dict(re.findall(r"^\| `([^`]+)` \| (.*)$", DOC.read_text(), flags=re.MULTILINE))


def test_every_workers_result_field_has_a_row():
    rows = field_rows()
    missing = [w.result_field for w in settings().workers.values() if w.result_field not in rows]
    assert not missing, f"docs/job-record.md has no row for {missing}"


def test_the_expected_steps_row_names_every_step_in_config_order():
    named = re.findall(r"`([^`]+)`", field_rows()["expectedSteps"])
    assert named == list(settings().workers), named
