"""checkov finds no failed check in terraform/, and the state machine's ASL passes statelint.

Both tools live in .venv-checkov (checkov's pins conflict with moto's), created by `make checkov`'s
stamp rule; `make test` depends on it, and this module creates it through make when it is missing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tf_model import REPO_ROOT

from pixelpipe.config import settings
from pixelpipe_emulator.provision import state_machine_definition

TOOLS_BIN = REPO_ROOT / ".venv-checkov" / "bin"


@pytest.fixture(scope="module")
def tools_bin() -> Path:
    if not (TOOLS_BIN / "checkov").is_file() or not (TOOLS_BIN / "statelint").is_file():
        subprocess.run(["make", ".venv-checkov/.installed"], cwd=REPO_ROOT, check=True)
    return TOOLS_BIN


@pytest.fixture(scope="module")
def checkov_report(tools_bin: Path) -> dict:
    completed = subprocess.run(
        [
            str(tools_bin / "checkov"),
            "-d",
            "terraform",
            "--compact",
            "--quiet",
            "--skip-download",
            "-o",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(completed.stdout)
    reports = report if isinstance(report, list) else [report]
    (terraform,) = [r for r in reports if r.get("check_type") == "terraform"]
    return terraform


def test_checkov_finds_no_failed_check_in_terraform(checkov_report: dict):
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in checkov_report.get("results", {}).get("failed_checks", [])
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100  # it really scanned the modules


def test_every_checkov_skip_carries_its_reason_inline():
    for path in sorted((REPO_ROOT / "terraform").rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert check.startswith("CKV"), f"{path}:{number}"
                assert len(reason.strip()) >= 30, f"{path}:{number}: a skip needs its reason"


def rendered_asl() -> str:
    """The ASL with its templatefile variables filled in, exactly as the local stack deploys it."""
    return state_machine_definition(settings().table.name)


def statelint(tools_bin: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(tools_bin / "statelint"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_reconcile_state_machine_passes_statelint(tools_bin: Path, tmp_path: Path):
    path = tmp_path / "reconcile.asl.json"
    path.write_text(rendered_asl())
    result = statelint(tools_bin, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_statelint_rejects_a_transition_to_a_missing_state(tools_bin: Path, tmp_path: Path):
    definition = json.loads(rendered_asl())
    first = definition["StartAt"]
    definition["States"][first].pop("Default", None)
    definition["States"][first]["Default"] = "No such state"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(definition))
    result = statelint(tools_bin, path)
    assert result.returncode != 0
    assert "No such state" in result.stdout
