"""The one-shot commands, through the CLI itself: a private stack per call, JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from pixelpipe_cli.main import app
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e


def test_process_prints_final_records_as_json_and_exits_0_when_all_are_terminal() -> None:
    # GIVEN a good photo and a bad file
    paths = [SAMPLES / "coffee.png", SAMPLES / "not-an-image.jpg"]
    # WHEN they are processed in one shot
    result = CliRunner().invoke(app, ["process", *map(str, paths), "--json"])
    # THEN the exit code is 0 and stdout is the JSON array of both final records, in upload order
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [(r["source"]["key"], r["status"]) for r in records] == [
        ("uploads/coffee.png", "COMPLETE"),
        ("uploads/not-an-image.jpg", "FAILED"),
    ]
    assert records[0]["labels"][0]["name"] == "espresso"
    assert "not an image" in records[1]["failureReason"]


def test_demo_saves_real_thumbnails_and_reports_every_sample(tmp_path: Path) -> None:
    # WHEN the demo runs
    result = CliRunner().invoke(app, ["demo", "--json", "--out", str(tmp_path)])
    # THEN every good sample is COMPLETE, the bad one FAILED with its reason, and thumbnails are on disk
    assert result.exit_code == 0, result.output
    by_file = {Path(r["source"]["key"]).name: r for r in json.loads(result.stdout)}
    assert by_file.pop("not-an-image.jpg")["failureReason"]
    assert all(r["status"] == "COMPLETE" and r["labels"] for r in by_file.values())
    saved = sorted(tmp_path.glob("*-256.jpg"))
    assert len(saved) == len(by_file)
    assert all(max(Image.open(path).size) == 256 for path in saved)
