"""moto in server mode for the local stack: changes that only make it faster, two that make it
behave like AWS where the pipeline's guarantees depend on it, and one that bounds its memory.

The emulator answers every AWS call of the pipeline and interprets every state machine execution, so
its CPU bounds the local stack's throughput. Profiled with py-spy on 60 jobs:
- moto's Step Functions interpreter ran its ANTLR parser on the whole ASL for every execution (about
  a quarter of the CPU). The parse tree depends only on the definition text, so it is cached; so are
  the evaluation components built from it (another twelfth of the CPU, the preprocessor compiling every
  path and intrinsic again): they are built to be shared, keeping all per-execution state in the
  execution's Environment (its stack, heap and contexts), keyed by component; only the key is made
  stable here (see `_component_heap_key`).
- every request listed moto's package directory to route by Host header (about a tenth): the listing
  never changes while the server runs, so it is read once.
- werkzeug logged every request to stderr: only warnings are kept.
- werkzeug closed the connection after every request: `keepalive_http` keeps connections alive.
- the interpreter parsed every JSONPath (`$.jobId`, ...) at every use with jsonpath_ng, whose parser
  rebuilds its yacc tables on each construction (a fifth of the emulator's CPU, measured with
  `py-spy --gil`): parsed paths are cached by their text (a parsed path is only read when matching).
- the interpreter made a new boto3 client for every Task state it ran (about a tenth of the CPU under
  `bench_pipeline`, botocore loading its service model and endpoint rules each time). A client is
  thread-safe and holds no per-execution state (the interpreter passes dummy credentials and a fixed
  endpoint), so one per region and service is made once and shared, with a connection pool as large as
  the number of executions that run at once, so their HTTP connections are kept alive and reused.
- DynamoDB Query and Scan sorted the whole table with Python-level comparisons on every call (3.3 s of
  a 3.5 s status-index Query with 10,000 jobs), and every item response was written by a walk of
  botocore's output shape (two thirds of what was left): `dynamodb_speed` sorts by plain keys and
  writes item responses with `json.dumps`.

Like AWS:
- DynamoDB is atomic per item; moto is not. Its request threads (the pipeline's calls and the Step
  Functions interpreter's own boto3 calls, which come back over HTTP) read, check and write an item
  without a lock, so two concurrent conditional updates could both pass their condition and concurrent
  `ADD`s or `list_append`s could be lost. Every DynamoDB request is served under one lock, the response
  (e.g. `ReturnValues: ALL_NEW`) included.
- When a service call fails without a request id (moto answers an unexpected exception with a bare 500),
  the interpreter's DynamoDB and SDK integrations raised `KeyError('RequestId')` while describing the
  error, and the execution failed with `States.Runtime`, past every `Retry`. The error is described with
  an empty request id instead, so it surfaces as the service's error, which the ASL's `Retry` handles.

Like AWS, X-Ray compiles traces, infers the segments of AWS calls and answers annotation filter
expressions, and SNS carries a Publish's trace header to SQS (`xray_service`).

Like AWS, SQS's ApproximateAgeOfOldestMessage is published to CloudWatch every minute
(`sqs_metrics`; `PIXELPIPE_EMULATOR_SQS_METRICS_SECONDS` changes the period).

Memory: moto keeps every execution (its input, history and a copy of the state machine) forever, and
every StartExecution scans them all. Finished Express executions are dropped after
`PIXELPIPE_EMULATOR_EXECUTION_RETENTION_SECONDS` (default 600 s: the local X-Ray execution tracer reads
an execution within a second of its end, `pixelpipe job --history` says "history unavailable" after
that); `0` keeps them forever. On AWS, Express executions are not kept by Step Functions at all.
moto also keeps every interpreter thread it ever started in a list nothing reads, and each finished
thread holds its execution: finished threads are dropped from it, whatever the retention. And moto
tracks every model instance ever created (for its dashboard), each DynamoDB update's copy of the item
included: that tracking is made weak.

    python -m pixelpipe_emulator.emulator -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from moto import backends, server
from moto.core.model_instances import model_data
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.path import result_path as interpreter_result_path
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client as interpreter_boto_client
from moto.stepfunctions.parser.asl.utils import json_path as interpreter_json_path
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.parser.utils import TMP_THREADS

from pixelpipe_emulator import (
    dynamodb_speed,
    emulator_s3_events,
    faults,
    post_policy,
    sqs_metrics,
    xray_service,
)
from pixelpipe_emulator.boto_session import default_session
from pixelpipe_emulator.host_guard import GuardedRequestHandler

RETENTION_ENV = "PIXELPIPE_EMULATOR_EXECUTION_RETENTION_SECONDS"
DEFAULT_RETENTION_SECONDS = 600.0


@lru_cache(maxsize=32)
def _parse_tree(definition: str):
    _program, tree = _original_parse(definition)
    return tree


@lru_cache(maxsize=32)
def _program(definition: str):
    return Preprocessor().visit(_parse_tree(definition))


_original_parse = asl_parser.AmazonStateLanguageParser.parse


def _parse(definition: str):
    return _program(definition), _parse_tree(definition)


def _component_heap_key(component: EvalComponent) -> str:
    """Where a component keeps its per-execution state (e.g. a Retry's attempt count) in the
    execution's Environment. moto draws a random key on first use; a shared component read by two
    executions at once could draw two, and one would lose its count. Its identity is stable while it
    lives, unique among live components, and needs no lock."""
    return f"component-{id(component):x}"


def cache_asl_parsing() -> None:
    """Each state machine definition is parsed and preprocessed once (`_parse`); the components built
    from it are shared by its executions, each keeping its state under a stable key."""
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)
    EvalComponent.heap_key = property(_component_heap_key)


def cache_interpreter_parsing() -> None:
    """The ASL and JSONPath caches: what the interpreter parses depends only on the text parsed. Also
    used by the tests that run moto's interpreter in their own process, so that it runs as here."""
    cache_asl_parsing()
    cache_jsonpath_parsing()


def cache_jsonpath_parsing() -> None:
    """The interpreter's JSONPath evaluation (`extract_json`, jsonpath_ng's extended grammar) and
    ResultPath (its base grammar) each get their own parser, cached."""
    interpreter_json_path.parse = lru_cache(maxsize=1024)(interpreter_json_path.parse)
    interpreter_result_path.parse = lru_cache(maxsize=1024)(interpreter_result_path.parse)


# ------------------------------------------------------------------------------ interpreter boto3 clients

# Executions run concurrently, one thread each: enough kept-alive connections for a burst of them.
INTERPRETER_POOL_CONNECTIONS = 64
_interpreter_clients: dict[tuple[str, str], Any] = {}
_interpreter_clients_lock = threading.Lock()
_original_boto_client_for = interpreter_boto_client.boto_client_for


def _shared_client(region: str, service: str) -> Any:
    """The client moto's `boto_client_for` makes (same endpoint, dummy credentials, no validation, no
    retries, same timeouts), made once per region and service."""
    key = (region, service)
    with _interpreter_clients_lock:
        if key not in _interpreter_clients:
            timeout = interpreter_boto_client.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
            _interpreter_clients[key] = boto3.client(
                service_name=service,
                region_name=region,
                aws_access_key_id="ak",
                aws_secret_access_key="sk",
                endpoint_url=f"http://localhost:{interpreter_boto_client.moto_server_port()}",
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    max_pool_connections=INTERPRETER_POOL_CONNECTIONS,
                ),
            )
        return _interpreter_clients[key]


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    # moto ignores `state_credentials` too. In its in-process (decorator) mode calls are intercepted
    # without an endpoint: then moto's own function, unchanged.
    if interpreter_boto_client.botocore_stubber.enabled:
        return _original_boto_client_for(region, service, state_credentials)
    return _shared_client(region, service)


