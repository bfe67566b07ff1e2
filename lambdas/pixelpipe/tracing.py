"""Everything the code knows about tracing, in one module, so moving from the X-Ray SDK to
OpenTelemetry (the SDK reaches end of support on 2027-02-25) changes only this file.

Powertools Tracer is active inside Lambda (and in the local stack, which plays Lambda) and a no-op
elsewhere, e.g. in unit tests. Only the AWS SDK is traced: by default the Tracer patches every library
the X-Ray SDK knows (requests, sqlite3, httpx, ...), importing each at cold start although no handler
uses them; `trace_aws_sdk` patches botocore alone, when the first client is made (pixelpipe.aws_clients).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Tracer

tracer = Tracer(auto_patch=False)

_TRACE_ENV = "_X_AMZN_TRACE_ID"


def _header_fields() -> dict[str, str]:
    header = os.environ.get(_TRACE_ENV, "")
    return dict(part.split("=", 1) for part in header.split(";") if "=" in part)


def current_trace_id() -> str | None:
    """The X-Ray trace id of the running invocation (`1-xxxxxxxx-…`), if traced."""
    return _header_fields().get("Root")


def current_trace_header() -> str | None:
    """A header to hand to the next hop (StartExecution's traceHeader) so it joins this trace."""
    fields = _header_fields()
    if "Root" not in fields:
        return None
    parts = [f"Root={fields['Root']}"]
    if "Parent" in fields:
        parts.append(f"Parent={fields['Parent']}")
    parts.append(f"Sampled={fields.get('Sampled', '1')}")
    return ";".join(parts)


def job_trace_header(aws_trace_header: str | None) -> str | None:
    """The header that puts a job's next hop (its reconcile run) into the JOB's trace: the Root and
    Sampled decision an SQS message carries as its AWSTraceHeader attribute. A batched invocation runs
    under a trace of its own (Lambda starts one per batch, linked to each message's trace), so the
    current header would put every job of the batch into one shared trace. Without the attribute, the
    current header."""
    fields = dict(part.split("=", 1) for part in (aws_trace_header or "").split(";") if "=" in part)
    if "Root" not in fields:
        return current_trace_header()
    return f"Root={fields['Root']};Sampled={fields.get('Sampled', '1')}"


def trace_aws_sdk() -> None:
    """Every AWS SDK call a subsegment from now on, for clients made before or after (X-Ray wraps
    botocore's client class). Idempotent; a no-op while tracing is off (outside Lambda, or the SDK
    disabled), so call it whenever a client is made rather than once."""
    tracer.patch(["boto3"])


def annotate(job_id: str, step: str | None = None) -> None:
    """Annotations are indexed by X-Ray: `annotation.jobId = "…"` finds a job's segments."""
    tracer.put_annotation("jobId", job_id)
    if step:
        tracer.put_annotation("step", step)


@contextmanager
def job_subsegment(
    name: str, job_id: str, step: str | None = None, sqs_sent_at: float | None = None
) -> Iterator[None]:
    """A subsegment for one job's share of an invocation (a batch can hold several jobs), found by
    its `jobId` annotation. `sqs_sent_at` (epoch seconds) is when SQS received the message: X-Ray has
    no queue segment on AWS, so the queue wait is this annotation to the invocation's start."""
    with tracer.provider.in_subsegment(name) as subsegment:
        subsegment.put_annotation("jobId", job_id)
        if step:
            subsegment.put_annotation("step", step)
        if sqs_sent_at is not None:
            subsegment.put_annotation("sqsSentAt", sqs_sent_at)
        yield


@contextmanager
def subsegment(name: str) -> Iterator[None]:
    with tracer.provider.in_subsegment(name):
        yield
