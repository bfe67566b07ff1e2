"""Reading a job's segment documents: X-Ray's BatchGetTraces takes at most 5 trace ids a call and pages
its answer; every id and every page must be read."""

from __future__ import annotations

import json
from typing import Any

from pixelpipe_cli import traces


class FakeXRay:
    """BatchGetTraces as AWS documents it: one segment per trace id, answers split over two pages."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def batch_get_traces(self, TraceIds: list[str], NextToken: str | None = None) -> dict[str, Any]:
        assert len(TraceIds) <= 5, "BatchGetTraces accepts at most 5 ids"
        self.calls.append({"ids": TraceIds, "token": NextToken})
        half = (len(TraceIds) + 1) // 2
        chosen = TraceIds[half:] if NextToken else TraceIds[:half]
        answer: dict[str, Any] = {
            "Traces": [{"Id": i, "Segments": [{"Document": json.dumps({"id": i})}]} for i in chosen]
        }
        if not NextToken and TraceIds[half:]:
            answer["NextToken"] = "page-2"
        return answer


class FakeTarget:
    def __init__(self, xray: FakeXRay) -> None:
        self.xray = xray

    def client(self, service: str) -> FakeXRay:
        assert service == "xray"
        return self.xray


def test_every_trace_id_and_every_page_is_read() -> None:
    xray = FakeXRay()
    ids = [f"1-00000000-{n:024d}" for n in range(7)]
    documents = traces.segment_documents(FakeTarget(xray), ids)  # type: ignore[arg-type]
    assert sorted(d["id"] for d in documents) == ids
    assert [len(call["ids"]) for call in xray.calls] == [5, 5, 2, 2]
    assert [call["token"] for call in xray.calls] == [None, "page-2", None, "page-2"]


def test_no_trace_ids_means_no_call() -> None:
    xray = FakeXRay()
    assert traces.segment_documents(FakeTarget(xray), []) == []  # type: ignore[arg-type]
    assert xray.calls == []
