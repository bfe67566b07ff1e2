"""The emulator's X-Ray, storing and answering as AWS X-Ray does where Pixel-Pipe's tools depend on it.

moto stores every document as it was sent and answers `GetTraceSummaries` with a `FilterExpression`
with a 500 "Not implemented". X-Ray (AWS X-Ray segment documents; GetTraceSummaries, BatchGetTraces in
the API reference) instead:
- compiles the documents of a trace: a subsegment sent on its own (`type: subsegment`, `parent_id`, as
  the X-Ray SDK streams them inside Lambda) is returned inside its parent segment once that arrives;
- generates an *inferred segment* for every AWS SDK call (a subsegment with `namespace: "aws"`): a
  document of its own with a new id, the service's `name`, `parent_id` = the calling subsegment,
  `inferred: true` and the resource's `origin` (AWS::DynamoDB::Table, AWS::S3::Bucket, …), and no
  `type`;
- keeps every other field as sent, a segment's trace `links` included;
- answers `GetTraceSummaries` for a time range by trace start time (`TimeRangeType` TraceId, the
  default), newest first, in pages with a `NextToken`, each summary with its `Id`, `StartTime`,
  `Duration`, `Annotations` …; a filter expression it cannot parse is an `InvalidRequestException`,
  and so is a time range wider than X-Ray searches in one call (MAX_SUMMARY_WINDOW_SECONDS).

Only the filter expression Pixel-Pipe uses is understood: `annotation.KEY = "VALUE"` (or a number or
boolean). Any other expression is refused with X-Ray's error, never answered wrongly.

Also as on AWS, SNS carries the X-Ray trace header of a `Publish` request to the SQS messages it
delivers, as their `AWSTraceHeader` system attribute (moto's SNS sets none).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.sns.responses import SNSResponse
from moto.sqs.models import SQSBackend
from moto.xray.exceptions import BadSegmentException
from moto.xray.models import XRayBackend

# The widest StartTime..EndTime one GetTraceSummaries call searches. X-Ray bounds it; the API reference
# gives no figure, 24 h is the bound reported for the API (unverified here; the console's ranges go to
# 6 h). The trace reader never asks for more than 6 h (pixelpipe_cli.trace_search.MAX_SEARCH_WINDOW).
MAX_SUMMARY_WINDOW_SECONDS = 24 * 60 * 60
# Summaries per GetTraceSummaries page (X-Ray chooses its own; callers must follow NextToken).
SUMMARIES_PER_PAGE = 100

# The name and origin X-Ray gives the inferred segment of a call to each service (by the SDK
# subsegment's name, botocore's endpoint prefix).
INFERRED = {
    "dynamodb": ("DynamoDB", "AWS::DynamoDB::Table"),
    "s3": ("S3", "AWS::S3::Bucket"),
    "sns": ("SNS", "AWS::SNS"),
    "sqs": ("SQS", "AWS::SQS::Queue"),
    "rekognition": ("Rekognition", "AWS::Rekognition"),
    "states": ("STEPFUNCTIONS", "AWS::StepFunctions::StateMachine"),
}
_FILTER = re.compile(
    r'^\s*annotation\.(?P<key>[A-Za-z0-9_]+)\s*=\s*(?:"(?P<text>(?:[^"\\]|\\.)*)"|(?P<other>[^\s"]+))\s*$'
)


class InvalidRequest(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestException", message)


# ------------------------------------------------------------------------------------------ trace store


class CompiledTrace:
    """One trace's documents as X-Ray returns them: segments with their subsegments inside, inferred
    segments beside them, and subsegments whose parent has not arrived (yet) on their own."""

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.documents: dict[str, dict[str, Any]] = {}  # top level, by id: segments, inferred, orphans
        self._entities: dict[str, dict[str, Any]] = {}  # every segment and subsegment, by id
        self._inferred_for: set[str] = set()  # SDK subsegments already given their inferred segment
        self.annotated: set[tuple[str, Any]] = set()  # every (key, value) annotated anywhere in it
        # Earliest start and latest end of any document: kept as documents arrive, so a summary search
        # over thousands of traces does not walk their documents.
        self.start_time = float(int(trace_id.split("-")[1], 16))
        self.end_time = self.start_time
        self._timed = False

    def add(self, document: dict[str, Any]) -> None:
        start = float(document["start_time"])
        end = float(document.get("end_time", start))
        if self._timed:
            self.start_time, self.end_time = min(self.start_time, start), max(self.end_time, end)
        else:
            self.start_time, self.end_time, self._timed = start, end, True
        if document.get("type") == "subsegment":
            parent = self._entities.get(document.get("parent_id", ""))
            if parent is not None:
                _put_child(parent, document)
            else:
                self.documents[document["id"]] = document
        else:
            previous = self.documents.get(document["id"])
            if previous is not None:  # a complete segment replaces its in-progress one, children kept
                ids = {child["id"] for child in document.get("subsegments", [])}
                kept = [c for c in previous.get("subsegments", []) if c["id"] not in ids]
                if kept:
                    document["subsegments"] = [*document.get("subsegments", []), *kept]
            self.documents[document["id"]] = document
        self._index(document)
        self._adopt_orphans()
        self._infer(document)

    def _index(self, entity: dict[str, Any]) -> None:
        self._entities[entity["id"]] = entity
        for key, value in (entity.get("annotations") or {}).items():
            if isinstance(value, str | int | float | bool):
                self.annotated.add((key, _comparable(value)))
        for child in entity.get("subsegments", []):
            self._index(child)

    def _adopt_orphans(self) -> None:
        moved = True
        while moved:
            moved = False
            for orphan in [d for d in self.documents.values() if d.get("type") == "subsegment"]:
                parent = self._entities.get(orphan.get("parent_id", ""))
                if parent is not None and parent is not orphan:
                    del self.documents[orphan["id"]]
                    _put_child(parent, orphan)
                    moved = True

    def _infer(self, entity: dict[str, Any]) -> None:
        if entity.get("namespace") == "aws" and entity["id"] not in self._inferred_for:
            self._inferred_for.add(entity["id"])
            inferred = inferred_segment(self.trace_id, entity)
            self.documents[inferred["id"]] = inferred
        for child in entity.get("subsegments", []):
            self._infer(child)

    # --- what X-Ray answers

    def entities(self) -> list[dict[str, Any]]:
        """Every segment and subsegment, nested ones included (inferred segments too)."""
        found: list[dict[str, Any]] = []

        def walk(entity: dict[str, Any]) -> None:
            found.append(entity)
            for child in entity.get("subsegments", []):
                walk(child)

        for document in self.documents.values():
            walk(document)
        return found

    def as_trace(self) -> dict[str, Any]:
        """The `Trace` of a BatchGetTraces answer."""
        return {
            "Id": self.trace_id,
            "Duration": round(self.end_time - self.start_time, 3),
            "LimitExceeded": False,
            "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in self.documents.values()],
        }

    def summary(self) -> dict[str, Any]:
        """The `TraceSummary` of a GetTraceSummaries answer."""
        annotations: dict[str, list[dict[str, Any]]] = {}
        for document in self.documents.values():
            service = {"Name": document.get("name", ""), "Names": [document.get("name", "")]}
            if document.get("origin"):
                service["Type"] = document["origin"]
            stack = [document]
            while stack:
                entity = stack.pop()
                stack += entity.get("subsegments", [])
                for key, value in (entity.get("annotations") or {}).items():
                    values = annotations.setdefault(key, [])
                    typed = _annotation_value(value)
                    existing = next((v for v in values if v["AnnotationValue"] == typed), None)
                    if existing is None:
                        values.append({"AnnotationValue": typed, "ServiceIds": [service]})
                    elif service not in existing["ServiceIds"]:
                        existing["ServiceIds"].append(service)
        entities = self.entities()
        roots = [d for d in self.documents.values() if "parent_id" not in d and not d.get("inferred")]
        root = min(roots, key=lambda d: d["start_time"]) if roots else None
        return {
            "Id": self.trace_id,
            "StartTime": self.start_time,
            "Duration": round(self.end_time - self.start_time, 3),
            "ResponseTime": round(root.get("end_time", root["start_time"]) - root["start_time"], 3)
            if root
            else 0,
            "HasFault": bool(root and root.get("fault")),
            "HasError": bool(root and root.get("error")),
            "HasThrottle": any(e.get("throttle") for e in entities),
            "IsPartial": any(e.get("in_progress") for e in entities),
            "Annotations": annotations,
            "Users": [],
            "ServiceIds": [],
            "ResourceARNs": [],
            "InstanceIds": [],
            "AvailabilityZones": [],
            "FaultRootCauses": [],
            "ErrorRootCauses": [],
            "ResponseTimeRootCauses": [],
            "Revision": 1,
        }


def _put_child(parent: dict[str, Any], child: dict[str, Any]) -> None:
    """Into the parent's subsegments, replacing an earlier version of the same subsegment."""
    children = [c for c in parent.get("subsegments", []) if c["id"] != child["id"]]
    parent["subsegments"] = [*children, child]


