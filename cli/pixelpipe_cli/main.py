"""`pixelpipe`: run the pipeline locally and operate it (locally or on AWS)."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixelpipe_cli import render
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.stack import DEFAULT_PORT, LocalStack
from pixelpipe_cli.target import current_target, state_dir

app = typer.Typer(
    help="Pixel-Pipe: thumbnails, AI labels and an auditable job record for every uploaded image."
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
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


@app.command()
def up(port: Annotated[int, typer.Option(help="Emulator port on 127.0.0.1.")] = DEFAULT_PORT) -> None:
    """Run the local stack in the foreground until Ctrl-C; other commands talk to it."""
    stack = LocalStack(state_dir(), port=port)
    with stack:
        render.console.print(f"[green]Pixel-Pipe local stack up[/] at {stack.endpoint} (moto server, no AWS)")
        render.console.print(f"target: {stack.target_path}   logs: {stack.logs}")
        render.console.print("Try: pixelpipe upload samples/cat.png --wait     (Ctrl-C to stop)")
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
) -> None:
    """Upload images; prints their job ids."""
    client = JobsClient(current_target())
    job_ids = [client.upload(path) for path in paths]
    if not wait:
        for path, job_id in zip(paths, job_ids, strict=True):
            print(job_id) if as_json else render.console.print(f"{job_id}  {path}")
        return
    records = _wait_with_progress(client, job_ids, timeout, quiet=as_json)
    _print_records([r for r in records.values() if r], as_json)


@app.command()
def jobs(
    status: Annotated[str | None, typer.Option(help="PENDING, COMPLETE or FAILED.")] = None,
    limit: int = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    _print_records(JobsClient(current_target()).list(status, limit), as_json)


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
    if download:
        for path in client.download_thumbnails(record, download):
            render.console.print(f"saved {path}") if not as_json else None


def run_once(paths: list[Path], timeout: float, quiet: bool) -> list[dict]:
    """A private local stack for one batch of files: upload, wait, return the final records."""
    with tempfile.TemporaryDirectory(prefix="pixelpipe-") as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        job_ids = [client.upload(path) for path in paths]
        records = _wait_with_progress(client, job_ids, timeout, quiet=quiet)
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
    if any(r.get("status") not in ("COMPLETE", "FAILED") for r in records):
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to save the thumbnails.")] = Path("demo-output"),
) -> None:
    """Process the bundled samples (one deliberately bad) and show the results."""
    paths = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    render.console.print(f"Processing {len(paths)} sample files on a private local stack (moto, no AWS)…")
    with tempfile.TemporaryDirectory(prefix="pixelpipe-") as home, LocalStack(Path(home)) as stack:
        client = JobsClient(stack.target)
        job_ids = [client.upload(path) for path in paths]
        records = [r for r in _wait_with_progress(client, job_ids, 300).values() if r]
        for record in records:
            client.download_thumbnails(record, out)
    render.console.print(render.jobs_table(records, title="Pixel-Pipe demo"))
    render.console.print(f"Thumbnails saved in {out.resolve()}")
    render.console.print(
        "Labels come from the offline EfficientNet-Lite0 ImageNet model (Rekognition on AWS)."
    )
    if any(r["status"] not in ("COMPLETE", "FAILED") for r in records):
        raise typer.Exit(1)


def _print_records(records: list[dict], as_json: bool) -> None:
    if as_json:
        render.print_json(records)
    else:
        render.console.print(render.jobs_table(records))


if __name__ == "__main__":
    app()
