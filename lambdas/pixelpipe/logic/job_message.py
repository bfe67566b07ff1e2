"""Reading a worker's SQS body (SNS raw delivery: the body is the JSON dispatch published).

The body is untrusted input like an upload: a malformed one cannot get better by being delivered again,
so it is a `MalformedMessage` (a `PermanentError`) that carries the job id when one can be read, letting
the worker fail that job's step with the reason instead of retrying the message into the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from pydantic import BaseModel, ConfigDict, Field

from pixelpipe.logic.errors import PermanentError


@dataclass(frozen=True)
class JobMessage:
    """What SNS carries to every worker; the steps also travel as a message attribute for filtering."""

    job_id: str
    bucket: str
    key: str
    version_id: str | None
    steps: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> JobMessage:
        """Validated by `parse_job_message`; raises `MalformedMessage` for a bad body."""
        return parse_job_message(body)


class JobMessageBody(BaseModel):
    """The published body; unknown fields (from a newer dispatcher) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    job_id: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    version_id: str | None = None
    steps: list[str] = Field(default_factory=list)


class MalformedMessage(PermanentError, ValueError):
    """The body is not a job message; `job_id` is set when the body still names one.

    A `ValueError` too, for readers (the CLI's DLQ listing) that treat any unreadable body alike.
    """

    def __init__(self, reason: str, job_id: str | None) -> None:
        super().__init__(reason)
        self.job_id = job_id


def parse_job_message(body: str) -> JobMessage:
    """The job message in `body`, or `MalformedMessage` naming what is wrong with it."""
    try:
        parsed = parse(event=body, model=JobMessageBody)
    except ValidationError as error:
        raise MalformedMessage(f"malformed message: {_describe(error)}", recover_job_id(body)) from error
    return JobMessage(parsed.job_id, parsed.bucket, parsed.key, parsed.version_id, list(parsed.steps))


def recover_job_id(body: str) -> str | None:
    """The job id a malformed body still carries, if any: a non-empty string under `job_id`."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) and job_id else None


def _describe(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "; ".join(problems)
