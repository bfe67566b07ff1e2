"""Imports point one way: the operator CLI may use the emulator, the emulator never the CLI, and the
Lambdas' package neither (it is what runs on AWS). The web console reads through the CLI's modules only
(never the emulator directly), and in the CLI only its front door, main.py, starts the console."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "pixelpipe": REPO_ROOT / "lambdas" / "pixelpipe",
    "pixelpipe_emulator": REPO_ROOT / "cli" / "pixelpipe_emulator",
    "pixelpipe_cli": REPO_ROOT / "cli" / "pixelpipe_cli",
    "pixelpipe_console": REPO_ROOT / "cli" / "pixelpipe_console",
}
FORBIDDEN = {
    "pixelpipe": {"pixelpipe_emulator", "pixelpipe_cli", "pixelpipe_console"},
    "pixelpipe_emulator": {"pixelpipe_cli", "pixelpipe_console"},
    "pixelpipe_cli": {"pixelpipe_console"},  # except main.py, below
    "pixelpipe_console": {"pixelpipe_emulator"},
}
ALLOWED = {REPO_ROOT / "cli" / "pixelpipe_cli" / "main.py": {"pixelpipe_console"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A module path as a lone string (`python -m package.module`, a subprocess) is an import
            # too; prose (docstrings) has spaces and is not one.
            head = node.value.split(".")[0]
            if head in PACKAGES and " " not in node.value:
                names.add(head)
    return names


def test_each_package_sees_the_others_only_as_allowed() -> None:
    checked = 0
    for package, directory in PACKAGES.items():
        for path in sorted(directory.rglob("*.py")):
            wrong = imported_packages(path) & FORBIDDEN[package] - ALLOWED.get(path, set())
            assert not wrong, f"{path.relative_to(REPO_ROOT)} imports {sorted(wrong)}"
            checked += 1
    assert checked > 30


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from pixelpipe_cli.target import Target\n", {"pixelpipe_cli"}),
        ("import pixelpipe_cli.render as r\n", {"pixelpipe_cli"}),
        ('COMMAND = ["python", "-m", "pixelpipe_cli.main"]\n', {"pixelpipe_cli"}),
        ("from .target import Target\n", set()),
    ],
)
def test_the_check_sees_every_way_of_importing(tmp_path: Path, source: str, expected: set[str]) -> None:
    module = tmp_path / "module.py"
    module.write_text(source)
    assert imported_packages(module) == expected
