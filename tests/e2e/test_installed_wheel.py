"""`pixelpipe demo` from a wheel installed outside the checkout: package data (pipeline.json, the ASL, the
offline model, the samples) must come from the installed packages, not from the repository.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info from this test)
and installed without its dependencies into a fresh venv in tmp_path; the third-party dependencies come
from this venv's site-packages through a .pth line (no network here). Directories named in a .pth are not
scanned for further .pth files, so this venv's editable install of the checkout is not picked up: the
test asserts that every Pixel-Pipe package is imported from the fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
# What pyproject.toml builds the wheel from; the links into the packages are copied as links.
SOURCES = ["pyproject.toml", "pipeline.json", "statemachine", "samples", "lambdas", "cli"]
PIP = [sys.executable, "-m", "pip", "--quiet"]
PACKAGES = ("pixelpipe", "pixelpipe_cli", "pixelpipe_emulator", "pixelpipe_console")
# The console's templates and vendored scripts are package data: served from the installed package.
CONSOLE_FROM_THE_WHEEL = """
from starlette.testclient import TestClient
from pixelpipe_console.app import create_app
def no_stack():
    raise SystemExit("no stack to talk to")
browser = TestClient(create_app(no_stack, port=8484), base_url="http://127.0.0.1:8484")
page, script = browser.get("/jobs"), browser.get("/static/vendor/htmx-2.0.11.min.js")
print(page.status_code, "no stack to talk to" in page.text, script.status_code, len(script.content) > 10000)
"""
WHERE_ARE_THE_PACKAGES = (
    "import importlib, json; "
    f"print(json.dumps([importlib.import_module(name).__file__ for name in {PACKAGES!r}]))"
)


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
            shutil.copytree(path, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            *PIP,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("pixelpipe-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    third_party = sysconfig.get_paths()["purelib"]
    (Path(site_packages) / "third_party_from_test_venv.pth").write_text(third_party + "\n")
    return venv


def test_the_installed_wheel_runs_the_demo_from_any_directory(tmp_path: Path) -> None:
    # GIVEN the wheel installed into a fresh venv outside the checkout, run from an unrelated directory
    venv = fresh_venv(tmp_path, build_wheel(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIXELPIPE_", "PYTHON"))}
    env.update(PIXELPIPE_HOME=str(tmp_path / "home"), COLUMNS="160")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", WHERE_ARE_THE_PACKAGES],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    for module_file in json.loads(where.stdout):
        assert Path(module_file).is_relative_to(venv), module_file
    # WHEN the user runs the demo there
    demo = subprocess.run(
        [str(venv / "bin" / "pixelpipe"), "demo", "--json", "--out", "thumbs"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    # THEN every bundled sample reached its end: the photos COMPLETE with labels, the bad file FAILED
    assert demo.returncode == 0, demo.stderr[-3000:]
    records = {Path(record["source"]["key"]).name: record for record in json.loads(demo.stdout)}
    assert sorted(records) == [
        "cat-sideways-exif.jpg",
        "cat.png",
        "coffee.png",
        "not-an-image.jpg",
        "rocket.jpg",
    ]
    assert records.pop("not-an-image.jpg")["status"] == "FAILED"
    for name, record in records.items():
        assert record["status"] == "COMPLETE", (name, record.get("failureReason"))
        assert record["labels"], name
    # AND the offline model's labels fit the cat (the model came from the installed package)
    assert any(word in records["cat.png"]["labels"][0]["name"].lower() for word in ("cat", "mau"))
    # AND the thumbnails were saved where the user asked: real images at the recorded sizes
    cat_id = records["cat.png"]["jobId"]
    saved = sorted((work / "thumbs").glob(f"{cat_id}-*"))
    assert len(saved) == len(records["cat.png"]["thumbnails"]) == 3
    sizes = sorted(Image.open(path).size for path in saved)
    assert sizes == sorted((t["width"], t["height"]) for t in records["cat.png"]["thumbnails"])
    # AND the console runs from the wheel: its pages render and its vendored htmx is served
    console = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CONSOLE_FROM_THE_WHEEL],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert console.stdout.split() == ["404", "True", "200", "True"], console.stderr[-3000:]
