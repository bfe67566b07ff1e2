"""Without chromium the console's browser tests say so in one line with the fix: a skip on a developer's
machine, a failure under CI=true (where .ci/run installs it, so a missing browser is a broken setup).
Every browser fixture calls `need_chromium` before it starts a stack or imports Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.browser import need_chromium

ONE_LINE = "no chromium at {path} (apt-get install chromium; .ci/run does)"


def test_a_missing_chromium_skips_with_one_line_naming_the_fix(tmp_path: Path):
    missing = tmp_path / "no-such-chromium"
    with pytest.raises(pytest.skip.Exception) as skipped:
        need_chromium(str(missing), environ={})
    assert str(skipped.value) == ONE_LINE.format(path=missing)


def test_under_ci_a_missing_chromium_fails_with_the_same_line(tmp_path: Path):
    missing = tmp_path / "no-such-chromium"
    with pytest.raises(pytest.fail.Exception) as failed:
        need_chromium(str(missing), environ={"CI": "true"})
    assert str(failed.value) == f"browser tests must run under CI: {ONE_LINE.format(path=missing)}"


def test_an_installed_chromium_passes(tmp_path: Path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    need_chromium(str(browser), environ={"CI": "true"})  # no skip, no failure
