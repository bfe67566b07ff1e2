"""Cold starts of the four Lambda handlers, each in a fresh process set up the way Lambda's init runs it.

Every run starts a new interpreter per handler with the function's own environment (the variables
`lambda_function_environment` gives the local stack's hosts, plus LAMBDA_TASK_ROOT and a daemon address
so Powertools Tracer and the X-Ray SDK are on, as with active tracing), times the handler module's
import, then invokes the handler twice against real events from a private emulator (moto server, no
host processes): the first invocation pays for what was left to first use (clients, the ONNX session,
Pillow's plugins), the second is a warm one for comparison. Baselines in the same rounds, so figures
from a busy machine can be read as ratios: a bare interpreter start and `import boto3` (the floor of any
handler that calls AWS). Rounds interleave all subjects, and figures are medians (and minimums).

    .venv/bin/python benchmarks/bench_cold_start.py [--runs 7] [--json] [--compare OTHER/lambdas]
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


def handlers() -> dict[str, str]:
    """Summary key prefix -> function name, in the order a round runs them (dispatch makes the workers'
    jobs): dispatch, the sweeper, then each worker by its step name."""
    from pixelpipe.config import settings, workers

    config = settings()
    steps = {step: worker.function for step, worker in workers().items()}
    return {"dispatch": config.dispatch_function, "sweeper": config.sweeper_function, **steps}


INVOCATIONS = ("first", "warm")
CHILD = Path(__file__).resolve().with_name("cold_start_child.py")
COMPARE = "compare_"  # the figures of --compare's tree
# `import boto3` on a quiet box here (issue 12's measurement): the scale for "quiet-box equivalent" figures.
QUIET_BOTO3_IMPORT_MS = 105


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
    """One private emulator; each round makes fresh uploads, S3 events and queue messages for its handlers.

    `roots` names the code trees to cold-start ("" is this checkout's lambdas/); each round runs every
    tree's handlers, so a before/after comparison shares the machine's load.
    """

    def __init__(self, stack: Any, home: Path, daemon_port: int, roots: dict[str, Path]) -> None:
        from pixelpipe.config import settings, workers
        from pixelpipe_emulator.lambda_host import function_environment, function_spec

        self.target, self.home, self.roots = stack.target, home, roots
        self.s3, self.sqs = self.target.client("s3"), self.target.client("sqs")
        self.specs = {function: function_spec(function) for function in handlers().values()}
        self.steps = {w.function: step for step, w in workers().items()}
        self.upload_prefix = settings().storage.upload_prefix
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),  # no developer's ~/.aws: a function sees only its environment
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        }
        self.function_env = {f: function_environment(self.target, f) for f in handlers().values()}
        self._pools: dict[str, dict[str, dict[str, Any]]] = {}  # queue url -> {key or job id: message}

    def round(self, number: int) -> dict[str, float]:
        figures = {"python_start_ms": _interpreter_start_ms(self.base_env)}
        figures["boto3_import_ms"] = _run_child(["boto3", "", "-", "0", "0"], self.base_env)["import_ms"]
        for variant, root in self.roots.items():
            jobs: list[str] = []
            code = {"PYTHONPATH": str(root), "LAMBDA_TASK_ROOT": str(root)}
            for prefix, function in handlers().items():
                events = self._events(function, f"{variant}{number}", jobs)
                events_file = self.home / f"{variant}{function}-{number}.json"
                events_file.write_text(json.dumps(events))
                spec = self.specs[function]
                result = _run_child(
                    [
                        spec.handler.rpartition(".")[0],
                        str(events_file),
                        function,
                        str(spec.memory_mb),
                        str(spec.timeout_seconds),
                    ],
                    {**self.base_env, **self.function_env[function], **code},
                )
                _check(function, result)
                if _source(function) == "s3":
                    jobs = [r["jobId"] for name in INVOCATIONS for r in result[f"{name}_response"]["results"]]
                figures[f"{variant}{prefix}_import_ms"] = result["import_ms"]
                for name in INVOCATIONS:
                    figures[f"{variant}{prefix}_{name}_invocation_ms"] = result[f"{name}_ms"]
        return figures

    def _events(self, function: str, round_name: str, jobs: list[str]) -> list[dict[str, Any]]:
        if _source(function) == "s3":
            keys = [f"{self.upload_prefix}cold-start/{round_name}-{n}.jpg" for n in range(len(INVOCATIONS))]
            return [self._upload_event(key) for key in keys]
        if _source(function) == "schedule":
            return [{"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}] * 2
        return [self._job_message_event(self.steps[function], job) for job in jobs]

    def _upload_event(self, key: str) -> dict[str, Any]:
        """Upload the sample and take the S3 notification the emulator sends for it (the real event)."""
        from pixelpipe_emulator.target import S3_EVENTS_QUEUE

        self.s3.put_object(Bucket=self.target.upload_bucket, Key=key, Body=SAMPLE.read_bytes())
        message = self._take(self.target.queues[S3_EVENTS_QUEUE]["url"], key, _notified_key)
        return json.loads(message["Body"])

    def _job_message_event(self, step: str, job_id: str) -> dict[str, Any]:
        """The SQS event Lambda would deliver for the job's message on the step's queue."""
        from pixelpipe_emulator.lambda_host import sqs_record

        queue = self.target.queues[step]
        message = self._take(queue["url"], job_id, lambda body: body.get("job_id"))
        return {"Records": [sqs_record(message, queue["arn"], self.target.region)]}

    def _take(self, url: str, wanted: str, identify: Any, timeout: float = 30) -> dict[str, Any]:
        """The message `identify` names `wanted`; others received meanwhile wait in a pool for their turn."""
        pool = self._pools.setdefault(url, {})
        deadline = time.monotonic() + timeout
        while wanted not in pool and time.monotonic() < deadline:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
            for message in batch:
                pool[identify(json.loads(message["Body"]))] = message
            if batch:  # nobody else reads these queues: delete at once, so they never come back
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
                self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        if wanted not in pool:
            raise RuntimeError(f"no message for {wanted} on {url} within {timeout} s")
        return pool.pop(wanted)


def _notified_key(event: dict[str, Any]) -> str | None:
    records = event.get("Records", [])
    return records[0]["s3"]["object"]["key"] if records else None


def _source(function: str) -> str:
    """What invokes the function (pipeline.json): s3, schedule, worker or http."""
    from pixelpipe.config import settings

    return settings().functions[function].source.type


def _check(function: str, result: dict[str, Any]) -> None:
    """A cold start only counts if the invocations did their work."""
    for name in INVOCATIONS:
        response = result[f"{name}_response"]
        if _source(function) == "s3":
            ok = [r["action"] for r in response["results"]] == ["created"]
        elif _source(function) == "schedule":
            ok = response == {"timedOut": []}
        else:
            ok = response == {"batchItemFailures": []}
        if not ok:
            raise RuntimeError(f"{function}'s {name} invocation did not do its work: {response}")


def measure(runs: int, warmup: int = 1, compare: Path | None = None) -> dict[str, dict[str, float]]:
    """{figure: {"median": ms, "min": ms}} over `runs` rounds after `warmup` uncounted ones (bytecode).

    With `compare` (another tree's lambdas/ directory), its handlers run in the same rounds, their
    figures prefixed `compare_`.
    """
    from pixelpipe_emulator.stack import LocalStack

    roots = {"": TASK_ROOT, **({COMPARE: compare.resolve()} if compare else {})}
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as home, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))  # a sink for the SDK's UDP segments; nobody reads them here
        with LocalStack(Path(home) / "stack", functions=[], tracing=False) as stack:
            rounds = Rounds(stack, Path(home), daemon.getsockname()[1], roots)
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


def markdown(figures: dict[str, dict[str, float]], runs: int, compare: Path | None = None) -> str:
    boto3 = figures["boto3_import_ms"]["median"]
    rows = []
    for variant, tree in [("", "this tree"), *([(COMPARE, str(compare))] if compare else [])]:
        for prefix, function in handlers().items():
            imported = figures[f"{variant}{prefix}_import_ms"]
            first = figures[f"{variant}{prefix}_first_invocation_ms"]["median"]
            warm = figures[f"{variant}{prefix}_warm_invocation_ms"]["median"]
            ratio = imported["median"] / boto3
            rows.append(
                f"| {function} ({tree}) | {imported['median']:.0f} ({imported['min']:.0f}) "
                f"| {ratio:.2f}× | {ratio * QUIET_BOTO3_IMPORT_MS:.0f} "
                f"| {first:.0f} | {warm:.0f} "
                f"| {imported['median'] + first:.0f} |"
            )
    return (
        f"Medians (minimums) of {runs} rounds, each handler in a fresh interpreter with its Lambda "
        f"environment and tracing on. Baselines in the same rounds: bare interpreter start "
        f"{figures['python_start_ms']['median']:.0f} ms (whole process), `import boto3` {boto3:.0f} ms.\n\n"
        "| handler | import ms | import / boto3 | import, quiet-box equivalent ms | first invocation ms "
        "| warm invocation ms | import + first ms |\n|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows)
        + f"\n\nQuiet-box equivalent: the import's ratio to `import boto3` in the same rounds, times "
        f"{QUIET_BOTO3_IMPORT_MS} ms (`import boto3` on this machine when quiet): an estimate for reading "
        "the goals on a busy machine, not a measurement.\n"
    )


def section(runs: int) -> tuple[str, dict[str, Any]]:
    """For `make bench` (benchmarks/run_all.py): markdown, and the import and first-invocation medians."""
    figures = measure(runs)
    metrics = {
        key: round(figures[key]["median"], 1)
        for prefix in handlers()
        for key in (f"{prefix}_import_ms", f"{prefix}_first_invocation_ms")
    }
    text = (
        "## Cold starts\n\n`.venv/bin/python benchmarks/bench_cold_start.py` — goals: dispatch-tasks and "
        "sweeper ≤ 150 ms import, workers ≤ 250 ms import, on a quiet machine. Import is what Lambda's init "
        "runs; the AWS clients (and boto3's import), Pillow's format plugins and the ONNX session are made "
        "on first use, so the first invocation carries them: read the two together.\n\n"
        + markdown(figures, runs)
    )
    return text, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="Print only the summary dict, as JSON.")
    parser.add_argument(
        "--compare", type=Path, help="Another tree's lambdas/ directory, cold-started in the same rounds."
    )
    args = parser.parse_args()
    figures = measure(args.runs, compare=args.compare)
    if not args.json:
        print(markdown(figures, args.runs, args.compare))
    print(json.dumps(summary(figures)))


if __name__ == "__main__":
    main()
