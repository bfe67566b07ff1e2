"""`pixelpipe up` as a user runs it: a foreground stack that other commands find, stopped cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pixelpipe_emulator.stack import free_port
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e

PIXELPIPE = [sys.executable, "-m", "pixelpipe_cli.main"]


def descendants_of(pid: int) -> list[int]:
    """Every process below `pid`: the stack's processes are forked by a server process of its own."""
    result = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    parents = dict(tuple(map(int, line.split())) for line in result.stdout.splitlines())
    found, frontier = [], [pid]
    while frontier:
        below = [child for parent in frontier for child, of in parents.items() if of == parent]
        found += below
        frontier = below
    return found


def test_up_serves_the_other_commands_and_the_console_and_stops_without_leaving_processes(
    tmp_path: Path,
) -> None:
    # GIVEN `pixelpipe up --console` running in the foreground with its state in a directory of its own
    env = {**os.environ, "PIXELPIPE_HOME": str(tmp_path / "home"), "COLUMNS": "160"}
    env.pop("PIXELPIPE_TARGET", None)
    console_port = free_port()
    console = f"http://127.0.0.1:{console_port}"
    command = [*PIXELPIPE, "up", "--port", str(free_port()), "--console", "--console-port", str(console_port)]
    up = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        target = tmp_path / "home" / "target.json"
        deadline = time.monotonic() + 60
        while not target.exists() or len(descendants_of(up.pid)) < 6:
            assert up.poll() is None, up.stdout.read().decode()
            assert time.monotonic() < deadline, "pixelpipe up did not start"
            time.sleep(0.2)
        hosts = descendants_of(up.pid)
        # WHEN another command uploads through it and waits
        upload = subprocess.run(
            [*PIXELPIPE, "upload", str(SAMPLES / "cat.png"), "--wait", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # THEN the job is COMPLETE
        assert upload.returncode == 0, upload.stderr
        (record,) = json.loads(upload.stdout)
        assert record["status"] == "COMPLETE"
        # AND the web console it started lists the job
        page = requests.get(f"{console}/jobs", timeout=30)
        assert page.status_code == 200 and f'data-job-id="{record["jobId"]}"' in page.text
    finally:
        # AND Ctrl-C stops the stack: the emulator and every function host exit, the target file goes
        up.send_signal(signal.SIGINT)
        output = up.communicate(timeout=60)[0].decode()
    assert up.returncode == 0, output
    assert "stopped" in output
    assert f"web console: {console}/" in output
    assert not target.exists()
    for pid in hosts:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
