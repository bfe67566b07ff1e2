"""Local stand-ins for the parts of X-Ray that AWS runs for you, so local traces are real traces.

- `XRayDaemon`: the daemon's UDP protocol on loopback (a JSON header line, then one segment
  document per datagram, as the X-Ray SDK sends them), forwarded to the emulator's PutTraceSegments.
- `ExecutionTracer`: Step Functions on AWS writes a segment per traced execution with a subsegment per
  state; moto does not, so this reads each finished execution's history and writes the same shape.
- Helpers the Lambda stand-in uses to write the segments the Lambda service writes on AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from datetime import datetime
from typing import Any

HEADER = b'{"format":"json","version":1}\n'
# X-Ray trace linking: a segment carries at most 20 links (and a trace at most 100).
MAX_LINKS_PER_SEGMENT = 20


def new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def new_segment_id() -> str:
    return os.urandom(8).hex()


def send_segment(address: tuple[str, int], document: dict[str, Any]) -> None:
    """Send one segment document to a daemon, exactly as the SDK's UDP emitter does."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(HEADER + json.dumps(document).encode(), address)


def daemon_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


class XRayDaemon:
    """Receives segments over UDP and forwards them in batches to the emulator's X-Ray API."""

    def __init__(self, xray_client: Any) -> None:
        self._xray = xray_client
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="xray-daemon", daemon=True)
        self.forwarded = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        pending: list[str] = []
        while self._running or pending:
            try:
                datagram, _ = self._sock.recvfrom(65536)
                _, _, body = datagram.partition(b"\n")
                if body:
                    pending.append(body.decode())
                if len(pending) < 50:
                    continue
            except (TimeoutError, OSError):
                if not self._running and not pending:
                    break
            if pending:
                self._flush(pending)
                pending = []

    def _flush(self, documents: list[str]) -> None:
        try:
            self._xray.put_trace_segments(TraceSegmentDocuments=documents)
            self.forwarded += len(documents)
        except Exception:  # a lost trace must never stop the pipeline
            pass


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


class ExecutionTracer:
    """Writes an X-Ray segment for every finished reconcile execution, under its job's trace."""

    def __init__(self, sfn: Any, xray: Any, jobs_table: Any, state_machine_arn: str) -> None:
        self._sfn, self._xray, self._jobs = sfn, xray, jobs_table
        self._arn = state_machine_arn
        self._seen: set[str] = set()
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="execution-tracer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while self._running:
            with contextlib.suppress(Exception):  # tracing must never stop the stack
                self.trace_finished_executions()
            time.sleep(0.5)

    def trace_finished_executions(self) -> int:
        """Newest first, page by page, stopping at a page with nothing new: the cost stays flat
        however many executions the stack has run. Calls per execution are kept to its history and its
        job record (the list entry and the history's first event say what DescribeExecution would),
        and a round's segments go out in one PutTraceSegments: the emulator answers all of these too."""
        documents = []
        for page in self._sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self._arn, PaginationConfig={"PageSize": 50}
        ):
            fresh = [e for e in page["executions"] if e["executionArn"] not in self._seen]
            if not fresh:
                break
            documents += [d for d in (self._trace(e) for e in fresh if e["status"] != "RUNNING") if d]
        for start in range(0, len(documents), 50):
            self._xray.put_trace_segments(TraceSegmentDocuments=documents[start : start + 50])
        return len(documents)

    def _trace(self, execution: dict[str, Any]) -> str | None:
        """The execution's segment document, or None when its job has no trace."""
        self._seen.add(execution["executionArn"])
        events = self._sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)[
            "events"
        ]
        started = next(
            (e["executionStartedEventDetails"] for e in events if "executionStartedEventDetails" in e), {}
        )
        job = self._jobs.get(json.loads(started.get("input") or "{}").get("jobId", ""))
        if not (job and job.get("traceId")):
            return None
        return json.dumps(self._segment(execution, events, job))

    def _segment(
        self, described: dict[str, Any], events: list[dict[str, Any]], job: dict[str, Any]
    ) -> dict[str, Any]:
        subsegments, entered = [], {}
        for event in events:
            if "stateEnteredEventDetails" in event:
                entered[event["stateEnteredEventDetails"]["name"]] = _epoch(event["timestamp"])
            elif "stateExitedEventDetails" in event:
                name = event["stateExitedEventDetails"]["name"]
                start = entered.pop(name, _epoch(event["timestamp"]))
                subsegments.append(
                    {
                        "id": new_segment_id(),
                        "name": name,
                        "start_time": start,
                        "end_time": _epoch(event["timestamp"]),
                    }
                )
        failed = described["status"] != "SUCCEEDED"
        return {
            "id": new_segment_id(),
            "trace_id": job["traceId"],
            "name": described["stateMachineArn"].rsplit(":", 1)[-1],
            "origin": "AWS::StepFunctions::StateMachine",
            "start_time": _epoch(described["startDate"]),
            "end_time": _epoch(described.get("stopDate") or described["startDate"]),
            "aws": {"execution_arn": described["executionArn"]},
            "annotations": {"jobId": job["jobId"]},
            "subsegments": subsegments,
            **({"fault": True} if failed else {}),
        }
