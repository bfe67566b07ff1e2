"""tools/package_lambdas.py builds one reproducible zip per function, without the offline model."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import zipfile
from pathlib import Path

from tf_model import REPO_ROOT

from pixelpipe.config import config_path, settings

_spec = importlib.util.spec_from_file_location("package_lambdas", REPO_ROOT / "tools" / "package_lambdas.py")
package_lambdas = importlib.util.module_from_spec(_spec)
sys.modules["package_lambdas"] = package_lambdas
_spec.loader.exec_module(package_lambdas)


def fake_dependencies(root: Path) -> Path:
    """A stand-in for the pip-installed dependencies (the real install needs PyPI; `make package` does it)."""
    deps = root / "deps"
    (deps / "boto3").mkdir(parents=True)
    (deps / "boto3" / "__init__.py").write_text("VERSION = 'fake'\n")
    (deps / "boto3" / "__pycache__").mkdir()
    (deps / "boto3" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
    (deps / "powertools" / "models").mkdir(parents=True)  # a dependency's own models/ package stays
    (deps / "powertools" / "models" / "__init__.py").write_text("")
    (deps / "bin").mkdir()
    (deps / "bin" / "script").write_text("#!/build/machine/python\n")
    return deps


def test_every_function_in_pipeline_json_gets_a_zip(tmp_path: Path):
    built = package_lambdas.build(tmp_path / "out", deps_dir=fake_dependencies(tmp_path))
    expected = set(settings().functions)
    assert {item.function for item in built} == expected
    assert {p.name for p in (tmp_path / "out").iterdir()} == {f"{name}.zip" for name in expected}


def test_the_zip_holds_the_package_and_config_but_not_the_offline_model_or_bytecode(tmp_path: Path):
    (built, *_) = package_lambdas.build(tmp_path / "out", deps_dir=fake_dependencies(tmp_path))
    with zipfile.ZipFile(built.path) as archive:
        names = set(archive.namelist())
        assert archive.read("pixelpipe/pipeline.json") == config_path().read_bytes()
        modes = {info.external_attr >> 16 for info in archive.infolist()}
        stamps = {info.date_time for info in archive.infolist()}
    assert "pixelpipe/config.py" in names and "pixelpipe/handlers/resize_worker.py" in names
    assert "boto3/__init__.py" in names and "powertools/models/__init__.py" in names
    assert not [n for n in names if n.startswith("pixelpipe/models/")]
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n or n.startswith("bin/")]
    assert modes == {0o644} and stamps == {(1980, 1, 1, 0, 0, 0)}


def test_building_twice_gives_the_same_bytes_whatever_the_file_times(tmp_path: Path):
    deps = fake_dependencies(tmp_path)
    sources = []
    for copy, mtime in (("a", 1_000_000_000), ("b", 1_700_000_000)):
        source_root = tmp_path / copy
        shutil.copytree(REPO_ROOT / "lambdas" / "pixelpipe", source_root / "pixelpipe")
        for path in source_root.rglob("*"):
            os.utime(path, (mtime, mtime))
        sources.append(source_root)
    first = package_lambdas.build(tmp_path / "one", source_root=sources[0], deps_dir=deps)
    second = package_lambdas.build(tmp_path / "two", source_root=sources[1], deps_dir=deps)
    assert [b.sha256 for b in first] == [b.sha256 for b in second]
    assert first[0].sha256 == hashlib.sha256(first[0].path.read_bytes()).hexdigest()


def test_sizes_over_lambdas_limits_are_reported():
    ok = package_lambdas.BuiltZip("small", Path("small.zip"), 10, 20, "x")
    big = package_lambdas.BuiltZip("big", Path("big.zip"), 60 * 1024 * 1024, 300 * 1024 * 1024, "x")
    assert package_lambdas.check_limits([ok]) == []
    problems = package_lambdas.check_limits([ok, big])
    assert len(problems) == 2 and all(p.startswith("big:") for p in problems)
