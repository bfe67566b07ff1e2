"""Cold starts of the four Lambda handlers, each in a fresh process set up the way Lambda's init runs it.

Every run starts a new interpreter per handler with the function's own environment (the variables
`lambda_function_environment` gives the local stack's hosts, plus LAMBDA_TASK_ROOT and a daemon address
so Powertools Tracer and the X-Ray SDK are on, as with active tracing), times the handler module's
import, then invokes the handler twice against real events from a private emulator (moto server, no
host processes): the first invocation pays for what was left to first use (clients, the ONNX session,
Pillow's plugins), the second is a warm one for comparison. Baselines in the same rounds, so figures
from a busy machine can be read as ratios: a bare interpreter start and `import boto3` (the floor of any
handler that calls AWS). Rounds interleave all subjects, and figures are medians (and minimums).

    .venv/bin/python benchmarks/bench_cold_start.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
TASK_ROOT = REPOSITORY / "lambdas"  # what LAMBDA_TASK_ROOT holds inside Lambda: the directory of `pixelpipe`
SAMPLE = REPOSITORY / "samples" / "rocket.jpg"  # a JPEG photo: the resize worker's usual case
# Summary key prefix -> function name, in the order a round runs them (dispatch makes the workers' jobs).
HANDLERS = {
    "dispatch": "dispatch-tasks",
    "sweeper": "sweeper",
    "resize": "resize-worker",
    "analysis": "analysis-worker",
}
INVOCATIONS = ("first", "warm")
CHILD = Path(__file__).resolve().with_name("cold_start_child.py")


# --- the parent: rounds against a private emulator ------------------------------------------------------


def _run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, str(CHILD), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if run.returncode != 0:
        raise RuntimeError(f"cold start of {args[0]} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _interpreter_start_ms(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return (time.perf_counter() - started) * 1000


class Rounds:
    """One private emulator; each round makes fresh uploads, S3 events and queue messages for its handlers."""

    def __init__(self, stack: Any, home: Path, daemon_port: int) -> None:
        from pixelpipe.config import pipeline_config, workers
        from pixelpipe_emulator.lambda_host import function_environment, function_spec

        self.stack, self.target, self.home = stack, stack.target, home
        self.s3, self.sqs = self.target.client("s3"), self.target.client("sqs")
        self.specs = {function: function_spec(function) for function in HANDLERS.values()}
        self.steps = {w.function: step for step, w in workers().items()}
        self.upload_prefix = pipeline_config()["storage"]["upload_prefix"]
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # no developer's ~/.aws: a function sees only its environment
            "PYTHONPATH": str(TASK_ROOT),
            "LAMBDA_TASK_ROOT": str(TASK_ROOT),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        }
        self.base_env = base
        self.env = {f: {**base, **function_environment(self.target, f)} for f in HANDLERS.values()}

    def round(self, number: int) -> dict[str, float]:
        figures = {"python_start_ms": _interpreter_start_ms(self.base_env)}
        figures["boto3_import_ms"] = _run_child(["boto3", "", "-", "0", "0"], self.base_env)["import_ms"]
        jobs: list[str] = []
        for prefix, function in HANDLERS.items():
            events = self._events(function, number, jobs)
            events_file = self.home / f"{function}-{number}.json"
            events_file.write_text(json.dumps(events))
            spec = self.specs[function]
            module = spec["handler"].rpartition(".")[0]
            result = _run_child(
                [module, str(events_file), function, str(spec["memory_mb"]), str(spec["timeout_seconds"])],
                self.env[function],
            )
            _check(function, result)
            if function == "dispatch-tasks":
                jobs = [r["jobId"] for name in INVOCATIONS for r in result[f"{name}_response"]["results"]]
            figures[f"{prefix}_import_ms"] = result["import_ms"]
            for name in INVOCATIONS:
                figures[f"{prefix}_{name}_invocation_ms"] = result[f"{name}_ms"]
        return figures

    def _events(self, function: str, number: int, jobs: list[str]) -> list[dict[str, Any]]:
        if function == "dispatch-tasks":
            return [self._upload_event(f"{self.upload_prefix}cold-start/{number}-{n}.jpg") for n in range(2)]
        if function == "sweeper":
            return [{"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}] * 2
        return self._job_message_events(self.steps[function], jobs)

    def _upload_event(self, key: str) -> dict[str, Any]:
        """Upload the sample and take the S3 notification the emulator sends for it (the real event)."""
        from pixelpipe_emulator.target import S3_EVENTS_QUEUE

        self.s3.put_object(Bucket=self.target.upload_bucket, Key=key, Body=SAMPLE.read_bytes())
        for message in self._receive(self.target.queues[S3_EVENTS_QUEUE]["url"]):
            event = json.loads(message["Body"])
            if any(r["s3"]["object"]["key"] == key for r in event.get("Records", [])):
                return event
        raise RuntimeError(f"no S3 notification for {key}")

    def _job_message_events(self, step: str, jobs: list[str]) -> list[dict[str, Any]]:
        """The SQS event Lambda would deliver for each job's message on the step's queue, in job order."""
        from pixelpipe_emulator.lambda_host import sqs_record

        queue = self.target.queues[step]
        by_job = {json.loads(m["Body"]).get("job_id"): m for m in self._receive(queue["url"])}
        missing = [job for job in jobs if job not in by_job]
        if missing:
            raise RuntimeError(f"no {step} message for jobs {missing}")
        return [{"Records": [sqs_record(by_job[job], queue["arn"], self.target.region)]} for job in jobs]

    def _receive(self, url: str) -> list[dict[str, Any]]:
        """Every message until the queue stays empty for a second, deleted (nobody else reads them)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return found
            found += batch
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def _check(function: str, result: dict[str, Any]) -> None:
    """A cold start only counts if the invocations did their work."""
    for name in INVOCATIONS:
        response = result[f"{name}_response"]
        if function == "dispatch-tasks":
            ok = [r["action"] for r in response["results"]] == ["created"]
        elif function == "sweeper":
            ok = response == {"timedOut": []}
        else:
            ok = response == {"batchItemFailures": []}
        if not ok:
            raise RuntimeError(f"{function}'s {name} invocation did not do its work: {response}")


