"""`pixelpipe`: run the pipeline locally and operate it (locally or on AWS)."""

from __future__ import annotations

import contextlib
import signal
import socket
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixelpipe.logic.clock import format_iso
from pixelpipe.logic.lifecycle import TERMINAL
from pixelpipe_cli import (
    SAMPLES,
    cost,
    extensions,
    graph_svg,
    job_events,
    render,
    similar,
    trace_commands,
    workflow_sources,
)
from pixelpipe_cli import dlq as dead_letters
from pixelpipe_cli import retry as retries
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target, current_target, state_dir, target_file
from pixelpipe_emulator.stack import DEFAULT_PORT, LocalStack

app = typer.Typer(
    help="Pixel-Pipe: thumbnails, AI labels and an auditable job record for every uploaded image."
)

# The bundled samples: the repository's samples/ (linked into this package, copied into the wheel).
JsonFlag = Annotated[bool, typer.Option("--json", help="Print records as JSON.")]


def _wait_with_progress(client: JobsClient, job_ids: list[str], timeout: float, quiet: bool = False) -> dict:
    if quiet:
        return client.wait(job_ids, timeout=timeout)
    columns = (TextColumn("jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=render.console, transient=True) as progress:
        task = progress.add_task("jobs", total=len(job_ids))
        return client.wait(
            job_ids, timeout=timeout, on_progress=lambda done, _: progress.update(task, completed=done)
        )


ConsolePort = Annotated[
    int | None, typer.Option("--console-port", help="The web console's port on 127.0.0.1 (default: its own).")
]


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Emulator port on 127.0.0.1.")] = DEFAULT_PORT,
    console: Annotated[bool, typer.Option("--console", help="Also serve the web console.")] = False,
    console_port: ConsolePort = None,
) -> None:
    """Run the local stack in the foreground until Ctrl-C; other commands talk to it."""
    web = extensions.web_console()
    if console and web is None:
        raise _fail(RuntimeError("the web console is not installed (package pixelpipe_console)"))
    if not _port_free(port):
        raise _fail(
            RuntimeError(
                f"port {port} on 127.0.0.1 is in use (another `pixelpipe up`?): stop it, or choose "
                f"another with `pixelpipe up --port {port + 1}`"
            )
        )
    stack = LocalStack(state_dir(), port=port)
    with stack, contextlib.ExitStack() as extras:
        if console and web is not None:
            try:
                extras.enter_context(web.background(lambda: stack.target, console_port or web.default_port))
            except RuntimeError as error:  # the port is taken: say so, and stop the stack cleanly
                raise _fail(error) from None
        render.console.print(
            render.message(
                render.literal("Pixel-Pipe local stack up", style="green"),
                f" at {stack.endpoint} (moto server, no AWS)",
            )
        )
        render.console.print(render.message(f"target: {stack.target_path}   logs: {stack.logs}"))
        if stack.target.api_url:  # the front door (docs/api.md); the tokens are in target.json too
            tokens = stack.target.api_tokens
            render.console.print(render.message(f"front door: {stack.target.api_url}   (docs/api.md)"))
            render.console.print(
                render.message(f"  upload token: {tokens['upload']}   operator token: {tokens['operator']}")
            )
        render.console.print("Try: pixelpipe upload samples/cat.png --wait     (Ctrl-C to stop)")
        if web is not None:
            hint = "" if console else "   (start it with `pixelpipe console`, or `pixelpipe up --console`)"
            address = web.url(console_port or web.default_port)
            render.console.print(render.message(f"web console: {address}{hint}"))
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            time.sleep(0.5)
    render.console.print("stopped")


@app.command()
def upload(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every job is COMPLETE or FAILED.")] = False,
    timeout: float = 300,
    as_json: JsonFlag = False,
    through_api: Annotated[
        bool,
        typer.Option(
            "--api", help="Through the front door: a presigned form from the HTTP API (docs/api.md)."
        ),
    ] = False,
) -> None:
    """Upload images; prints their job ids."""
    if through_api:
        return _upload_through_api(paths, wait, timeout, as_json)
    client = JobsClient(current_target())
    job_ids = [client.upload(path) for path in paths]
    if not wait:
        return _print_job_ids(paths, job_ids, as_json)
    records = _wait_with_progress(client, job_ids, timeout, quiet=as_json)
    _print_records([r for r in records.values() if r], as_json)


def _print_job_ids(paths: list[Path], job_ids: list[str], as_json: bool) -> None:
    for path, job_id in zip(paths, job_ids, strict=True):
        print(job_id) if as_json else render.console.print(render.message(f"{job_id}  {path}"))


def _upload_through_api(paths: list[Path], wait: bool, timeout: float, as_json: bool) -> None:
    """`upload --api`: as an app uploads (pixelpipe_cli.api_client); S3's refusal is the error shown."""
    from pixelpipe_cli.api_client import ApiClient, ApiError

    try:
        client = ApiClient(current_target())
        job_ids = [client.upload(path) for path in paths]
        if not wait:
            return _print_job_ids(paths, job_ids, as_json)
        records = client.wait(job_ids, timeout)
    except ApiError as error:
        raise _fail(error) from None
    _print_records([r for r in records.values() if r], as_json)


@app.command()
def jobs(
    status: Annotated[str | None, typer.Option(help="PENDING, COMPLETE or FAILED.")] = None,
    limit: int = 50,
    as_json: JsonFlag = False,
    similar_to: similar.SimilarOption = None,
) -> None:
    """List jobs, newest first (or, with --similar, the near-duplicates of one, closest first)."""
    client = JobsClient(current_target())
    if similar_to is not None:
        return similar.print_similar(client.table, similar_to, limit, as_json)
    _print_records(client.list(status, limit), as_json)


@app.command()
def job(
    job_id: str,
    download: Annotated[Path | None, typer.Option(help="Save the thumbnails into this directory.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Show every recorded event.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show one job's record."""
    client = JobsClient(current_target())
    record = client.get(job_id)
    if record is None:
        raise typer.BadParameter(f"no job {job_id}")
    if as_json:
        render.print_json(record)
    else:
        for part in render.job_panel(record):
            render.console.print(part)
        if history:
            render.console.print(render.history_table(record))
            _print_executions(client.target, record)
    if download:
        for path in client.download_thumbnails(record, download):
            render.console.print(render.message(f"saved {path}")) if not as_json else None


def run_once(paths: list[Path], timeout: float, quiet: bool, download_to: Path | None = None) -> list[dict]:
    """A private local stack for one batch of files: upload, wait, return the final records
    (and save the thumbnails while the stack is still up)."""
    with tempfile.TemporaryDirectory(prefix="pixelpipe-") as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        job_ids = [client.upload(path) for path in paths]
        records = _wait_with_progress(client, job_ids, timeout, quiet=quiet)
        if download_to:
            for record in filter(None, records.values()):
                client.download_thumbnails(record, download_to)
        return [records[job_id] or {"jobId": job_id, "status": "MISSING"} for job_id in job_ids]


@app.command()
def process(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    timeout: float = 300,
    as_json: JsonFlag = False,
) -> None:
    """One shot: start a private local stack, process the files, print the final records."""
    records = run_once(paths, timeout, quiet=as_json)
    _print_records(records, as_json)
    if any(r.get("status") not in TERMINAL for r in records):
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to save the thumbnails.")] = Path("demo-output"),
    as_json: JsonFlag = False,
) -> None:
    """Process the bundled samples (one deliberately bad) and show the results."""
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    if not as_json:
        render.console.print(
            render.message(f"Processing {len(paths)} sample files on a private local stack (moto, no AWS)…")
        )
    records = run_once(paths, timeout=300, quiet=as_json, download_to=out)
    if as_json:
        render.print_json(records)
        return
    render.console.print(render.jobs_table(records, title="Pixel-Pipe demo"))
    render.console.print(render.message(f"Thumbnails saved in {out.resolve()}"))
    render.console.print(
        "Labels come from the offline EfficientNet-Lite0 ImageNet model (Rekognition on AWS)."
    )
    if any(r["status"] not in TERMINAL for r in records):
        raise typer.Exit(1)


def _print_executions(target: Target, record: dict) -> None:
    """The state machine events of each reconcile execution that recorded a step of the job."""
    found = workflow_sources.job_executions(target, record)
    for trace in found.traces:
        render.console.print(render.execution_events_table(trace))
    for message in found.messages:
        render.console.print(render.literal(message, style="yellow"), soft_wrap=True)


def _port_free(port: int) -> bool:
    """As the emulator will bind it (SO_REUSEADDR: a port in TIME_WAIT after a stop is free)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _fail(error: Exception) -> typer.Exit:
    render.error_console.print(render.literal(error, style="red"))
    return typer.Exit(1)


@app.command("graph")
def graph_command(
    job_id: Annotated[str | None, typer.Argument(help="Highlight this job's reconcile executions.")] = None,
    out: Annotated[Path, typer.Option("--out", help="The SVG file to write.")] = Path("reconcile.svg"),
) -> None:
    """Draw the reconcile state machine as an SVG; with JOB, the paths its executions took."""
    target = current_target() if job_id or target_file().is_file() else None
    try:
        machine, messages = workflow_sources.machine_graph(target, strict=job_id is not None)
    except (ClientError, BotoCoreError) as error:
        raise _fail(error) from None
    record, executions = None, None
    if job_id and target is not None:
        record = JobsClient(target).get(job_id)
        if record is None:
            raise typer.BadParameter(f"no job {job_id}")
        executions = workflow_sources.job_executions(target, record)
        messages += executions.messages
    svg = graph_svg.job_graph_svg(record, machine, executions)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg, encoding="utf-8")
    for message in messages:
        render.console.print(render.literal(message), soft_wrap=True)
    render.console.print(render.message(f"wrote {out}"))


def _since(value: str | None) -> str | None:
    """An ISO 8601 time (date alone, offset or Z allowed) in the job record's format, UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from error
    return format_iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@app.command()
def retry(
    job_id: Annotated[str | None, typer.Argument(help="The job to retry.")] = None,
    step: Annotated[
        list[str] | None,
        typer.Option("--step", help="Re-run this step (repeatable); default: the failed ones."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Also re-run a COMPLETE job.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every FAILED job.")] = False,
    since: Annotated[
        str | None, typer.Option(help="With --failed: only jobs created at or after this ISO time.")
    ] = None,
    limit: Annotated[int, typer.Option(help="With --failed: at most this many jobs.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the retried job ids as JSON.")] = False,
) -> None:
    """Re-run a job's failed steps (or --step ones): one message, only to those steps' workers."""
    if failed == (job_id is not None):
        raise typer.BadParameter("give either a JOB or --failed")
    if failed and (step or force):
        raise typer.BadParameter("--step and --force apply to one JOB, not to --failed")
    target = current_target()
    if job_id is not None:
        try:
            result = retries.retry_job(target, job_id, step, force)
        except retries.OperationError as error:
            raise _fail(error) from None
        if as_json:
            render.print_json([result.job_id])
        else:
            render.console.print(
                render.message(
                    f"{result.job_id}: re-running {', '.join(result.steps)} (was {result.previous_status}); "
                    f"SNS message {result.message_id}"
                )
            )
        return
    columns = (TextColumn("retrying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=render.error_console, transient=True, disable=as_json) as progress:
        task = progress.add_task("retry", total=None)
        outcome = retries.retry_failed(
            target,
            _since(since),
            limit,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        render.print_json([r.job_id for r in outcome.retried])
        return
    for result in outcome.retried:
        render.console.print(render.message(f"{result.job_id}: re-running {', '.join(result.steps)}"))
    for skipped_id, reason in outcome.skipped.items():
        render.console.print(render.literal(f"{skipped_id}: skipped: {reason}", style="yellow"))
    render.console.print(render.message(f"{len(outcome.retried)} retried, {len(outcome.skipped)} skipped"))


dlq_app = typer.Typer(
    help="The dead-letter queues (each worker's, and dispatch's failed S3 events): look, send messages back."
)
app.add_typer(dlq_app, name="dlq")
QueueOption = Annotated[
    str | None,
    typer.Option(
        "--queue",
        help="One queue: a worker's DLQ by its step (as pipeline.json names it) or queue name, or "
        "`dispatch` for the S3 events dispatch-tasks failed on.",
    ),
]


@dlq_app.command("list")
def dlq_list(
    queue: QueueOption = None,
    sample: Annotated[int, typer.Option(help="Peek at up to this many messages per DLQ (max 10).")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Messages per DLQ, with a sample (job id or upload, receive count); nothing is consumed."""
    try:
        summaries = dead_letters.dlq_list(current_target(), queue, sample)
    except retries.OperationError as error:
        raise _fail(error) from None
    if as_json:
        render.print_json([{**asdict(s), "approximate": s.approximate} for s in summaries])
    else:
        render.console.print(render.dlq_table(summaries))


@dlq_app.command("redrive")
def dlq_redrive(queue: QueueOption = None, as_json: JsonFlag = False) -> None:
    """Reopen the dead messages' steps on their FAILED jobs and move the messages back to the queue;
    re-deliver the S3 events dispatch-tasks failed on (it is idempotent: no job is duplicated)."""
    target = current_target()
    try:
        reports = dead_letters.dlq_redrive(target, queue)
    except retries.OperationError as error:
        raise _fail(error) from None
    if as_json:
        render.print_json([asdict(r) for r in reports])
    else:
        render.console.print(render.redrive_table(reports))
        if any(r.still_moving for r in reports):
            render.console.print("Move tasks still running; `aws sqs list-message-move-tasks` follows them.")
    if any(r.not_moved or r.gave_up for r in reports):
        raise typer.Exit(1)


def _print_records(records: list[dict], as_json: bool) -> None:
    if as_json:
        render.print_json(records)
    else:
        render.console.print(render.jobs_table(records))


trace_commands.register(app)
cost.register(app)
job_events.register(app)
extensions.load(app)  # the web console's commands, when it is installed

if __name__ == "__main__":
    app()
