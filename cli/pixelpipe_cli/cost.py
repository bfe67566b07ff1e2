"""`pixelpipe cost`: dollars per 1,000 images, priced from what finished jobs on the local stack really did.

Each COMPLETE job's waterfall (traces.job_trace: the local stack records every hop and every AWS call a
handler makes) gives the functions' durations, split into compute and waiting on AWS — of a worker
invocation the job shared with its batch, only the job's own subsegment; the calls by service and
operation; the queue deliveries and the reconcile executions with their states. The job record gives
message, item and object sizes, and each execution's history the bytes that logging level ALL writes to
CloudWatch Logs.
cost_model.py prices the averages with prices_us_east_1.py.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pixelpipe.config import settings, workers
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.lifecycle import JobStatus
from pixelpipe_cli import SAMPLES, render
from pixelpipe_cli.asl_model import load_definition
from pixelpipe_cli.cost_model import (
    LOG_EVENT_OVERHEAD_BYTES,
    FunctionUsage,
    Scenario,
    Usage,
    cost_lines,
    total,
    what_ifs,
)
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.prices_us_east_1 import AS_OF, PRICES, REGION
from pixelpipe_cli.target import Target, current_target, state_dir
from pixelpipe_cli.traces import job_trace

_ERROR_EVENTS = ("Failed", "TimedOut", "Aborted")


def _asl_resources() -> dict[str, str]:
    """State name → Task resource ARN of the reconcile state machine."""
    definition = load_definition()
    return {name: state.get("Resource", "") for name, state in definition["States"].items()}


def _function_specs() -> dict[str, dict[str, Any]]:
    """Function name → {memory_mb, batch_size, from_queue}, from pipeline.json."""
    return {
        name: {
            "memory_mb": f.memory_mb,
            "batch_size": f.source.batch_size if f.source.type == "worker" else 1,
            "from_queue": f.source.type == "worker",
        }
        for name, f in settings().functions.items()
    }


@dataclass
class Executions:
    """A job's reconcile executions as the state machine's own history tells them (more complete than the
    trace, whose execution segments are written after each execution ends)."""

    durations_ms: list[float] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)  # Task resource ARN -> states entered
    log_all: int = 0  # bytes written at logging level ALL (every event with its data)
    log_error: int = 0  # bytes written at logging level ERROR


class JobMeasure:
    """The quantities of one job, read from its trace, record and reconcile executions."""

    def __init__(
        self,
        spans: list[dict[str, Any]],
        job: dict[str, Any],
        resources: dict[str, str],
        executions: Executions | None = None,
    ) -> None:
        self.function_ms: Counter[str] = Counter()
        self.waiting_ms: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.express_ms: list[float] = []
        self.states: Counter[str] = Counter()
        self.queue_deliveries = 0
        self.steps: list[str] = job.get("expectedSteps", [])
        hop, hop_kind, hop_shared = "", "", False
        for span in spans:
            if span["depth"] == 0:
                hop, hop_kind, hop_shared = span["name"], span["kind"], span.get("shared", False)
                if hop_kind == "function":
                    # A batched invocation the job shared: the job's time is its own subsegment, below.
                    self.function_ms[hop] += 0 if hop_shared else span["durationMs"]
                    self.invocations[hop] += 1
                elif hop_kind == "state machine":
                    self.express_ms.append(span["durationMs"])
                elif hop_kind == "queue wait":
                    self.queue_deliveries += 1
            elif hop_shared and span["depth"] == 1 and hop_kind == "function":
                self.function_ms[hop] += span["durationMs"]  # this job's share of the shared invocation
            elif span["kind"] == "aws" and hop_kind == "function":
                self.calls[span["name"].lower()] += 1
                self.waiting_ms[hop] += span["durationMs"]
            elif span["kind"] == "state" and hop_kind == "state machine":
                self.states[resources.get(span["name"], "")] += 1
        message = JobMessage(
            job["jobId"],
            job["source"]["bucket"],
            job["source"]["key"],
            job["source"].get("versionId"),
            job.get("expectedSteps", []),
        )
        # SNS and SQS count message attributes (name, type, value) towards the billed size.
        self.message_bytes = len(message.to_json()) + len(
            "steps" + "String.Array" + json.dumps(message.steps)
        )
        self.message_bytes += len("jobId" + "String" + message.job_id)
        self.item_bytes = len(json.dumps(job, default=str))  # close to DynamoDB's attribute-name+value size
        thumbnails = {t["key"]: t["bytes"] for t in job.get("thumbnails", [])}
        self.stored_bytes = int(job["source"].get("size", 0)) + sum(thumbnails.values())
        if executions is not None:
            self.express_ms, self.states = executions.durations_ms, executions.states
        self.log_all, self.log_error = (executions.log_all, executions.log_error) if executions else (0, 0)


def measure_job(target: Target, job: dict[str, Any], resources: dict[str, str]) -> JobMeasure:
    spans = job_trace(target, job)["spans"]
    executions = _executions(target, job.get("executions", []), resources) if target.is_local else None
    return JobMeasure(spans, job, resources, executions)


def _executions(target: Target, arns: list[str], resources: dict[str, str]) -> Executions:
    """Durations, Task states entered and log bytes of the job's executions, from the emulator's history."""
    sfn = target.client("stepfunctions")
    found = Executions()
    for arn in arns:
        described = sfn.describe_execution(executionArn=arn)
        if described.get("stopDate"):
            found.durations_ms.append((described["stopDate"] - described["startDate"]).total_seconds() * 1000)
        for event in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
            size = len(json.dumps({**event, "execution_arn": arn}, default=str)) + LOG_EVENT_OVERHEAD_BYTES
            found.log_all += size
            found.log_error += size if event["type"].endswith(_ERROR_EVENTS) else 0
            entered = event.get("stateEnteredEventDetails", {}).get("name")
            if entered and resources.get(entered):
                found.states[resources[entered]] += 1
    return found


def _count(calls: Counter[str], *names: str) -> int:
    return sum(n for call, n in calls.items() if call in names)


def usage_of(measures: list[JobMeasure], log_bytes: dict[str, int] | None = None) -> Usage:
    """Average the jobs into the usage of one job, as AWS would bill it with the configured batch sizes."""
    jobs = len(measures)
    specs = _function_specs()

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    functions = {}
    for name, spec in specs.items():
        invocations = mean([m.invocations[name] for m in measures])
        if settings().functions[name].source.type == "schedule" or not invocations:
            continue  # a scheduled function (the sweeper) runs whatever the number of images
        compute = mean([max(0.0, m.function_ms[name] - m.waiting_ms[name]) for m in measures])
        functions[name] = FunctionUsage(
            memory_mb=spec["memory_mb"],
            compute_ms=compute,
            waiting_ms=mean([m.waiting_ms[name] for m in measures]),
            invocations_per_job=invocations / spec["batch_size"],
            log_bytes_per_job=(log_bytes or {}).get(name, 0) / max(1, jobs),
            batch_size=spec["batch_size"],
            from_queue=spec["from_queue"],
        )
    calls: Counter[str] = sum((m.calls for m in measures), Counter())
    states: Counter[str] = sum((m.states for m in measures), Counter())
    worker_invocations = sum(f.invocations_per_job for f in functions.values() if f.from_queue)
    return Usage(
        functions=functions,
        requests={
            # +1 PUT: the upload itself is billed to the bucket owner.
            "s3_put": _count(calls, "s3 putobject", "s3 copyobject") / jobs + 1,
            "s3_get": _count(calls, "s3 getobject", "s3 headobject") / jobs,
            "metrics_put": sum(n for r, n in states.items() if r.endswith("putMetricData")) / jobs,
        },
        sqs_message_bytes=mean([m.message_bytes for m in measures]),
        sns_message_bytes=mean([m.message_bytes for m in measures]),
        sqs_messages=mean([m.queue_deliveries for m in measures]),
        sns_publishes=_count(calls, "sns publish") / jobs,
        dynamodb_writes=(
            _count(calls, "dynamodb updateitem", "dynamodb putitem")
            + sum(n for r, n in states.items() if r.endswith("dynamodb:updateItem"))
        )
        / jobs,
        dynamodb_reads=(
            _count(calls, "dynamodb getitem", "dynamodb query")
            + sum(n for r, n in states.items() if r.endswith("dynamodb:getItem"))
        )
        / jobs,
        item_bytes=mean([m.item_bytes for m in measures]),
        express_executions=mean([len(m.express_ms) for m in measures]),
        express_ms=_per_job(measures),
        express_log_bytes_all=mean([m.log_all for m in measures]),
        express_log_bytes_error=mean([m.log_error for m in measures]),
        labelled_images=mean([1.0 if _label_step() in m.steps else 0.0 for m in measures]),
        traces=1 + worker_invocations,  # the job's trace, plus one per worker invocation (SQS → Lambda)
        stored_bytes=mean([m.stored_bytes for m in measures]),
    )


def _per_job(measures: list[JobMeasure]) -> list[float]:
    """Execution durations of an average job: every execution, weighted by 1/number of jobs."""
    durations = sorted(ms for m in measures for ms in m.express_ms)
    per_job = max(1, round(len(durations) / len(measures)))
    return [statistics.median(durations)] * per_job if durations else []


def _label_step() -> str:
    """The step whose result is labels: the one that calls Rekognition DetectLabels on AWS."""
    return next(step for step, worker in workers().items() if worker.result_field == "labels")


def measure_jobs(target: Target, limit: int, log_dir: Path | None) -> tuple[Usage, int]:
    client = JobsClient(target)
    jobs = client.table.by_status(JobStatus.COMPLETE, limit=limit)
    if not jobs:
        raise typer.BadParameter(
            f"no {JobStatus.COMPLETE} jobs to measure: process some images first, or use --measure"
        )
    resources = _asl_resources()
    measures = []
    for job in jobs:
        measure = measure_job(target, job, resources)
        if measure.function_ms:
            measures.append(measure)
    if not measures:
        raise typer.BadParameter("the COMPLETE jobs have no trace to measure (was tracing on?)")
    log_bytes = None
    if log_dir and log_dir.is_dir():
        total_jobs = len(client.list(limit=10_000))
        log_bytes = {
            p.stem: p.stat().st_size * len(measures) // max(1, total_jobs) for p in log_dir.glob("*.log")
        }
    return usage_of(measures, log_bytes), len(measures)


def measure_on_private_stack(paths: list[Path]) -> tuple[Usage, int]:
    """Process `paths` on a private local stack (as `pixelpipe demo` does) and measure the finished jobs."""
    from pixelpipe_emulator.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="pixelpipe-cost-") as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        ids = [client.upload(path) for path in paths]
        client.wait(ids, timeout=300)
        return measure_jobs(stack.target, len(paths), stack.logs)


def report(usage: Usage, jobs: int, images: int) -> dict[str, Any]:
    config_scenario = Scenario(name="configured pipeline")
    lines = cost_lines(usage, config_scenario)
    base = total(lines)
    return {
        "prices": f"list prices for {REGION} as of {AS_OF}",
        "jobsMeasured": jobs,
        "images": images,
        "usdPer1000Images": round(base, 4),
        "usdForImages": round(base * images / 1000, 4),
        "lines": [asdict(line) for line in lines],
        "whatIf": [
            {"scenario": s.name, "usdPer1000Images": round(total(cost_lines(usage, s)), 4)}
            for s in what_ifs(usage, config_scenario)
        ],
        "usage": {
            "functions": {name: asdict(f) for name, f in usage.functions.items()},
            **{k: v for k, v in asdict(usage).items() if k != "functions"},
        },
        "unverifiedPrices": sorted(name for name, p in PRICES.items() if not p.verified),
    }


def _lines_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"$ per 1,000 images ({result['prices']}; {result['jobsMeasured']} jobs measured)")
    for column, justify in (("service", "left"), ("item", "left"), ("quantity", "right"), ("unit", "left")):
        table.add_column(column, justify=justify)
    table.add_column("$", justify="right")
    table.add_column("share", justify="right")
    base = result["usdPer1000Images"] or 1.0
    for line in result["lines"]:
        table.add_row(
            line["service"],
            line["item"],
            f"{line['quantity']:,.4g}",
            line["unit"],
            f"{line['usd']:.5f}",
            f"{line['usd'] / base:.1%}",
        )
    table.add_row("total", "", "", "", f"{result['usdPer1000Images']:.4f}", "100%", style="bold")
    return table


def _what_if_table(result: dict[str, Any]) -> Table:
    table = Table(title="What if…")
    table.add_column("scenario")
    table.add_column("$ per 1,000 images", justify="right")
    table.add_column("change", justify="right")
    base = result["usdPer1000Images"] or 1.0
    for row in result["whatIf"]:
        table.add_row(
            row["scenario"], f"{row['usdPer1000Images']:.4f}", f"{row['usdPer1000Images'] / base - 1:+.1%}"
        )
    return table


def cost(
    images: Annotated[int, typer.Option(help="Also show the cost of this many images.")] = 1000,
    measure: Annotated[
        bool,
        typer.Option("--measure", help="Process the bundled samples on a private stack and measure them."),
    ] = False,
    limit: Annotated[int, typer.Option(help="How many recent COMPLETE jobs to average.")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dollars per 1,000 images at list prices, from measured jobs: what dominates, and what-ifs."""
    if measure:
        samples = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
        usage, jobs = measure_on_private_stack(samples)
    else:
        usage, jobs = measure_jobs(current_target(), limit, state_dir() / "logs")
    result = report(usage, jobs, images)
    if as_json:
        render.print_json(result)
        return
    render.console.print(_lines_table(result))
    render.console.print(_what_if_table(result))
    render.console.print(
        render.message(
            f"{images:,} images: ${result['usdForImages']:.4f}. Prices not re-checked on AWS's page: "
            + ", ".join(result["unverifiedPrices"])
        )
    )


def register(app: typer.Typer) -> None:
    app.command()(cost)
