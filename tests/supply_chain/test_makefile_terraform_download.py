"""The Makefile's terraform-binary rule checks the sdist's hash before any of its code runs.

`pip download` of an sdist prepares its metadata, which runs its setup.py; a sha256sum after the
download is too late. The rule's own pip command line (read from the Makefile) is run here against a
local sdist whose setup.py leaves a mark, with a hash that does not match: the mark must not appear.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PIP = Path(sys.executable).with_name("pip")


def terraform_rule() -> list[str]:
    """The recipe lines of `$(TERRAFORM): ...`, continuation lines joined."""
    text = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$(TERRAFORM):"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_the_rule_pins_the_sdist_by_hash_for_pip_itself():
    recipe = " ".join(terraform_rule())
    assert re.search(r"--hash=sha256:\$\(TERRAFORM_SDIST_SHA256\)", recipe)
    assert {"--require-hashes", "--no-build-isolation", "--no-deps"} <= set(recipe.split())


def test_a_tampered_sdist_never_runs_its_setup_py(tmp_path: Path):
    # GIVEN an sdist whose setup.py leaves a mark, and a requirement pinned to another hash
    mark = tmp_path / "setup_py_ran"
    source = tmp_path / "tampered-1.0"
    source.mkdir()
    (source / "setup.py").write_text(
        f"import pathlib\npathlib.Path({str(mark)!r}).write_text('ran')\n"
        "from setuptools import setup\nsetup(name='tampered', version='1.0')\n"
    )
    links = tmp_path / "links"
    links.mkdir()
    with tarfile.open(links / "tampered-1.0.tar.gz", "w:gz") as archive:
        archive.add(source, arcname="tampered-1.0")
    # WHEN the rule's own commands run up to its sha256sum line (make's variables filled in for the
    # tampered sdist and another hash; pip reads a local index only, no network)
    variables = {
        "$(TERRAFORM_SDIST)": "tampered==1.0",
        "$(TERRAFORM_SDIST_SHA256)": "0" * 64,
        "$(VENV)": str(tmp_path / "venv"),
        "$(BIN)": str(PIP.parent),
    }
    commands = []
    for line in terraform_rule():
        if "sha256sum" in line:
            break
        for name, value in variables.items():
            line = line.replace(name, value)
        commands.append(line)
    environment = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(links), "PIP_CONSTRAINT": ""}
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    # THEN pip refuses it, and its setup.py never ran
    assert completed.returncode != 0, completed.stdout
    assert "DO NOT MATCH THE HASHES" in completed.stderr
    assert not mark.exists()
