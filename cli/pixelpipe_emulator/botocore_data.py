"""botocore's data files (service models, endpoint rules, endpoints.json), each parsed once per process.

Every botocore session has a loader of its own, and its cache lives in that loader: each new session, and
moto's request handling, parsed the same JSON files again. Profiled with py-spy while a stack started, a
third of the emulator's and the hosts' CPU was `json.loads` of those files (endpoints.json alone is over
a megabyte). They are package data that never change while a process runs, so the parsed document is
kept by path and shared by every loader; the process starter parses the stack's services once, before
it forks, so its forks start with them in memory.

A shared document is read by every loader that asks for it. botocore's only write to one is merging a
service's "extras" into its model, the same extras each time, which its own per-loader cache already did
to the one copy it hands every client.
"""

from __future__ import annotations

from typing import Any

from botocore import loaders

# The services the pipeline's handlers, the emulator and the CLI call.
STACK_SERVICES = (
    "s3",
    "sqs",
    "sns",
    "dynamodb",
    "stepfunctions",
    "events",
    "xray",
    "cloudwatch",
    "logs",
    "lambda",
    "rekognition",
    "sts",
)

_parsed: dict[str, Any] = {}


def memoise() -> None:
    """Every JSONFileLoader in this process parses a file at most once (idempotent)."""
    if getattr(loaders.JSONFileLoader.load_file, "memoised", False):
        return
    original = loaders.JSONFileLoader.load_file

    def load_file(self: loaders.JSONFileLoader, file_path: str) -> Any:
        if file_path not in _parsed:
            _parsed[file_path] = original(self, file_path)
        return _parsed[file_path]

    load_file.memoised = True  # type: ignore[attr-defined]
    loaders.JSONFileLoader.load_file = load_file


def warm(services: tuple[str, ...] = STACK_SERVICES) -> None:
    """Parse what making a client of each service reads, so that a fork of this process need not."""
    import botocore.session

    memoise()
    session = botocore.session.get_session()
    for service in services:
        session.create_client(
            service, region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm"
        )
