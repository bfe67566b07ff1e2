"""Settings for every test process, the main one and each pytest-xdist worker."""

from __future__ import annotations

import gc
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from pixelpipe_emulator import botocore_data

# An xdist worker starts with COLUMNS=80 in its environment, and rich reads COLUMNS once, when the CLI's
# shared console is made at import, pinning every table to 80 columns for the rest of the process. Tests
# choose their width per command (CliRunner's env), which rich reads at each print when nothing is pinned.
os.environ.pop("COLUMNS", None)

# botocore's data files parsed once per test process, as in the local stack's processes (its mocks make
# a new session, so a new loader, per test).
botocore_data.memoise()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (moto, boto3, every module under test) stays out of the collector's
    generations: the suite's many full collections would otherwise walk it again each time."""
    gc.freeze()


# Seconds each test file took in a recent run of the whole suite. `make test` hands the files to its
# workers one at a time, longest first (--dist loadfile --no-loadscope-reorder), so the files left for
# the end are short ones and the workers finish together. Refresh it with `make test-durations`; a stale
# or missing figure only costs balance (a new file counts as short), never a test.
DURATIONS = Path(__file__).with_name("durations.json")
RECORD_DURATIONS_ENV = "PIXELPIPE_RECORD_TEST_DURATIONS"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    items.sort(key=lambda item: -seconds.get(item.location[0], 0.0))  # stable: files stay in one piece


class DurationRecorder:
    """Adds up setup, call and teardown per file (in the controller, from every worker's reports)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.location[0]] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        figures = {path: round(total, 1) for path, total in sorted(self.seconds.items())}
        DURATIONS.write_text(json.dumps(figures, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(RECORD_DURATIONS_ENV) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "pixelpipe-durations")
