"""Settings for every test process, the main one and each pytest-xdist worker."""

from __future__ import annotations

import os

# An xdist worker starts with COLUMNS=80 in its environment, and rich reads COLUMNS once, when the CLI's
# shared console is made at import, pinning every table to 80 columns for the rest of the process. Tests
# choose their width per command (CliRunner's env), which rich reads at each print when nothing is pinned.
os.environ.pop("COLUMNS", None)


def pytest_collection_modifyitems(items: list) -> None:
    """Whole-stack tests first: they are the long ones, so the short unit tests fill the workers at the
    end instead of one worker finishing a fault-matrix stack alone (the order is otherwise kept)."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)
