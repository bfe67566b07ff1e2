"""Fault injection for the local stack: a plan of AWS call failures, applied by the Lambda hosts only.

The deployed code has no fault path: a host installs a botocore event hook on the default session
before it imports the handler, so the handler's own boto3 clients see injected errors exactly as
they would see AWS's. Only calls made inside an invocation are faulted, never the host's own polling
(on AWS that is the event source mapping's work).

A plan is JSON, named by $PIXELPIPE_FAULTS (a file path), a list of rules:

    [{"function": "resize-worker", "operation": "dynamodb.UpdateItem", "error": "ThrottlingException",
      "status": 400, "when": "before", "probability": 1.0, "match": "steps.#step.#status"}]

- `when: before` fails the call before it reaches the emulator; `after` lets it take effect and loses
  the answer (the ambiguous failure: did the write happen?).
- `error` is an AWS error code, or `crash` (the process dies, as a killed execution environment does),
  `hang` (the call blocks past the function's timeout) or `delay` (the call waits `delay_seconds`, then
  goes ahead).
- Faults are transient by default: each (operation, job) is failed at most once, so the next delivery
  or retry succeeds (`every_time: true` makes it permanent). The job is the first job id (UUID) in the
  request; a request without one is its own identity. `skip` lets that many matching calls through
  first (to crash in the middle of a batch, say).
Rules for `"function": "reconcile"` apply to the state machine's own service integrations, which
moto's interpreter calls from the emulator process. Every injection is appended as a JSON line to
$PIXELPIPE_FAULTS_LOG, which a restarted host reads
back, so a transient fault stays transient across a crash.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from pixelpipe_emulator.boto_session import default_session

PLAN_ENV = "PIXELPIPE_FAULTS"
RECONCILE = "reconcile"  # the `function` of rules aimed at the state machine's service integrations
LOG_ENV = "PIXELPIPE_FAULTS_LOG"
CRASH_EXIT_CODE = 137  # what a SIGKILLed process reports
_REQUEST_KEY = "pixelpipe_fault_request"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class FaultRule:
    operation: str  # "<service>.<Operation>", e.g. "dynamodb.UpdateItem", "stepfunctions.StartExecution"
    function: str = "*"
    error: str = "InternalServerError"
    status: int = 500
    when: str = "before"
    probability: float = 1.0
    match: str = ""
    every_time: bool = False
    skip: int = 0
    delay_seconds: float = 0.0

    def applies(self, function: str, operation: str, request: str) -> bool:
        return (
            self.function in ("*", function)
            and self.operation == operation
            and (not self.match or self.match in request)
        )


@dataclass
class FaultInjector:
    function: str
    rules: list[FaultRule]
    log_path: Path | None = None
    seed: int | None = None
    active: bool = False  # on while a wrapped handler runs; always on in the emulator
    _faulted: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._seen: dict[FaultRule, int] = {}
        for entry in injected(self.log_path) if self.log_path else []:
            if entry["function"] == self.function:
                self._faulted.add((entry["key"], entry["identity"]))

    def install(self, session: Any) -> None:
        """Hook every call the session's clients make (clients created after this copy the hooks)."""
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after_call)

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler, with faults on while it runs: the host's own polling is never faulted."""

        @wraps(handler)
        def faulted(*args: Any, **kwargs: Any) -> Any:
            self.active = True
            try:
                return handler(*args, **kwargs)
            finally:
                self.active = False

        return faulted

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        if not self.active:
            return None
        request = _request_text(params)
        params.get("context", {})[_REQUEST_KEY] = request  # for the after-call hook
        rule, identity = self._decide(model, request, "before")
        if rule is None:
            return None
        self._log(rule, identity)
        if rule.error == "crash":
            print(f"fault: crashing on {rule.operation}", file=sys.stderr, flush=True)
            os._exit(CRASH_EXIT_CODE)
        if rule.error == "hang":
            time.sleep(3600)  # the host's timeout watchdog ends the invocation long before
        if rule.error == "delay":
            time.sleep(rule.delay_seconds)
            return None
        response = AWSResponse(url="", status_code=rule.status, headers={}, raw=None)
        return response, _error_body(rule, f"injected fault ({rule.operation})")

    def _after_call(self, model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        rule, identity = self._decide(model, context.get(_REQUEST_KEY, ""), "after")
        if rule is None:
            return
        self._log(rule, identity)
        raise ClientError(_error_body(rule, f"injected fault after the call ({rule.operation})"), model.name)

    def _decide(self, model: Any, request: str, when: str) -> tuple[FaultRule | None, str]:
        if not self.active:
            return None, ""
        operation = f"{model.service_model.service_name}.{model.name}"
        found = _UUID.search(request)
        identity = found.group(0) if found else request
        with self._lock:
            for rule in self.rules:
                if rule.when != when or not rule.applies(self.function, operation, request):
                    continue
                self._seen[rule] = self._seen.get(rule, 0) + 1
                if self._seen[rule] <= rule.skip:
                    continue
                key = (rule_key(rule), identity)
                if not rule.every_time and key in self._faulted:
                    continue
                if self._random.random() >= rule.probability:
                    self._faulted.add(key)  # spared once: this (operation, job) is never faulted later
                    continue
                self._faulted.add(key)
                return rule, identity
        return None, ""

    def _log(self, rule: FaultRule, identity: str) -> None:
        if self.log_path is None:
            return
        line = json.dumps(
            {
                "at": time.time(),
                "function": self.function,
                "operation": rule.operation,
                "error": rule.error,
                "when": rule.when,
                "job": identity if _UUID.fullmatch(identity) else None,
                "key": rule_key(rule),
                "identity": identity,
            }
        )
        with self._lock, self.log_path.open("a") as log:
            log.write(line + "\n")


def _error_body(rule: FaultRule, message: str) -> dict[str, Any]:
    """An AWS error response; moto's interpreter reads the request id when it describes any error."""
    return {
        "Error": {"Code": rule.error, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": rule.status, "RequestId": "injected-fault"},
    }


def rule_key(rule: FaultRule) -> str:
    return f"{rule.operation}:{rule.error}:{rule.when}:{rule.match}"


def _request_text(params: dict[str, Any]) -> str:
    body = params.get("body", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    elif isinstance(body, dict):
        body = json.dumps(body, default=str)
    return f"{params.get('url_path', '')} {body}"


def load_plan(path: str | Path) -> list[FaultRule]:
    """The rules in a plan file; fails naming the rule that does not fit."""
    rules = []
    for index, raw in enumerate(json.loads(Path(path).read_text())):
        try:
            rule = FaultRule(**raw)
        except TypeError as error:
            raise ValueError(f"fault rule {index}: {error}") from error
        if rule.when not in ("before", "after"):
            raise ValueError(f"fault rule {index}: when must be 'before' or 'after', not {rule.when!r}")
        if rule.when == "after" and rule.error in ("crash", "hang"):
            raise ValueError(f"fault rule {index}: {rule.error} only happens before a call")
        rules.append(rule)
    return rules


def injector_from_env(function: str) -> FaultInjector | None:
    """The host's injector when the stack was started with a fault plan, else None."""
    plan = os.environ.get(PLAN_ENV)
    if not plan:
        return None
    log = os.environ.get(LOG_ENV)
    seed = os.environ.get("PIXELPIPE_FAULTS_SEED")
    return FaultInjector(function, load_plan(plan), Path(log) if log else None, int(seed) if seed else None)


def install_in_emulator() -> None:
    """The reconcile state machine's own calls (moto's interpreter makes them with boto3 in the emulator
    process) as the function `reconcile`: every such call is the machine's, so the injector stays on."""
    injector = injector_from_env(RECONCILE)
    if injector is None:
        return
    injector.active = True
    injector.install(default_session())


def install(function: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A wrapper for a Lambda host's handler that faults its calls; the identity without a fault plan.

    Call it before the handler module is imported: handlers make their clients there.
    """
    injector = injector_from_env(function)
    if injector is None:
        return lambda handler: handler
    injector.install(default_session())
    return injector.wrap


def injected(log_path: Path) -> list[dict[str, Any]]:
    """Every fault the hosts logged."""
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
