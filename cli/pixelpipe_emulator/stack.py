"""The local stack: moto in server mode on loopback, provisioned from pipeline.json, with one
Lambda-like host process per function delivering events to the real handlers.

The hosts are supervised: one that dies (a crash, a SIGKILL, an invocation past its timeout) is
started again, as Lambda starts a new execution environment; the messages it held return to their
queue after the visibility timeout. An optional fault plan (pixelpipe_emulator.faults) is handed to every
host, and each injected fault is logged to `faults.jsonl` in the stack's home.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import requests

import pixelpipe
from pixelpipe.adapters.jobs_table import JobsTable
from pixelpipe.config import settings
from pixelpipe_emulator import api_gateway, call_recorder, process_starter
from pixelpipe_emulator.faults import LOG_ENV, PLAN_ENV
from pixelpipe_emulator.provision import provision
from pixelpipe_emulator.target import LOCAL_CREDENTIALS, Target
from pixelpipe_emulator.xray_local import ExecutionTracer, XRayDaemon

DEFAULT_PORT = 5055
# Where the Lambda hosts' code is, as LAMBDA_TASK_ROOT is inside Lambda: the directory holding `pixelpipe`
# (lambdas/ in a checkout, site-packages when installed).
LAMBDA_TASK_ROOT = str(Path(pixelpipe.__file__).resolve().parents[1])
SUPERVISE_INTERVAL_SECONDS = 0.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def all_functions() -> list[str]:
    return list(settings().functions)


class LocalStack:
    def __init__(
        self,
        home: Path,
        port: int | None = None,
        functions: list[str] | None = None,
        tracing: bool = True,
        fault_plan: Path | None = None,
    ) -> None:
        self.tracing = tracing
        self.fault_plan = fault_plan
        self.faults_log = home / "faults.jsonl"
        self.restarts: dict[str, int] = {}
        self._hosts_lock = threading.Lock()
        self._supervising = threading.Event()
        self.home = home
        self.port = port or free_port()
        self.functions = functions if functions is not None else all_functions()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.target_path = home / "target.json"
        self.logs = home / "logs"
        self.calls_dir = self.logs / "aws-calls"
        self._server = None
        self._hosts: dict[str, process_starter.StartedProcess] = {}
        self._daemon: XRayDaemon | None = None
        self._execution_tracer: ExecutionTracer | None = None
        self.target: Target | None = None
        self.api_port: int | None = None

    def start(self) -> Target:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._server = self._start_emulator()
        requests.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()
        region = settings().region
        probe = Target(region, "", "", "", "", "", "", "", endpoint_url=self.endpoint)
        clients = {
            name: probe.client(name) for name in ("s3", "dynamodb", "sns", "sqs", "stepfunctions", "events")
        }
        self.target = provision(clients, self.endpoint)
        self._describe_api(self.target)
        self.target.save(self.target_path)
        if self.tracing:
            self._start_tracing()
        for function in self.functions:
            self.start_function(function)
        return self.target

    def _describe_api(self, target: Target) -> None:
        """The front door's URL and fresh bearer tokens, when the stack runs the api function."""
        if settings().api_function in self.functions:
            self.api_port = self.api_port or free_port()
            target.api_url = f"http://127.0.0.1:{self.api_port}"
            target.api_tokens = api_gateway.new_tokens()

    def _supervise(self) -> None:
        """Start again every host that exited on its own (stop_function removes a host first)."""
        while self._supervising.is_set():
            with self._hosts_lock:
                dead = [f for f, process in self._hosts.items() if process.poll() is not None]
                for function in dead:
                    code = self._hosts[function].returncode
                    self.restarts[function] = self.restarts.get(function, 0) + 1
                    with (self.logs / f"{function}.log").open("a") as log:
                        log.write(f"\n[stack] {function} exited with {code}; starting it again\n")
                    self._start_host(function)
            time.sleep(SUPERVISE_INTERVAL_SECONDS)

    @property
    def emulator_pid(self) -> int:
        assert self._server is not None, "the stack is not running"
        return self._server.pid

    def host_pid(self, function: str) -> int:
        with self._hosts_lock:
            return self._hosts[function].pid

    def _start_tracing(self) -> None:
        assert self.target is not None
        self._daemon = XRayDaemon(self.target.client("xray"))
        self._daemon.start()
        jobs = JobsTable(self.target.client("dynamodb"), self.target.jobs_table, self.target.status_index)
        self._execution_tracer = ExecutionTracer(
            self.target.client("stepfunctions"),
            self.target.client("xray"),
            jobs,
            self.target.state_machine_arn,
        )
        self._execution_tracer.start()

    def _start_emulator(self) -> process_starter.StartedProcess:
        """moto server in its own process, so every stack has its own state and its own GIL."""
        # moto's Step Functions interpreter calls DynamoDB at localhost:$MOTO_PORT: it must be this port.
        env = {**os.environ, "MOTO_PORT": str(self.port), **self._fault_environment()}
        server = process_starter.start(
            "pixelpipe_emulator.emulator",
            ["-H", "127.0.0.1", "-p", str(self.port)],
            env,
            self.logs / "emulator.log",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the emulator exited: {(self.logs / 'emulator.log').read_text()[-2000:]}")
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=1)
                return server
            except requests.ConnectionError:
                time.sleep(0.1)
        server.kill()
        raise RuntimeError(f"the emulator did not answer on {self.endpoint} within 30 s")

    def _fault_environment(self) -> dict[str, str]:
        if self.fault_plan is None:
            return {}
        return {PLAN_ENV: str(self.fault_plan), LOG_ENV: str(self.faults_log)}

    def start_function(self, function: str) -> None:
        with self._hosts_lock:
            self._start_host(function)

    def _start_host(self, function: str) -> None:
        env = {
            **os.environ,
            "PIXELPIPE_TARGET": str(self.target_path),
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            # Each host records its handler's AWS calls here (call_recorder.py; the least-privilege test).
            call_recorder.ENV_CALL_LOG: str(self.calls_dir),
        }
        env.update(self._fault_environment())
        if self._daemon is not None:
            # As inside Lambda: Powertools Tracer and the X-Ray SDK switch on, and send to the local daemon.
            env.update(LAMBDA_TASK_ROOT=LAMBDA_TASK_ROOT, AWS_XRAY_DAEMON_ADDRESS=self._daemon.address)
        module, arguments = "pixelpipe_emulator.lambda_host", ["--function", function]
        if function == settings().api_function:  # the HTTP API and its function, in one process
            module, arguments = "pixelpipe_emulator.api_gateway", ["--port", str(self.api_port)]
        self._hosts[function] = process_starter.start(module, arguments, env, self.logs / f"{function}.log")

    def stop_function(self, function: str) -> None:
        with self._hosts_lock:
            process = self._hosts.pop(function, None)
        if process:
            process.stop()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every host printed 'ready' (its handler imported); fails naming the one that died."""
        deadline = time.monotonic() + timeout
        pending = set(self._hosts)
        while pending and time.monotonic() < deadline:
            for function in list(pending):
                log = (self.logs / f"{function}.log").read_text(errors="replace")
                if f"{function} ready" in log:
                    pending.discard(function)
                elif self._hosts[function].poll() is not None:
                    raise RuntimeError(f"{function} exited during start-up:\n{log[-3000:]}")
            time.sleep(0.1)
        if pending:
            raise RuntimeError(f"functions not ready after {timeout} s: {sorted(pending)}")
        # Only hosts that started once are restarted: a host that cannot start fails the stack above.
        if not self._supervising.is_set():
            self._supervising.set()
            threading.Thread(target=self._supervise, name="host-supervisor", daemon=True).start()

    def stop(self) -> None:
        self._supervising.clear()
        for function in list(self._hosts):
            self.stop_function(function)
        for worker in (self._execution_tracer, self._daemon):
            if worker is not None:
                worker.stop()
        self._execution_tracer = self._daemon = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.target_path.exists():
            self.target_path.unlink()

    def __enter__(self) -> LocalStack:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