def measure(runs: int, warmup: int = 1) -> dict[str, dict[str, float]]:
    """{figure: {"median": ms, "min": ms}} over `runs` rounds after `warmup` uncounted ones (bytecode)."""
    from pixelpipe_emulator.stack import LocalStack

    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as home, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))  # a sink for the SDK's UDP segments; nobody reads them here
        with LocalStack(Path(home) / "stack", functions=[], tracing=False) as stack:
            rounds = Rounds(stack, Path(home), daemon.getsockname()[1])
            for number in range(warmup + runs):
                figures = rounds.round(number)
                if number >= warmup:
                    rows.append(figures)
    return {
        key: {"median": statistics.median(r[key] for r in rows), "min": min(r[key] for r in rows)}
        for key in rows[0]
    }


def summary(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    """The flat medians `make bench` reports (dispatch_import_ms, …, *_first_invocation_ms, baselines)."""
    return {key: round(value["median"], 1) for key, value in figures.items()}


def markdown(figures: dict[str, dict[str, float]], runs: int) -> str:
    boto3 = figures["boto3_import_ms"]["median"]
    rows = []
    for prefix, function in HANDLERS.items():
        imported = figures[f"{prefix}_import_ms"]
        rows.append(
            f"| {prefix} ({function}) | {imported['median']:.0f} ({imported['min']:.0f}) "
            f"| {imported['median'] / boto3:.2f}× "
            f"| {figures[f'{prefix}_first_invocation_ms']['median']:.0f} "
            f"| {figures[f'{prefix}_warm_invocation_ms']['median']:.0f} |"
        )
    return (
        f"Medians (minimums) of {runs} rounds, each handler in a fresh interpreter with its Lambda "
        f"environment and tracing on. Baselines in the same rounds: bare interpreter start "
        f"{figures['python_start_ms']['median']:.0f} ms (whole process), `import boto3` {boto3:.0f} ms.\n\n"
        "| handler | import ms | import / boto3 | first invocation ms | warm invocation ms |\n"
        "|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="Print only the summary dict, as JSON.")
    args = parser.parse_args()
    figures = measure(args.runs)
    if not args.json:
        print(markdown(figures, args.runs))
    print(json.dumps(summary(figures)))


if __name__ == "__main__":
    main()
