"""The local stack's processes come from the process starter (pixelpipe_emulator.process_starter): each
fork must behave as `python -m MODULE` started with exactly the environment it was given would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixelpipe_emulator import process_starter

TESTS_DIR = Path(__file__).resolve().parents[1]


def probe(tmp_path: Path, *arguments: str, **environment: str) -> process_starter.StartedProcess:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(TESTS_DIR), **environment}
    return process_starter.start("support.starter_probe", list(arguments), env, tmp_path / "probe.log")


def test_a_fork_sees_only_its_environment_its_arguments_and_the_callers_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = probe(tmp_path, "0", PROBE="given")
    assert started.wait(timeout=30) == 0
    first, second = (tmp_path / "probe.log").read_text().splitlines()[:2]
    assert json.loads(first) == {"argv": ["0"], "cwd": str(tmp_path), "probe": "given", "home": False}
    assert second == "to stderr"  # stdout and stderr both reach the log


@pytest.mark.parametrize("code", [0, 3, 124])
def test_the_exit_status_is_the_modules(tmp_path, code):
    assert probe(tmp_path, str(code)).wait(timeout=30) == code


def test_a_killed_fork_reports_the_signal_as_popen_does_and_poll_follows_it(tmp_path):
    started = probe(tmp_path, "0", "60")
    assert started.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        started.wait(timeout=0.2)
    os.kill(started.pid, signal.SIGKILL)
    assert started.wait(timeout=30) == -signal.SIGKILL
    assert started.returncode == -signal.SIGKILL
    started.terminate()  # an ended process is never signalled again (its pid may be reused)


def test_when_the_process_that_started_stacks_dies_its_forks_end_too(tmp_path):
    # GIVEN a process that started a long-running fork through its own starter, then was SIGKILLed
    script = (
        "import sys, time; from pathlib import Path; from pixelpipe_emulator import process_starter as s;"
        f"p = s.start('support.starter_probe', ['0', '600'], {{'PYTHONPATH': {str(TESTS_DIR)!r}}},"
        f" Path({str(tmp_path / 'orphan.log')!r})); print(p.pid, flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    fork = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    # THEN the fork is gone soon after (its starter saw the pipe close and ended it)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{fork}").exists() and "zombie" not in _state(fork):
        assert time.monotonic() < deadline, "the fork outlived the process that started it"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"
