"""Records the AWS calls a function's handler makes, so a test can hold them to the function's IAM policy.

The local stack sets PIXELPIPE_CALL_LOG (a directory) for every host; the host wraps its handler with
`install(function)`. A botocore `provide-client-params` hook on boto3's default session (the one every
handler client is made from) then appends one JSON line per distinct call to `<directory>/<function>.jsonl`:
the IAM service prefix, the API operation, the resource it names and whether it names an object version.

Only calls made *while the handler runs* are recorded. The host's own calls — polling the queue,
deleting delivered messages, looking up a job's trace — are what the Lambda service does on AWS (the
event source mapping, with the execution role's sqs:ReceiveMessage/DeleteMessage/GetQueueAttributes),
not the function's code, and the least-privilege test accounts for them separately.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from pixelpipe_emulator.boto_session import default_session

ENV_CALL_LOG = "PIXELPIPE_CALL_LOG"


@dataclass(frozen=True)
class RecordedCall:
    function: str
    service: str  # the IAM prefix (the API's signing name): s3, dynamodb, sns, sqs, states, rekognition
    operation: str  # the API operation: HeadObject, UpdateItem, StartExecution, ...
    resource: str  # bucket/key, table[/index/name], topic, queue or state machine name; "*" for none
    versioned: bool = False  # an S3 call that names a VersionId (IAM checks s3:GetObjectVersion)


def resource_of(service: str, params: dict[str, Any]) -> str:
    """The resource a call acts on, by the parameter each service names it with."""
    if service == "s3" and "Bucket" in params:
        return f"{params['Bucket']}/{params['Key']}" if "Key" in params else params["Bucket"]
    if service == "dynamodb" and "TableName" in params:
        index = params.get("IndexName")
        return f"{params['TableName']}/index/{index}" if index else params["TableName"]
    if service == "sns" and "TopicArn" in params:
        return params["TopicArn"].rsplit(":", 1)[-1]
    if service == "sqs" and "QueueUrl" in params:
        return params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
    if service == "sqs" and "QueueName" in params:
        return params["QueueName"]
    if service == "states" and "stateMachineArn" in params:
        return params["stateMachineArn"].rsplit(":", 1)[-1]
    return "*"


class CallRecorder:
    def __init__(self, function: str, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.function = function
        self.path = directory / f"{function}.jsonl"
        self._seen: set[RecordedCall] = set()
        self._recording = False

    def on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._recording:
            return
        service = model.service_model.signing_name
        call = RecordedCall(
            function=self.function,
            service=service,
            operation=model.name,
            resource=resource_of(service, params),
            versioned=service == "s3" and bool(params.get("VersionId")),
        )
        if call not in self._seen:
            self._seen.add(call)
            with self.path.open("a") as log:
                log.write(json.dumps(asdict(call)) + "\n")

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(handler)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._recording = True
            try:
                return handler(*args, **kwargs)
            finally:
                self._recording = False

        return recorded


def install(function: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A wrapper for the function's handler that records its calls; the identity unless the stack asks.

    Call it before the handler module is imported: botocore copies the session's hooks into each client
    when the client is made, and handlers make theirs at import.
    """
    directory = os.environ.get(ENV_CALL_LOG)
    if not directory:
        return lambda handler: handler
    recorder = CallRecorder(function, Path(directory))
    default_session().events.register("provide-client-params", recorder.on_call)
    return recorder.wrap


def read_calls(directory: Path) -> list[RecordedCall]:
    """Every call recorded under `directory`, all functions."""
    calls = []
    for path in sorted(directory.glob("*.jsonl")):
        calls += [RecordedCall(**json.loads(line)) for line in path.read_text().splitlines() if line]
    return calls
