"""Dollars per 1,000 images from measured quantities: the pricing arithmetic of `pixelpipe cost`, no I/O.

`Usage` holds what one job was measured to use (cli/pixelpipe_cli/cost.py measures it on the local stack);
`Scenario` holds the knobs a what-if changes; `cost_lines` prices one against the other with the billing
granularity of each service (Lambda: 1 ms; Step Functions Express: 100 ms at 64 MB blocks; SQS and SNS:
one request per 64 KB; DynamoDB: 1 KB written, 4 KB read).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pixelpipe_cli.prices_us_east_1 import price

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
LAMBDA_FULL_VCPU_MB = 1769  # a function gets one full vCPU at 1,769 MB; less memory, a proportional share
LAMBDA_PLATFORM_LOG_BYTES = 300  # START, END and REPORT lines the Lambda service writes per invocation
EXPRESS_MEMORY_BLOCK_MB = 64
LOG_EVENT_OVERHEAD_BYTES = 26  # CloudWatch Logs bills each event's bytes plus 26 bytes of metadata


@dataclass(frozen=True)
class FunctionUsage:
    """One function's work per job: compute (scales with CPU share) and waiting on AWS calls (does not)."""

    memory_mb: int
    compute_ms: float
    waiting_ms: float
    invocations_per_job: float  # 1 for a per-event function, 1/batch for an SQS worker at full batches
    log_bytes_per_job: float = 0.0
    batch_size: int = 1  # records per invocation (SQS workers); the billed duration is per invocation
    from_queue: bool = False  # invoked by an SQS event source mapping (which receives and deletes)


@dataclass(frozen=True)
class Usage:
    """What one job uses on average, from measurement; counts are per job."""

    functions: Mapping[str, FunctionUsage]
    requests: Mapping[str, float]  # priced request counts: "s3_put", "s3_get", "sqs", "sns", "xray", ...
    sqs_message_bytes: float  # average size of a worker message (SQS bills per 64 KB chunk)
    sns_message_bytes: float
    sqs_messages: float  # messages through worker queues per job (each is sent, received, deleted)
    sns_publishes: float
    dynamodb_writes: float  # writes of the job record (direct and from the state machine)
    dynamodb_reads: float  # strongly consistent reads of the job record
    item_bytes: float  # the job record's size
    express_executions: float
    express_ms: list[float] = field(default_factory=list)  # duration of each execution of a job
    express_log_bytes_all: float = 0.0  # per job, logging level ALL with execution data
    express_log_bytes_error: float = 0.0  # per job, logging level ERROR
    labelled_images: float = 1.0  # DetectLabels calls per job
    traces: float = 1.0  # X-Ray traces recorded per job
    stored_bytes: float = 0.0  # source + thumbnails kept in S3 for a month


@dataclass(frozen=True)
class Scenario:
    name: str
    batch_sizes: Mapping[str, int] = field(default_factory=dict)  # worker function -> batch size
    memory_mb: Mapping[str, int] = field(default_factory=dict)  # function -> memory
    express_log_level: str = "ALL"  # ALL | ERROR | FATAL | OFF
    rekognition: bool = True


@dataclass(frozen=True)
class CostLine:
    service: str
    item: str
    quantity: float  # per 1,000 images
    unit: str
    usd: float  # per 1,000 images


def chunks_64kb(size_bytes: float) -> int:
    """SQS and SNS bill every started 64 KB of a payload as one request."""
    return max(1, math.ceil(size_bytes / (64 * KB)))


def lambda_gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """Lambda duration: rounded up to the next millisecond, times the configured memory."""
    return memory_mb / 1024 * math.ceil(duration_ms) / 1000


def express_gb_seconds(duration_ms: float, memory_mb: float = 50) -> float:
    """Express duration: rounded up to the next 100 ms, memory rounded up to whole 64 MB blocks."""
    billed_ms = math.ceil(duration_ms / 100) * 100
    billed_mb = math.ceil(memory_mb / EXPRESS_MEMORY_BLOCK_MB) * EXPRESS_MEMORY_BLOCK_MB
    return billed_mb / 1024 * billed_ms / 1000


def write_units(item_bytes: float) -> int:
    """DynamoDB write request units for one write of an item of this size (1 KB each, at least one)."""
    return max(1, math.ceil(item_bytes / KB))


def read_units(item_bytes: float, consistent: bool = True) -> float:
    units = max(1, math.ceil(item_bytes / (4 * KB)))
    return units if consistent else units / 2


def lambda_duration_ms(function: FunctionUsage, memory_mb: int) -> float:
    """Per job on Lambda: waiting is fixed, compute stretches when the function has under one vCPU.

    The local measurement runs on one full core of this machine, taken as one Lambda vCPU.
    """
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return function.waiting_ms + function.compute_ms / share


