"""AWS SDK clients that are made on their first use, then kept for the life of the execution environment.

STYLE.md asks for clients made once, outside the handler, so that warm invocations reuse them. Made at
import, every cold start would also pay for boto3's import (about 100 ms) and for loading each client's
service model (10-50 ms each) before the first event is even read, including clients that invocation
never uses: a worker's SQS client is only for retries, the sweeper's Step Functions client only for an
overdue job, the Rekognition client only on AWS. A `LazyClient` keeps the "once" and moves the making to
the first call, so an invocation pays only for the clients it calls.
"""

from __future__ import annotations

from typing import Any

from pixelpipe.tracing import trace_aws_sdk


class LazyClient:
    """Stands in for `boto3.client(service)`: the adapters call it as they would the client itself."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # on first use, see the module docstring

            trace_aws_sdk()  # before the first call goes out, so it is traced like every later one
            self._client = boto3.client(self.service)
        return self._client

    def __getattr__(self, name: str) -> Any:
        # Reached only for what the object itself lacks: the client's operations, `meta`, `exceptions`.
        if name.startswith("__") or name in ("service", "_client"):
            raise AttributeError(name)
        return getattr(self.client, name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, made={self._client is not None})"
