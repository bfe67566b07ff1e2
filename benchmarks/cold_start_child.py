"""One cold start, for bench_cold_start.py: import a handler module (timed), then invoke it once per event.

    python cold_start_child.py MODULE EVENTS_FILE|'' FUNCTION MEMORY_MB TIMEOUT_SECONDS

Only `sys` and `time` are imported before the timed import (Lambda's own bootstrap loads little more),
so nothing the handler needs is paid for in advance; one JSON line out.
"""

import sys
import time

module, events_file, function, memory_mb, timeout_seconds = sys.argv[1:6]
started = time.perf_counter()
__import__(module)
import_ms = (time.perf_counter() - started) * 1000

import json  # noqa: E402 - after the timed import, on purpose
import os  # noqa: E402
import uuid  # noqa: E402


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    def __init__(self) -> None:
        self.function_name = function
        self.memory_limit_in_mb = int(memory_mb)
        self.invoked_function_arn = f"arn:aws:lambda:local:123456789012:function:{function}"
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{function}"
        self.log_stream_name = "cold-start"
        self._deadline = time.monotonic() + int(timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


result = {"import_ms": import_ms}
handler = getattr(sys.modules[module], "handler", None)
with open(events_file) if events_file else open(os.devnull) as source:
    events = json.loads(source.read() or "[]")
for name, event in zip(("first", "warm"), events, strict=False):
    # What the Lambda service sets per invocation; the X-Ray SDK hangs its subsegments under Parent.
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=1"
    started = time.perf_counter()
    response = handler(event, Context())
    result[f"{name}_ms"] = (time.perf_counter() - started) * 1000
    result[f"{name}_response"] = response
print(json.dumps(result))
