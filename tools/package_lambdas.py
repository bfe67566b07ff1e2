"""Build one reproducible deployment zip per Lambda function into build/lambda/<function>.zip.

Every function named in pipeline.json "functions" gets a zip with:
- the `pixelpipe` package from lambdas/ (without pixelpipe/models/: AWS labels with Rekognition),
- pipeline.json copied to pixelpipe/pipeline.json (where pixelpipe.config looks in a zip),
- the runtime dependencies from their hashed lock requirements/lambda.txt (resolved by `make lock` from
  pyproject's [project] dependencies for the Lambda runtime), installed once for python3.12 arm64 with
  `pip install --require-hashes` and shared by every zip: a wheel whose sha256 is not in the lock fails.

Same inputs → same bytes: entries sorted, fixed timestamps and permissions, no bytecode.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pixelpipe.config import PipelineConfig, parse_pipeline_config

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_LOCK = REPO_ROOT / "requirements" / "lambda.txt"
PACKAGE = "pixelpipe"
# What the Lambda runtime is (terraform/modules/lambda_function: python3.12, arm64, Amazon Linux 2023 with
# glibc 2.34). Pillow 13 ships only manylinux_2_28 wheels, so both manylinux tags are accepted.
PIP_PLATFORM = [
    "--platform",
    "manylinux2014_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
]
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16
MAX_ZIPPED_BYTES = 50 * 1024 * 1024  # Lambda's limit for a direct zip upload
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for the unzipped package
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
# In our own package only: the offline label model (AWS uses Rekognition) and any tests.
EXCLUDED_PACKAGE_DIRS = {"models", "tests"}


@dataclass(frozen=True)
class BuiltZip:
    function: str
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    sha256: str


def _shown(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def function_names(config: PipelineConfig) -> list[str]:
    """Every deployed function, from pipeline.json."""
    return sorted(config.functions)


def runtime_requirements(pyproject: Path) -> list[str]:
    """The direct runtime pins (what requirements/lambda.txt is resolved from)."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def pip_install_command(lock: Path, target: Path) -> list[str]:
    """pip installing exactly the lock's wheels for the Lambda runtime, each checked against its hash."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--upgrade",
        *PIP_PLATFORM,
        "--only-binary=:all:",
        "--require-hashes",
        "--target",
        str(target),
        "--requirement",
        str(lock),
    ]


def install_dependencies(lock: Path, cache_root: Path) -> Path:
    """pip-install the lock for the Lambda runtime once; reuse while the lock is unchanged."""
    key = hashlib.sha256("\n".join(PIP_PLATFORM).encode() + lock.read_bytes()).hexdigest()[:16]
    target = cache_root / f"deps-{key}"
    done = target / ".complete"
    if done.is_file():
        print(f"dependencies: reusing {_shown(target)}")
        return target
    print(f"dependencies: installing {_shown(lock)} (hashes required) for python3.12 arm64")
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(pip_install_command(lock, target), check=True)
    done.touch()
    return target


def _included(relative: Path, excluded_dirs: frozenset[str] = frozenset()) -> bool:
    directories = relative.parts[:-1]
    return not (
        "__pycache__" in directories
        or any(part in excluded_dirs for part in directories)
        or relative.suffix in EXCLUDED_SUFFIXES
        or relative.name == ".complete"
    )


def package_entries(source_root: Path, config_file: Path, deps_dir: Path | None) -> dict[str, Path]:
    """Archive name → file on disk, for one function's zip."""
    entries: dict[str, Path] = {}
    if deps_dir is not None:
        for path in deps_dir.rglob("*"):
            relative = path.relative_to(deps_dir)
            # bin/ holds console scripts with the build machine's interpreter path: useless on Lambda.
            if path.is_file() and _included(relative) and relative.parts[0] != "bin":
                entries[relative.as_posix()] = path
    package_dir = source_root / PACKAGE
    for path in package_dir.rglob("*"):
        relative = path.relative_to(source_root)
        if path.is_file() and _included(relative, frozenset(EXCLUDED_PACKAGE_DIRS)):
            entries[relative.as_posix()] = path
    entries[f"{PACKAGE}/{config_file.name}"] = config_file
    return entries


def write_zip(entries: dict[str, Path], destination: Path) -> None:
    """A zip whose bytes depend only on the entries' names and contents."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permissions above are honoured
            archive.writestr(info, entries[name].read_bytes(), compresslevel=9)
    temporary.replace(destination)


def describe(function: str, path: Path) -> BuiltZip:
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return BuiltZip(function, path, len(data), unzipped, hashlib.sha256(data).hexdigest())


def check_limits(built: Iterable[BuiltZip]) -> list[str]:
    problems = []
    for item in built:
        if item.zipped_bytes >= MAX_ZIPPED_BYTES:
            problems.append(f"{item.function}: {item.zipped_bytes} bytes zipped (limit {MAX_ZIPPED_BYTES})")
        if item.unzipped_bytes >= MAX_UNZIPPED_BYTES:
            problems.append(
                f"{item.function}: {item.unzipped_bytes} bytes unzipped (limit {MAX_UNZIPPED_BYTES})"
            )
    return problems


def build(
    output_dir: Path,
    config_file: Path = REPO_ROOT / "pipeline.json",
    source_root: Path = REPO_ROOT / "lambdas",
    deps_dir: Path | None = None,
) -> list[BuiltZip]:
    config = parse_pipeline_config(json.loads(config_file.read_text()), source=str(config_file))
    entries = package_entries(source_root, config_file, deps_dir)
    built = []
    for function in function_names(config):
        path = output_dir / f"{function}.zip"
        write_zip(entries, path)
        built.append(describe(function, path))
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "lambda")
    parser.add_argument("--no-deps", action="store_true", help="package only the code (quick check)")
    args = parser.parse_args(argv)

    deps_dir = None
    if not args.no_deps:
        deps_dir = install_dependencies(LAMBDA_LOCK, REPO_ROOT / "build" / "lambda-deps")
    built = build(args.output, deps_dir=deps_dir)
    for item in built:
        print(
            f"{_shown(item.path)}: "
            f"{item.zipped_bytes / 1e6:.1f} MB zipped, {item.unzipped_bytes / 1e6:.1f} MB unzipped, "
            f"sha256 {item.sha256}"
        )
    problems = check_limits(built)
    for problem in problems:
        print(f"over Lambda's limit: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