def _comparable(value: str | int | float | bool) -> Any:
    """An annotation value as filter expressions compare it: numbers as numbers, booleans apart."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("string", value)


def _annotation_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": float(value)}
    return {"StringValue": str(value)}


def inferred_segment(trace_id: str, call: dict[str, Any]) -> dict[str, Any]:
    """The inferred segment X-Ray generates for an AWS SDK call subsegment."""
    name, origin = INFERRED.get(
        call.get("name", "").lower(), (call.get("name", ""), f"AWS::{call.get('name', '')}")
    )
    document: dict[str, Any] = {
        # Deterministic: the same call subsegment sent twice (in progress, then complete) infers one.
        "id": hashlib.sha256(f"{trace_id}/{call['id']}".encode()).hexdigest()[:16],
        "name": name,
        "trace_id": trace_id,
        "parent_id": call["id"],
        "inferred": True,
        "origin": origin,
        "start_time": call["start_time"],
        "aws": dict(call.get("aws") or {}),
    }
    for field in ("end_time", "in_progress", "http", "error", "fault", "throttle", "cause"):
        if field in call:
            document[field] = call[field]
    return document


class TraceStore:
    """Every trace of one X-Ray backend (one account and region)."""

    def __init__(self) -> None:
        self.traces: dict[str, CompiledTrace] = {}
        self.lock = threading.Lock()

    def put(self, raw: str) -> None:
        try:
            document = json.loads(raw)
        except ValueError:
            raise BadSegmentException(code="JSONFormatError", message="Bad JSON data") from None
        if not isinstance(document, dict):
            raise BadSegmentException(code="JSONFormatError", message="Bad JSON data")
        _validate(document)
        with self.lock:
            trace_id = document["trace_id"]
            self.traces.setdefault(trace_id, CompiledTrace(trace_id)).add(document)

    def batch_get(self, trace_ids: list[str]) -> dict[str, Any]:
        with self.lock:
            found = [self.traces[t].as_trace() for t in trace_ids if t in self.traces]
            missing = [t for t in trace_ids if t not in self.traces]
        return {"Traces": found, "UnprocessedTraceIds": missing}

    def summaries(
        self, start: float, end: float, expression: str | None, next_token: str | None
    ) -> dict[str, Any]:
        if end - start > MAX_SUMMARY_WINDOW_SECONDS:
            hours = MAX_SUMMARY_WINDOW_SECONDS // 3600
            raise InvalidRequest(f"Time range between StartTime and EndTime cannot exceed {hours} hours.")
        if end < start:
            raise InvalidRequest("EndTime cannot be before StartTime.")
        matches = annotation_filter(expression)
        with self.lock:
            in_range = [t for t in self.traces.values() if start <= t.start_time <= end]
            hits = sorted(
                ((t.start_time, t.trace_id, t) for t in in_range if matches(t)),
                key=lambda hit: (hit[0], hit[1]),
                reverse=True,  # X-Ray's first page holds the most recent traces
            )
            after = _decode_token(next_token)
            if after is not None:
                hits = [h for h in hits if (h[0], h[1]) < after]
            page = hits[:SUMMARIES_PER_PAGE]
            result: dict[str, Any] = {
                "TraceSummaries": [t.summary() for _, _, t in page],
                "ApproximateTime": time.time(),
                "TracesProcessedCount": len(in_range),
            }
        if len(hits) > len(page):
            result["NextToken"] = _encode_token((page[-1][0], page[-1][1]))
        return result


def _validate(document: dict[str, Any]) -> None:
    """The fields PutTraceSegments requires, refused with the codes moto uses."""
    if "id" not in document:
        raise BadSegmentException(code="MissingParam", message="Missing segment ID")
    required = ["name", "trace_id", "start_time"]
    if document.get("type") == "subsegment":
        required.append("parent_id")
    for field in required:
        if field not in document:
            raise BadSegmentException(seg_id=document["id"], code="MissingParam", message=f"Missing {field}")
    if "end_time" not in document and not document.get("in_progress"):
        raise BadSegmentException(
            seg_id=document["id"], code="MissingParam", message="Missing end_time or in_progress"
        )


def annotation_filter(expression: str | None):
    """A predicate on traces for `annotation.KEY = VALUE`; any other expression is X-Ray's
    InvalidRequestException (this emulator understands only the form Pixel-Pipe sends)."""
    if expression is None:
        return lambda trace: True
    match = _FILTER.match(expression)
    if not match:
        raise InvalidRequest(f"Invalid filter expression: {expression!r}")
    if match["text"] is not None:
        wanted: Any = re.sub(r"\\(.)", r"\1", match["text"])
    elif match["other"] in ("true", "false"):
        wanted = match["other"] == "true"
    else:
        try:
            wanted = float(match["other"])
        except ValueError:
            raise InvalidRequest(f"Invalid filter expression: {expression!r}") from None
    pair = (match["key"], _comparable(wanted))
    return lambda trace: pair in trace.annotated


def _encode_token(position: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _decode_token(token: str | None) -> tuple[float, str] | None:
    if not token:
        return None
    try:
        start, trace_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(start), str(trace_id)
    except (ValueError, TypeError):
        raise InvalidRequest("Invalid NextToken.") from None


# ------------------------------------------------------------------------------------- moto patches

_stores: dict[int, TraceStore] = {}
_stores_lock = threading.Lock()


def store_of(backend: XRayBackend) -> TraceStore:
    with _stores_lock:
        return _stores.setdefault(id(backend), TraceStore())


def _process_segment(self: XRayBackend, doc: Any) -> None:
    store_of(self).put(doc)


def _get_trace_ids(self: XRayBackend, trace_ids: list[str]) -> dict[str, Any]:
    return store_of(self).batch_get(trace_ids)


def _trace_summaries(self: Any) -> str | tuple[str, dict[str, int]]:
    """GetTraceSummaries as X-Ray answers it (moto's own answers only requests without a filter)."""
    params = self.request_params
    missing = [p for p in ("StartTime", "EndTime") if params.get(p) is None]
    if missing:
        return json.dumps({"__type": "MissingParameter", "message": f"Parameter {missing[0]} is missing"}), {
            "status": 400
        }
    try:
        start, end = float(params["StartTime"]), float(params["EndTime"])
    except (TypeError, ValueError):
        raise InvalidRequest("StartTime and EndTime must be timestamps.") from None
    if params.get("TimeRangeType", "TraceId") != "TraceId":
        raise InvalidRequest("Only TimeRangeType TraceId is supported by the local X-Ray.")
    store = store_of(self.xray_backend)
    return json.dumps(store.summaries(start, end, params.get("FilterExpression"), params.get("NextToken")))


# SNS → SQS: the trace header of the Publish request being served on this thread.
_publishing = threading.local()
_original_publish = SNSResponse.publish
_original_send_message = SQSBackend.send_message


def _publish(self: SNSResponse) -> Any:
    _publishing.header = self.headers.get("X-Amzn-Trace-Id")
    try:
        return _original_publish(self)
    finally:
        _publishing.header = None


def _send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
    header = getattr(_publishing, "header", None)
    if header and not kwargs.get("system_attributes"):
        kwargs["system_attributes"] = {"AWSTraceHeader": {"StringValue": header, "DataType": "String"}}
    return _original_send_message(self, *args, **kwargs)


_originals: dict[str, Any] = {}


def install() -> None:
    """Patch moto's X-Ray backend and response, and SNS's delivery to SQS (in the emulator process)."""
    from moto.xray.responses import XRayResponse

    if _originals:
        return
    _originals.update(
        process_segment=XRayBackend.process_segment,
        get_trace_ids=XRayBackend.get_trace_ids,
        trace_summaries=XRayResponse.trace_summaries,
    )
    XRayBackend.process_segment = _process_segment  # type: ignore[method-assign]
    XRayBackend.get_trace_ids = _get_trace_ids  # type: ignore[method-assign]
    XRayResponse.trace_summaries = _trace_summaries  # type: ignore[method-assign]
    SNSResponse.publish = _publish  # type: ignore[method-assign]
    SQSBackend.send_message = _send_message  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.xray.responses import XRayResponse

    if not _originals:
        return
    XRayBackend.process_segment = _originals["process_segment"]  # type: ignore[method-assign]
    XRayBackend.get_trace_ids = _originals["get_trace_ids"]  # type: ignore[method-assign]
    XRayResponse.trace_summaries = _originals["trace_summaries"]  # type: ignore[method-assign]
    SNSResponse.publish = _original_publish  # type: ignore[method-assign]
    SQSBackend.send_message = _original_send_message  # type: ignore[method-assign]
    _originals.clear()
    with _stores_lock:
        _stores.clear()