def cost_lines(usage: Usage, scenario: Scenario) -> list[CostLine]:
    """Every priced line per 1,000 images, most expensive first."""
    per = 1000
    lines: list[CostLine] = []

    def add(service: str, item: str, quantity_per_job: float, unit: str, unit_price: float) -> None:
        quantity = quantity_per_job * per
        lines.append(CostLine(service, item, quantity, unit, quantity * unit_price))

    for name, function in usage.functions.items():
        memory = scenario.memory_mb.get(name, function.memory_mb)
        batch = scenario.batch_sizes.get(name, function.batch_size)
        invocations = function.invocations_per_job * function.batch_size / batch
        per_invocation_ms = lambda_duration_ms(function, memory) / invocations
        gb_s = lambda_gb_seconds(memory, per_invocation_ms) * invocations
        add("Lambda", f"{name} duration ({memory} MB arm64)", gb_s, "GB-s", price("lambda_arm_gb_second"))
        add("Lambda", f"{name} invocations", invocations, "requests", price("lambda_request"))
        log_bytes = function.log_bytes_per_job + LAMBDA_PLATFORM_LOG_BYTES * invocations
        add("CloudWatch Logs", f"{name} logs", log_bytes / GB, "GB", price("logs_ingested_gb"))
        if function.from_queue:
            # The event source mapping receives a batch and deletes it in one call each.
            add("SQS", f"{name} receive + delete", 2 * invocations, "requests", price("sqs_request"))

    sqs_sends = usage.sqs_messages * chunks_64kb(usage.sqs_message_bytes)
    add("SQS", "worker messages sent (by SNS)", sqs_sends, "requests", price("sqs_request"))
    sns = usage.sns_publishes * chunks_64kb(usage.sns_message_bytes)
    add("SNS", "job messages published", sns, "requests", price("sns_publish"))
    add(
        "DynamoDB",
        "job record writes",
        usage.dynamodb_writes * write_units(usage.item_bytes),
        "WRU",
        price("dynamodb_write_unit"),
    )
    add(
        "DynamoDB",
        "job record reads",
        usage.dynamodb_reads * read_units(usage.item_bytes),
        "RRU",
        price("dynamodb_read_unit"),
    )
    add(
        "Step Functions",
        "Express executions",
        usage.express_executions,
        "requests",
        price("sfn_express_request"),
    )
    express_gb_s = sum(express_gb_seconds(ms) for ms in usage.express_ms)
    add("Step Functions", "Express duration", express_gb_s, "GB-s", price("sfn_express_gb_second"))
    express_logs = {"ALL": usage.express_log_bytes_all, "ERROR": usage.express_log_bytes_error}.get(
        scenario.express_log_level, 0.0
    )
    add(
        "CloudWatch Logs",
        f"Express execution logs (level {scenario.express_log_level})",
        express_logs / GB,
        "GB",
        price("logs_ingested_gb"),
    )
    for key, (service, item, unit) in _REQUEST_LINES.items():
        if usage.requests.get(key):
            add(service, item, usage.requests[key], unit, price(_REQUEST_PRICES[key]))
    add("S3", "storage, one month", usage.stored_bytes / GB, "GB-month", price("s3_storage_gb_month"))
    if scenario.rekognition:
        add(
            "Rekognition", "DetectLabels", usage.labelled_images, "images", price("rekognition_detect_labels")
        )
    add("X-Ray", "traces recorded", usage.traces, "traces", price("xray_trace_recorded"))
    return sorted(lines, key=lambda line: line.usd, reverse=True)


_REQUEST_LINES = {
    "s3_put": ("S3", "PUT requests (thumbnails)", "requests"),
    "s3_get": ("S3", "GET and HEAD requests", "requests"),
    "metrics_put": ("CloudWatch", "PutMetricData (state machine)", "requests"),
}
_REQUEST_PRICES = {"s3_put": "s3_put", "s3_get": "s3_get", "metrics_put": "metrics_put_request"}


def total(lines: list[CostLine]) -> float:
    return sum(line.usd for line in lines)


def what_ifs(usage: Usage, base: Scenario) -> list[Scenario]:
    """The scenarios `pixelpipe cost` compares with the configured pipeline."""
    workers = [n for n, f in usage.functions.items() if f.from_queue]
    scenarios = [
        replace(base, name="batch size 1", batch_sizes=dict.fromkeys(workers, 1)),
        replace(base, name="batch size 10", batch_sizes=dict.fromkeys(workers, 10)),
        replace(base, name="workers at 512 MB", memory_mb=dict.fromkeys(workers, 512)),
        replace(base, name="workers at 1769 MB (1 vCPU)", memory_mb=dict.fromkeys(workers, 1769)),
        replace(base, name="Express logging ERROR", express_log_level="ERROR"),
        replace(base, name="Express logging OFF", express_log_level="OFF"),
        replace(base, name="Rekognition off (offline model in the Lambda)", rekognition=False),
    ]
    return scenarios