def share_interpreter_clients() -> None:
    """Every interpreter module gets `_boto_client_for`: those imported later through the source
    module, those already imported (`from ... import boto_client_for`) in their own namespace."""
    interpreter_boto_client.boto_client_for = _boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is _original_boto_client_for
        ):
            module.boto_client_for = _boto_client_for


# ------------------------------------------------------------------------------------ DynamoDB atomicity

_dynamodb_lock = threading.RLock()


def _serialised(call_action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call_action)
    def locked(self: DynamoHandler) -> Any:
        with _dynamodb_lock:
            return call_action(self)

    return locked


def make_dynamodb_atomic() -> None:
    """One DynamoDB request at a time, from parsing to the serialised response: each item is read,
    checked and written atomically, as on AWS (coarser than AWS's per item, never weaker)."""
    if not getattr(DynamoHandler.call_action, "_pixelpipe_serialised", False):
        DynamoHandler.call_action = _serialised(DynamoHandler.call_action)
        DynamoHandler.call_action._pixelpipe_serialised = True


# ----------------------------------------------------------------- interpreter: errors without request id


def _default_request_id(parsed: Any = None, **_: Any) -> None:
    if isinstance(parsed, dict):
        parsed.setdefault("ResponseMetadata", {}).setdefault("RequestId", "")


