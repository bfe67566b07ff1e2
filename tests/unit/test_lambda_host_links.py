"""The links the Lambda host writes on a batch invocation's segment, as Lambda writes them for an SQS
batch: one per distinct message trace, the producer's parent segment where the header names one, at most
20 per segment (X-Ray trace linking)."""

from __future__ import annotations

from typing import Any

from pixelpipe_emulator.lambda_host import trace_links
from pixelpipe_emulator.xray_local import MAX_LINKS_PER_SEGMENT

PARENT = {"aws.xray.reserved.reference_type": "parent"}


def message(header: str | None) -> dict[str, Any]:
    return {"MessageId": "m", "Attributes": {"AWSTraceHeader": header} if header else {}}


def root(n: int) -> str:
    return f"1-6a1b2c3d-{n:024x}"


def test_one_link_per_distinct_trace_with_the_producers_parent_segment():
    links = trace_links(
        [
            message(f"Root={root(1)};Parent=53995c3f42cd8ad8;Sampled=1"),
            message(f"Root={root(1)};Parent=0000000000000001;Sampled=1"),  # the same job's trace again
            message(f"Root={root(2)};Sampled=1"),  # no Parent: a link to the trace alone
            message(None),  # no header: nothing to link
        ]
    )
    assert links == [
        {"trace_id": root(1), "id": "53995c3f42cd8ad8", "attributes": PARENT},
        {"trace_id": root(2), "attributes": PARENT},
    ]


def test_a_segment_carries_at_most_twenty_links():
    links = trace_links([message(f"Root={root(n)};Parent={n:016x};Sampled=1") for n in range(25)])
    assert MAX_LINKS_PER_SEGMENT == 20
    assert [link["trace_id"] for link in links] == [root(n) for n in range(20)]
