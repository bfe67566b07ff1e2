"""docs/api.md's upload-and-wait examples, run as written against the local stack: the curl script and the
Python one print the job's labels and thumbnail URLs; the curl script with a 30 MB file stops with S3's
EntityTooLarge and no job appears."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api.md"


def example(kind: str) -> str:
    match = re.search(rf"<!-- example: {kind} -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S)
    assert match, f"docs/api.md has no {kind} example"
    return match.group(1)


def run(stack: LocalStack, command: list[str], script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIXELPIPE_TARGET": str(stack.target_path)}
    return subprocess.run(
        [*command, script, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )


def printed_urls_serve_jpegs(output: str) -> int:
    urls = re.findall(r"^thumbnail \d+: (\S+)$", output, re.M)
    for url in urls:
        response = requests.get(url, timeout=30)
        assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff"
    return len(urls)


def test_the_curl_example_uploads_waits_and_prints_labels_and_thumbnail_urls(stack: LocalStack):
    result = run(stack, ["bash", "-c"], example("curl"), "upload.sh", "samples/cat.png")
    assert result.returncode == 0, result.stderr
    assert " COMPLETE" in result.stdout and re.search(r"^label: .+%$", result.stdout, re.M), result.stdout
    assert printed_urls_serve_jpegs(result.stdout) == 3


def test_the_curl_example_with_a_30_mb_file_gets_s3s_size_error_and_no_job(stack: LocalStack, tmp_path: Path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (30 * 1024 * 1024))
    before = len(JobsClient(stack.target).list(limit=1000))
    result = run(stack, ["bash", "-c"], example("curl"), "upload.sh", str(big))
    assert result.returncode == 22 and "<Code>EntityTooLarge</Code>" in result.stdout, result
    assert len(JobsClient(stack.target).list(limit=1000)) == before


def test_the_python_example_uploads_waits_and_prints_labels_and_thumbnail_urls(stack: LocalStack):
    result = run(stack, [sys.executable, "-c"], example("python"), "samples/coffee.png")
    assert result.returncode == 0, result.stderr
    assert " COMPLETE" in result.stdout and "label: espresso" in result.stdout, result.stdout
    assert printed_urls_serve_jpegs(result.stdout) == 3