def describe_errors_without_request_id(session: boto3.Session | None = None) -> None:
    """Give every response an (empty) request id, so the interpreter can describe any ClientError.

    The interpreter's integrations write `ex.response['ResponseMetadata']['RequestId']` into an error's
    cause; botocore sets it from the `x-amzn-requestid` header, which a bare 500 lacks. Registered on the
    session every boto3 client of this process (the interpreter's) is created from.
    """
    (session or default_session()).events.register(
        "after-call", _default_request_id, unique_id="pixelpipe-default-request-id"
    )


# The Step Functions developer guide (supported-services-awssdk.html): an integration's error is
# `Service.ErrorName`, and Step Functions always adds the `Exception` suffix to an error name that lacks it
# (S3's BucketAlreadyExists is `S3.BucketAlreadyExistsException`). moto's interpreter keeps the wire code
# (`DynamoDB.InternalServerError`), so a Retry written with AWS's names would never match here.
def name_dynamodb_errors_as_aws() -> None:
    """The interpreter's DynamoDB task errors named as Step Functions names them on AWS."""
    service = state_task_service_dynamodb.StateTaskServiceDynamoDB
    describe = service._error_cause_from_client_error
    if getattr(describe, "_pixelpipe_aws_names", False):
        return

    def described(client_error: Any) -> tuple[str, str]:
        error, cause = describe(client_error)
        return (error if error.endswith("Exception") else f"{error}Exception"), cause

    described._pixelpipe_aws_names = True  # type: ignore[attr-defined]
    service._error_cause_from_client_error = staticmethod(described)


# ------------------------------------------------------------------------------- bounded execution memory


def retention_seconds() -> float:
    """How long a finished Express execution stays listed; 0 (or less) keeps them forever."""
    raw = os.environ.get(RETENTION_ENV, "")
    try:
        return float(raw) if raw.strip() else DEFAULT_RETENTION_SECONDS
    except ValueError:
        raise SystemExit(f"{RETENTION_ENV} must be a number of seconds, not {raw!r}") from None


def _state_machines() -> Iterator[Any]:
    for account in list(dict.values(stepfunctions_parser_backends)):
        for backend in list(dict.values(account)):
            yield from list(backend.state_machines)


def _expired(execution: Execution, cutoff: datetime.datetime) -> bool:
    return (
        execution.exec_status not in (None, ExecutionStatus.RUNNING)
        and execution.stop_date is not None
        and execution.stop_date < cutoff
    )


