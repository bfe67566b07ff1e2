"""`pixelpipe events`: the job-finished events, read from the example rule's queue as they arrive.

The reconcile state machine puts one `Pixel-Pipe Job Finished` event per terminal transition on the
stack's bus; the example rule sends each to a queue (terraform/events.tf; the local stack builds the same).
This command is a consumer of that queue: it prints each event and deletes it. EventBridge and SQS deliver
at least once, and the sweeper may re-send an event it cannot prove was sent, so the command shows each
`eventId` once per run (docs/job-record.md#job-finished-events). Everything in an event is data: keys,
labels and reasons are printed through `render.literal`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.text import Text

from pixelpipe_cli import render
from pixelpipe_cli.target import Target, current_target
from pixelpipe_emulator.provision import JOB_EVENTS_QUEUE  # cli_target's key for it on AWS too

LONG_POLL_SECONDS = 20  # the SQS maximum: an idle --follow costs one receive per 20 s


def events_queue_url(target: Target) -> str:
    queue = target.queues.get(JOB_EVENTS_QUEUE)
    if not queue:
        raise SystemExit(
            "this stack's target names no job-events queue: on AWS, re-export it with "
            "`terraform output -json cli_target` (docs/deploy.md)"
        )
    return queue["url"]


@dataclass
class EventReader:
    """Receives from the queue in batches, deletes what it read, and yields each eventId once."""

    sqs: Any
    url: str
    seen: set[str] = field(default_factory=set)
    unreadable: int = 0

    def read(self, follow: bool) -> Iterator[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=LONG_POLL_SECONDS if follow else 1,
            ).get("Messages", [])
            if not messages and not follow:
                return
            done = []
            for message in messages:
                event = _parse(message["Body"])
                if event is None:
                    # Not ours: left on the queue, so its redrive policy moves it to the DLQ.
                    self.unreadable += 1
                    continue
                done.append(message)
                event_id = event["detail"].get("eventId") or event.get("id")
                if event_id in self.seen:
                    continue
                self.seen.add(event_id)
                yield event
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )


def _parse(body: str) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return None
    return event


def event_line(event: dict[str, Any]) -> Text:
    """One line per event: when, status, job, file and labels or reason, every value literal."""
    detail = event["detail"]
    return Text.assemble(
        render.literal(detail.get("finishedAt", "")),
        " ",
        render.status_text(str(detail.get("status", ""))),
        " ",
        render.literal(str(detail.get("jobId", ""))[:8]),
        " ",
        render.literal(str(detail.get("key", "")).split("/", 1)[-1]),
        "  ",
        render.literal(detail.get("reason") or render.top_labels(detail)),
    )


def events(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep waiting for events until Ctrl-C.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One event per line, as EventBridge delivered it.")
    ] = False,
) -> None:
    """Job-finished events as they arrive (consumes the example rule's queue); each eventId once."""
    target = current_target()
    reader = EventReader(target.client("sqs"), events_queue_url(target))
    try:
        for event in reader.read(follow):
            if as_json:
                print(json.dumps(event), flush=True)
            else:
                render.console.print(event_line(event))
    except KeyboardInterrupt:
        pass
    if reader.unreadable:
        render.error_console.print(
            render.message(f"{reader.unreadable} message(s) on the queue are not job events; left there.")
        )


def register(app: typer.Typer) -> None:
    app.command()(events)
