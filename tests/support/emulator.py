"""The local stack's emulator process (`python -m pixelpipe_emulator.emulator`), started the way the stack
starts it, for tests that need its patches: atomic DynamoDB writes, bounded execution memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from pixelpipe.config import settings

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Emulator:
    endpoint: str
    process: subprocess.Popen
    log: Path

    def client(self, service: str, **config: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if config:
            from botocore.config import Config

            kwargs["config"] = Config(**config)
        return boto3.client(
            service,
            region_name=settings().region,
            endpoint_url=self.endpoint,
            **DUMMY_CREDENTIALS,
            **kwargs,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def emulator_process(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[Emulator]:
    """An emulator on a free loopback port with ASL execution switched on, stopped on exit."""
    port = free_loopback_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = log_dir / f"emulator-{port}.log"
    # As LocalStack._start_emulator: the interpreter calls DynamoDB at localhost:$MOTO_PORT.
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pixelpipe_emulator.emulator", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_PORT": str(port), **(env or {})},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited: {log.read_text()[-2000:]}")
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not answer on {endpoint} within 30 s") from None
                time.sleep(0.1)
        requests.post(
            f"{endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()
        yield Emulator(endpoint, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
