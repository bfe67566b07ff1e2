"""Imports point one way: the operator CLI may use the emulator, the emulator never the CLI, and the
Lambdas' package neither (it is what runs on AWS). The web console reads through the CLI's modules only
(never the emulator directly), and the CLI never imports the console, not even lazily: the console adds
its commands through the `pixelpipe.cli` entry point (pixelpipe_cli.extensions). No exceptions."""

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
    "pixelpipe_cli": {"pixelpipe_console"},
    "pixelpipe_console": {"pixelpipe_emulator"},
}


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
            wrong = imported_packages(path) & FORBIDDEN[package]
            assert not wrong, f"{path.relative_to(REPO_ROOT)} imports {sorted(wrong)}"
            checked += 1
    assert checked > 30


def package_imports() -> dict[str, set[str]]:
    """Which of the project's packages each package imports anywhere (a lazy import counts too)."""
    return {
        package: {
            other
            for path in directory.rglob("*.py")
            for other in imported_packages(path) & set(PACKAGES)
            if other != package
        }
        for package, directory in PACKAGES.items()
    }


def test_the_packages_import_each_other_without_a_loop() -> None:
    graph = package_imports()
    # Kahn's algorithm: a package whose imports are all placed can be placed; a loop never empties.
    placed: list[str] = []
    while len(placed) < len(graph):
        ready = sorted(p for p, uses in graph.items() if p not in placed and uses <= set(placed))
        assert ready, f"import loop among {sorted(set(graph) - set(placed))}: {graph}"
        placed += ready
    assert placed[0] == "pixelpipe" and placed[-1] == "pixelpipe_console", placed


def test_the_console_joins_the_cli_through_its_entry_point() -> None:
    """The CLI finds the console's commands by the `pixelpipe.cli` entry point, not by an import."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points."pixelpipe.cli"]' in text
    assert 'console = "pixelpipe_console.commands:register"' in text


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