def prune_finished_executions(retention: float, now: datetime.datetime | None = None) -> int:
    """Drop Express executions that finished more than `retention` seconds ago; the number dropped.

    StartExecution appends to the same list from request threads: each removal is one `list.remove`
    of one object (atomic under the GIL), never a rebuilt list that could lose a new execution.
    """
    now = now or datetime.datetime.now(tz=datetime.UTC)
    cutoff = now - datetime.timedelta(seconds=retention)
    dropped = 0
    for machine in _state_machines():
        if machine.type != "EXPRESS":  # (moto's executions all say STANDARD: ask the machine)
            continue
        for execution in [e for e in list(machine.executions) if _expired(e, cutoff)]:
            try:
                machine.executions.remove(execution)
                dropped += 1
            except ValueError:  # already gone (the machine was reset)
                pass
    return dropped


def reap_finished_threads() -> int:
    """Forget the interpreter's finished threads; the number forgotten.

    moto appends every thread its interpreter starts (one per execution, more for Parallel, Map and
    callbacks) to the module-level list `TMP_THREADS` and never removes one, and nothing reads it. A
    finished thread still holds its target, the execution's worker: through it the execution, its
    history and its copy of the state machine, so without this no execution is ever freed.
    """
    reaped = 0
    for thread in [t for t in list(TMP_THREADS) if not t.is_alive() and t.ident is not None]:
        try:
            TMP_THREADS.remove(thread)  # one object at a time: appends from other threads are never lost
            reaped += 1
        except ValueError:
            pass
    return reaped


class WeakInstances:
    """A model class's `instances_tracked` that does not keep its instances alive.

    moto appends every instance of every model class to a class-level list, for its dashboard, and
    never removes one: every DynamoDB item version (each update deep-copies the item), every state
    machine copy (one per execution), every S3 key. Iterating this yields the live ones, as before.
    """

    def __init__(self, instances: list[Any]) -> None:
        self._refs = [weakref.ref(instance) for instance in instances]

    def append(self, instance: Any) -> None:
        self._refs.append(weakref.ref(instance))

    def __iter__(self) -> Iterator[Any]:
        return iter([instance for instance in (ref() for ref in list(self._refs)) if instance is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def compact(self) -> int:
        """Drop the references whose instance is gone; how many."""
        dead = [ref for ref in list(self._refs) if ref() is None]
        for ref in dead:
            self._refs.remove(ref)  # a dead weakref equals only itself
        return len(dead)


def track_models_weakly() -> int:
    """Make every model class's tracking weak (classes appear as moto imports services lazily, and a
    /moto-api/reset puts plain lists back), and compact the weak ones; the references dropped."""
    dropped = 0
    for models in list(model_data.values()):
        for model in list(models.values()):
            tracked = model.instances_tracked
            if isinstance(tracked, WeakInstances):
                dropped += tracked.compact()
            else:
                model.instances_tracked = WeakInstances(list(tracked))
    return dropped


def _prune_forever(retention: float) -> None:
    every = min(max(retention / 4, 0.5), 30.0) if retention > 0 else 30.0
    while True:
        time.sleep(every)
        try:
            if retention > 0:
                prune_finished_executions(retention)
            reap_finished_threads()
            track_models_weakly()
        except Exception:  # the pruner must never take the emulator down
            logging.getLogger(__name__).exception("pruning finished executions failed")


def main() -> None:
    retention = retention_seconds()
    metrics_period = sqs_metrics.period_seconds()
    emulator_s3_events.install()
    post_policy.install()  # S3's POST policy rules (moto stores any form upload)
    faults.install_in_emulator()
    xray_service.install()  # X-Ray's compiled traces, inferred segments, filter expressions
    cache_interpreter_parsing()
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    make_dynamodb_atomic()
    dynamodb_speed.install()
    share_interpreter_clients()
    track_models_weakly()
    describe_errors_without_request_id()
    name_dynamodb_errors_as_aws()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Keep-alive connections, and only the stack's own clients: no web page (host_guard).
    server.MotoRequestHandler = GuardedRequestHandler
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    threading.Thread(target=_prune_forever, args=(retention,), name="prune-executions", daemon=True).start()
    sqs_metrics.start(metrics_period)
    server.main()


def _exit_with_parent(parent: int) -> None:
    """The stack that started this emulator may be killed outright; never outlive it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    main()
