"""Without chromium the console's browser tests say so in one line with the fix: a skip on a developer's
machine, a failure under CI=true (where .ci/run installs it, so a missing browser is a broken setup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ONE_LINE = "no chromium at {path} (apt-get install chromium; .ci/run does)"


def run_browser_tests(missing: Path, ci: str) -> subprocess.CompletedProcess:
    """One browser test module in a pytest of its own, with chromium looked for at `missing`."""
    env = {**os.environ, "PIXELPIPE_CHROMIUM": str(missing), "CI": ci}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/browser/test_cross_site_pages.py",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("ci", "outcome"), [("", "skipped"), ("true", "error")])
def test_a_missing_chromium_is_one_line_with_the_fix(tmp_path: Path, ci: str, outcome: str):
    missing = tmp_path / "no-such-chromium"
    run = run_browser_tests(missing, ci)

    assert ONE_LINE.format(path=missing) in run.stdout, run.stdout[-3000:]
    assert outcome in run.stdout.splitlines()[-1], run.stdout[-3000:]
    assert (run.returncode == 0) == (outcome == "skipped"), run.stdout[-3000:]
    # the line, not a traceback: no stack was started and playwright was never imported
    assert "Traceback" not in run.stdout and "playwright" not in run.stdout.lower()
