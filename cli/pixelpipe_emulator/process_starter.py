"""Starts the local stack's processes (the emulator and one host per function) as forks of a parent that
has already imported the libraries they all load.

A host spent about a second of CPU importing boto3, Pillow, NumPy, pydantic and Powertools before its
handler could run, and the emulator two more importing moto; a stack starts seven such processes, the
test suite starts about 25 stacks, and a fault that kills a host starts one again. So each process that
starts stacks runs one *starter* (`python -m pixelpipe_emulator.process_starter`): it imports those
libraries once, then forks every process the stacks ask for, reaps them, and reports how each one exited.
A fork starts with the libraries in memory and imports only the rest.

Nothing else is shared. The starter imports only libraries that read no environment variable the stack
sets. Every module that does - the project's own packages (PIXELPIPE_CONFIG, the target file) and
`aws_xray_sdk.core` (which decides at import whether it runs inside Lambda) - is imported by the fork,
after its environment is set. Each fork is its own process with its own memory, as before. When the
process that started the stacks exits without stopping them, the starter sees its pipe close and ends
every process it forked, rather than leaving them running.

Protocol, one JSON object per line: the stack writes `{"module", "arguments", "environment", "log",
"directory"}` to the starter's stdin and reads `{"started": pid}`; the starter writes
`{"exited": pid, "code": n}` (n < 0: killed by signal -n, as Popen's returncode) when a fork ends.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import queue
import runpy
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from pixelpipe_emulator import botocore_data

# What the hosts and the emulator import before their own code; none of it reads an environment
# variable the stack sets (moto's settings module reads its own MOTO_* variables, which the stack never
# sets; MOTO_PORT is read at each use).
PRELOAD = [
    "boto3",
    "botocore.client",
    "botocore.session",
    "s3transfer.manager",
    "requests",
    "pydantic",
    "numpy",
    "PIL.Image",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "moto.server",
    "moto.backends",
    "moto.dynamodb.responses",
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.asl.parse.asl_parser",
]
START_TIMEOUT_SECONDS = 60
STOP_GRACE_SECONDS = 10  # what a fork gets between SIGTERM and SIGKILL when its starter ends


class StartedProcess:
    """The part of subprocess.Popen's interface the stack uses, for a process the starter forked."""

    def __init__(self, pid: int, starter: _Starter, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self._starter = starter

    @property
    def returncode(self) -> int | None:
        return self._starter.exit_code(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._starter.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:  # never a pid the system may have given to another process since
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def stop(self, grace_seconds: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not ended within the grace period (nothing if it has ended)."""
        self.terminate()
        try:
            self.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()


class _Starter:
    """This process's side of the starter: asks it for forks and keeps the exit codes it reports."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pixelpipe_emulator.process_starter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._requests = threading.Lock()
        self._started: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        threading.Thread(target=self._read_reports, name="process-starter", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        """Ends the starter and every fork still running, and waits for it: registered at exit, so the
        process that started stacks leaves no process of theirs behind when it ends."""
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=STOP_GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def start(self, module: str, arguments: list[str], environment: dict[str, str], log: Path) -> int:
        request = {
            "module": module,
            "arguments": arguments,
            "environment": environment,
            "log": str(log),
            "directory": os.getcwd(),
        }
        assert self._process.stdin is not None
        with self._requests:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            try:
                pid = self._started.get(timeout=START_TIMEOUT_SECONDS)
            except queue.Empty:
                raise RuntimeError(f"the process starter did not start {module} in time") from None
        if not pid:
            raise RuntimeError(f"the process starter exited ({self._process.wait()}); its errors are above")
        return pid

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            return self._exits.get(pid)

    def wait(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.get(pid)

    def _read_reports(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            report = json.loads(line)
            if "started" in report:
                self._started.put(report["started"])
            else:
                with self._changed:
                    self._exits[report["exited"]] = report["code"]
                    self._changed.notify_all()
        self._started.put(0)  # the starter is gone: a start waiting for it fails at once


_starter: _Starter | None = None
_starter_lock = threading.Lock()


def start(module: str, arguments: list[str], environment: dict[str, str], log: Path) -> StartedProcess:
    """`python -m MODULE ARGUMENTS` with exactly `environment`, stdout and stderr appended to `log`."""
    global _starter
    log.touch()  # the log exists once start returns, as it did when the stack opened it for Popen
    with _starter_lock:
        if _starter is None or not _starter.alive:
            _starter = _Starter()
            atexit.register(_starter.close)
        starter = _starter
    pid = starter.start(module, arguments, environment, log)
    return StartedProcess(pid, starter, [sys.executable, "-m", module, *arguments])


# --- the starter process ----------------------------------------------------------------------------


def _serve() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    botocore_data.warm()  # the service models every fork would otherwise parse again
    # What the starter holds is moved out of the collector's reach: otherwise every full collection in
    # every fork walks (and, counting references, copies) the whole preloaded heap.
    gc.freeze()
    # Ctrl-C in a terminal reaches the whole process group: the stack's processes handle it themselves,
    # and the starter must outlive them to report how they exited.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD writes to the wakeup fd
    reports = sys.stdout
    requests = sys.stdin.fileno()
    running: set[int] = set()
    pending = b""
    while True:
        readable = _select([requests, wake_read])
        if wake_read in readable:
            os.read(wake_read, 4096)
        _reap(running, reports)
        if requests in readable:
            chunk = os.read(requests, 65536)
            if not chunk:  # the process that started the stacks is done or gone: so are its stacks
                _end(running)
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = _fork(json.loads(line), closing=[requests, wake_read, wake_write])
                running.add(pid)
                _report(reports, {"started": pid})


def _end(running: set[int]) -> None:
    """SIGTERM every fork still running, SIGKILL what is left after the grace period, reap them all:
    when the starter exits, nothing it forked is left behind."""
    for pid in running:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while running and time.monotonic() < deadline:
        running -= {pid for pid in running if os.waitpid(pid, os.WNOHANG)[0]}
        time.sleep(0.05)
    for pid in running:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _select(fds: list[int]) -> list[int]:
    while True:
        try:
            return select.select(fds, [], [])[0]
        except InterruptedError:
            continue


def _reap(running: set[int], reports: IO[str]) -> None:
    for pid in list(running):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            running.discard(pid)
            _report(reports, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _report(reports: IO[str], report: dict[str, Any]) -> None:
    reports.write(json.dumps(report) + "\n")
    reports.flush()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _fork(request: dict[str, Any], closing: list[int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        code = _run(request, closing)
    except BaseException:  # whatever it is, it goes to the log, and the fork exits
        traceback.print_exc()
    finally:
        os._exit(code)


def _run(request: dict[str, Any], closing: list[int]) -> int:
    """In the fork: become `python -m MODULE ARGUMENTS`; its exit status, as the interpreter's would be."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the starter ignores it; a program does not
    os.environ.clear()
    os.environ.update(request["environment"])
    os.chdir(request["directory"])
    # What a new interpreter would add to its path from this environment (the starter's own was earlier).
    extra = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:0] = [entry for entry in extra if entry not in sys.path]
    output = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the starter's requests were on 0: the fork reads nothing of them
    os.dup2(output, 1)
    os.dup2(output, 2)
    for fd in {output, null, *closing} - {0, 1, 2}:
        os.close(fd)
    # As PYTHONUNBUFFERED does for a new interpreter: every write reaches the log at once.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  (the process's own stdin, for its lifetime)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stdout.reconfigure(write_through=True)
    sys.stderr.reconfigure(write_through=True)
    sys.argv = [request["module"], *request["arguments"]]
    _name_process(request["module"], request["arguments"])
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = _exit_status(exit_.code)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():  # as the interpreter waits for non-daemon threads at exit
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _name_process(module: str, arguments: list[str]) -> None:
    """`top` and `ps -o comm` show the function (or `emulator`), not the starter's command line (Linux)."""
    name = arguments[1] if arguments[:1] == ["--function"] else module.rpartition(".")[2]
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name[:15])


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _serve()
