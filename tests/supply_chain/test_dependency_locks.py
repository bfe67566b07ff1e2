"""The hashed locks in requirements/ match pyproject.toml's pins, and every install uses them.

`make lock` (uv) writes the locks; these tests catch a pin changed in pyproject.toml (or
requirements/checkov.in) without re-locking, an entry that lost its hash, and the Lambda zips and the
local stack drifting apart on a shared package (boto3, botocore, Pillow …).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "requirements"
LOCKS = {
    "lambda": REQUIREMENTS / "lambda.txt",
    "dev": REQUIREMENTS / "dev.txt",
    "checkov": REQUIREMENTS / "checkov.txt",
}
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


@dataclass(frozen=True)
class LockEntry:
    name: str
    version: str
    marker: str
    hashes: tuple[str, ...]
    text: str


def parse_lock(text: str) -> list[LockEntry]:
    """Requirement entries of a pip requirements file: the logical lines (joined on `\\`), comments out."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    if current:
        logical.append(current.strip())
    entries = []
    for line in logical:
        words = line.split()
        hashes = tuple(w.removeprefix("--hash=") for w in words if w.startswith("--hash="))
        spec = " ".join(w for w in words if not w.startswith("--hash="))
        requirement = Requirement(spec)
        pins = [s for s in requirement.specifier if s.operator == "=="]
        entries.append(
            LockEntry(
                name=canonicalize_name(requirement.name),
                version=pins[0].version if len(pins) == 1 and len(requirement.specifier) == 1 else "",
                marker=str(requirement.marker or ""),
                hashes=hashes,
                text=line,
            )
        )
    return entries


def direct_pins(requirements: list[str]) -> dict[str, str]:
    """name → version of every `name==version` (the project's own extras, `pixelpipe[...]`, left out)."""
    pins = {}
    for spec in requirements:
        requirement = Requirement(spec)
        if canonicalize_name(requirement.name) == "pixelpipe":
            continue
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"{spec}: pyproject.toml pins exactly"
        pins[canonicalize_name(requirement.name)] = pin.version
    return pins


def lock_versions(lock: Path) -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for entry in parse_lock(lock.read_text()):
        versions.setdefault(entry.name, set()).add(entry.version)
    return versions


def out_of_sync(pins: dict[str, str], lock: Path) -> list[str]:
    locked = lock_versions(lock)
    return [
        f"{name}=={version} is locked as {sorted(locked.get(name, {'nothing'}))}"
        for name, version in sorted(pins.items())
        if locked.get(name) != {version}
    ]


def test_every_lock_entry_is_an_exact_pin_with_a_sha256_hash():
    for lock in LOCKS.values():
        entries = parse_lock(lock.read_text())
        assert len(entries) > 5, lock
        unhashed = [e.text for e in entries if not e.hashes]
        unpinned = [e.text for e in entries if not e.version]
        bad_hashes = [h for e in entries for h in e.hashes if not re.fullmatch(r"sha256:[0-9a-f]{64}", h)]
        assert (unhashed, unpinned, bad_hashes) == ([], [], []), lock.name


def test_the_lambda_lock_holds_the_runtime_pins_of_pyproject():
    pins = direct_pins(PYPROJECT["project"]["dependencies"])
    assert {"boto3", "pillow", "aws-lambda-powertools"} <= set(pins)
    assert out_of_sync(pins, LOCKS["lambda"]) == []


def test_the_lambda_lock_has_no_local_or_dev_packages():
    locked = set(lock_versions(LOCKS["lambda"]))
    extras = PYPROJECT["project"]["optional-dependencies"]
    local_only = {name for extra in extras.values() for name in direct_pins(extra)}
    assert locked & local_only == set()


def test_the_dev_lock_holds_every_pin_of_pyproject_runtime_and_extras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    pins = direct_pins([*PYPROJECT["project"]["dependencies"], *(s for e in extras.values() for s in e)])
    assert {"moto", "pytest", "pip-audit", "zizmor", "uv", "setuptools"} <= set(pins)
    assert out_of_sync(pins, LOCKS["dev"]) == []


def test_the_local_stack_runs_the_versions_the_lambda_zips_ship():
    lambda_versions = lock_versions(LOCKS["lambda"])
    dev_versions = lock_versions(LOCKS["dev"])
    differing = {
        name: (lambda_versions[name], dev_versions.get(name))
        for name in lambda_versions
        if dev_versions.get(name) != lambda_versions[name]
    }
    assert differing == {}


def test_the_checkov_lock_holds_the_pins_of_checkov_in():
    specs = [
        line.strip()
        for line in (REQUIREMENTS / "checkov.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = direct_pins(specs)
    assert set(pins) == {"checkov", "statelint"}
    assert out_of_sync(pins, LOCKS["checkov"]) == []


def test_a_lock_out_of_step_with_a_pin_or_missing_a_hash_is_reported(tmp_path: Path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "boto3==1.0.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via pixelpipe\nnumpy==2.0.0\n"
    )
    assert out_of_sync({"boto3": "1.44.8"}, lock) == ["boto3==1.44.8 is locked as ['1.0.0']"]
    assert out_of_sync({"rich": "15.0.0"}, lock) == ["rich==15.0.0 is locked as ['nothing']"]
    assert [e.name for e in parse_lock(lock.read_text()) if not e.hashes] == ["numpy"]


def test_the_installed_venv_is_the_locked_one():
    """What .venv holds (it was installed from the dev lock) is what the lock says, for the direct pins."""
    from importlib.metadata import version

    extras = PYPROJECT["project"]["optional-dependencies"]
    pins = direct_pins([*PYPROJECT["project"]["dependencies"], *extras["local"], *extras["dev"]])
    assert {name: version(name) for name in pins} == pins


def test_make_setup_checkov_and_package_install_only_with_hashes():
    makefile = (REPO_ROOT / "Makefile").read_text()
    installs = [
        line.strip() for line in makefile.splitlines() if "pip install" in line and not line.startswith("#")
    ]
    assert installs, "the Makefile installs with pip"
    for line in installs:
        locked = "--require-hashes -r $(" in line
        the_project_alone = "--no-deps --no-build-isolation -e ." in line
        assert locked or the_project_alone, line
    source = REPO_ROOT / "tools" / "package_lambdas.py"
    spec = importlib.util.spec_from_file_location("package_lambdas", source)
    package_lambdas = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("package_lambdas", package_lambdas)
    spec.loader.exec_module(package_lambdas)
    command = package_lambdas.pip_install_command(package_lambdas.LAMBDA_LOCK, Path("/tmp/deps"))
    assert "--require-hashes" in command and "--only-binary=:all:" in command
    assert command[command.index("--requirement") + 1] == str(LOCKS["lambda"])
    assert "aarch64" in " ".join(command)


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_locks_are_written_by_make_lock(lock: str):
    header = LOCKS[lock].read_text().splitlines()[:2]
    assert header == ["# This file was autogenerated by uv via the following command:", "#    make lock"]
