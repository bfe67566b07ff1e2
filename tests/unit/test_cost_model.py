"""The pricing arithmetic of `pixelpipe cost`, checked against figures worked out by hand."""

from __future__ import annotations

import pytest

from pixelpipe_cli.cost_model import (
    FunctionUsage,
    Scenario,
    Usage,
    chunks_64kb,
    cost_lines,
    express_gb_seconds,
    lambda_duration_ms,
    lambda_gb_seconds,
    read_units,
    total,
    write_units,
)
from pixelpipe_cli.prices_us_east_1 import PRICES


def test_lambda_duration_rounds_up_to_the_next_millisecond():
    assert lambda_gb_seconds(1024, 100.2) == pytest.approx(0.101)  # 101 ms at 1 GB
    assert lambda_gb_seconds(256, 0.4) == pytest.approx(0.00025)  # 1 ms at 0.25 GB
    assert lambda_gb_seconds(512, 7.0) == pytest.approx(0.0035)  # exact milliseconds stay


def test_express_duration_rounds_up_to_100_ms_and_memory_to_64_mb_blocks():
    assert express_gb_seconds(100) == pytest.approx(0.0625 * 0.1)
    assert express_gb_seconds(101) == pytest.approx(0.0625 * 0.2)
    assert express_gb_seconds(1, memory_mb=65) == pytest.approx(0.125 * 0.1)


def test_sqs_and_sns_bill_every_started_64_kb():
    assert [chunks_64kb(n) for n in (0, 200, 65536, 65537, 262144)] == [1, 1, 1, 2, 4]


def test_dynamodb_units_per_1_kb_written_and_4_kb_read():
    assert [write_units(n) for n in (10, 1024, 1025, 3500)] == [1, 1, 2, 4]
    assert read_units(4097) == 2
    assert read_units(4097, consistent=False) == 1


def test_compute_stretches_below_one_vcpu_but_waiting_does_not():
    function = FunctionUsage(memory_mb=1024, compute_ms=100, waiting_ms=30, invocations_per_job=1)
    assert lambda_duration_ms(function, 1769) == pytest.approx(130)
    assert lambda_duration_ms(function, 884.5) == pytest.approx(230)  # half a vCPU: compute twice as long


def _usage(**overrides) -> Usage:
    worker = FunctionUsage(
        memory_mb=1769, compute_ms=100, waiting_ms=0, invocations_per_job=0.1, batch_size=10, from_queue=True
    )
    fields = dict(
        functions={"resize-worker": worker},
        requests={},
        sqs_message_bytes=300,
        sns_message_bytes=300,
        sqs_messages=0,
        sns_publishes=0,
        dynamodb_writes=0,
        dynamodb_reads=0,
        item_bytes=0,
        express_executions=0,
        labelled_images=1,
        traces=0,
    )
    return Usage(**{**fields, **overrides})


def _line(lines, service, item_start):
    return next(line for line in lines if line.service == service and line.item.startswith(item_start))


def test_a_batch_of_ten_shares_one_invocation_and_one_receive_and_delete():
    lines = cost_lines(_usage(), Scenario("configured"))
    # 1,000 images → 100 invocations of 10 records, each 1,000 ms at 1,769 MB.
    duration = _line(lines, "Lambda", "resize-worker duration")
    assert duration.quantity == pytest.approx(100 * 1769 / 1024 * 1.0)
    assert duration.usd == pytest.approx(172.75390625 * 0.0000133334)
    assert _line(lines, "Lambda", "resize-worker invocations").quantity == pytest.approx(100)
    assert _line(lines, "SQS", "resize-worker receive").quantity == pytest.approx(200)

    one_by_one = cost_lines(_usage(), Scenario("batch 1", batch_sizes={"resize-worker": 1}))
    assert _line(one_by_one, "Lambda", "resize-worker invocations").usd == pytest.approx(1000 * 0.20 / 1e6)
    assert _line(one_by_one, "SQS", "resize-worker receive").quantity == pytest.approx(2000)


def test_rekognition_costs_a_dollar_per_thousand_images_and_disappears_when_off():
    on = cost_lines(_usage(), Scenario("on"))
    off = cost_lines(_usage(), Scenario("off", rekognition=False))
    assert _line(on, "Rekognition", "DetectLabels").usd == pytest.approx(1.00)
    assert not [line for line in off if line.service == "Rekognition"]
    assert total(on) - total(off) == pytest.approx(1.00)
    assert on[0].service == "Rekognition"  # sorted by dollars, largest first


def test_express_logging_level_picks_the_bytes_it_writes():
    usage = _usage(express_executions=2, express_ms=[120, 80], express_log_bytes_all=2 * 1024**3 / 1000)
    every = _line(cost_lines(usage, Scenario("all")), "CloudWatch Logs", "Express")
    assert every.quantity == pytest.approx(2.0)  # 2 GB per 1,000 images
    assert every.usd == pytest.approx(1.00)
    silent = _line(cost_lines(usage, Scenario("off", express_log_level="OFF")), "CloudWatch Logs", "Express")
    assert silent.usd == 0
    # 120 ms bills 200 ms, 80 ms bills 100 ms, both at 64 MB: (0.2 + 0.1) × 0.0625 GB-s per image.
    duration = _line(cost_lines(usage, Scenario("all")), "Step Functions", "Express duration")
    assert duration.quantity == pytest.approx(1000 * 0.3 * 0.0625)


def test_every_price_names_its_unit_and_an_aws_page():
    for name, price in PRICES.items():
        assert price.usd >= 0 and price.unit, name
        assert price.source.startswith("https://aws.amazon.com/"), name


def _span(name, kind, depth, ms):
    return {"name": name, "kind": kind, "depth": depth, "durationMs": ms, "offsetMs": 0.0, "segmentId": "x"}


def test_a_job_trace_becomes_per_job_usage_with_configured_batching():
    from collections import Counter

    from pixelpipe_cli.cost import Executions, JobMeasure, usage_of

    # GIVEN a job trace as `pixelpipe trace --json` shows it: dispatch, a queue hop, a worker, an execution
    spans = [
        _span("dispatch-tasks", "function", 0, 40),
        _span("DynamoDB PutItem", "aws", 1, 5),
        _span("SNS Publish", "aws", 1, 5),
        _span("resize-queue", "queue wait", 0, 900),
        _span("resize-worker", "function", 0, 120),
        _span("## resize job", "local", 1, 110),
        _span("S3 GetObject", "aws", 2, 10),
        _span("S3 PutObject", "aws", 2, 10),
        _span("pixelpipe-reconcile", "state machine", 0, 150),
        _span("Record step success", "state", 1, 20),
        _span("Count step result", "state", 1, 20),
    ]
    resources = {
        "Record step success": "arn:aws:states:::dynamodb:updateItem",
        "Count step result": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
    }
    job = {
        "jobId": "j-1",
        "source": {"bucket": "b", "key": "uploads/cat.jpg", "versionId": "v", "size": 2000},
        "expectedSteps": ["resize"],
        "thumbnails": [{"key": "t/1024.jpg", "bytes": 500}],
    }
    # WHEN it is measured and averaged
    history = Executions([150], Counter(resources.values()), log_all=3000, log_error=0)
    usage = usage_of([JobMeasure(spans, job, resources, history)])
    # THEN durations split into compute and waiting, calls are counted, batching comes from pipeline.json
    resize = usage.functions["resize-worker"]
    assert (resize.compute_ms, resize.waiting_ms) == (100, 20)
    assert (resize.batch_size, resize.invocations_per_job) == (10, pytest.approx(0.1))  # pipeline.json: 10
    assert usage.functions["dispatch-tasks"].invocations_per_job == 1
    assert usage.requests["s3_put"] == 2  # the thumbnail and the upload itself
    assert usage.requests["s3_get"] == 1
    assert usage.requests["metrics_put"] == 1
    assert (usage.sns_publishes, usage.sqs_messages, usage.dynamodb_writes) == (1, 1, 2)
    assert usage.express_ms == [150] and usage.express_log_bytes_all == 3000
    assert usage.labelled_images == 0  # no analysis step: no DetectLabels call
    assert usage.stored_bytes == 2500


def test_the_batch_size_billed_is_the_one_pipeline_json_configures(tmp_path, monkeypatch):
    """A worker's invocations per image follow its configured batch size (not a copy of today's 10)."""
    from collections import Counter

    from pixelpipe_cli.cost import Executions, JobMeasure, usage_of
    from support.changed_config import use_changed_config, worker_entries

    use_changed_config(
        tmp_path, monkeypatch, lambda c: worker_entries(c)["resize"]["source"].update(batch_size=4)
    )
    spans = [_span("resize-worker", "function", 0, 120), _span("## resize job", "local", 1, 110)]
    job = {
        "jobId": "j-1",
        "source": {"bucket": "b", "key": "uploads/a.jpg", "size": 1},
        "expectedSteps": ["resize"],
    }
    usage = usage_of([JobMeasure(spans, job, {}, Executions([], Counter(), log_all=0, log_error=0))])
    resize = usage.functions["resize-worker"]
    assert (resize.batch_size, resize.invocations_per_job) == (4, pytest.approx(0.25))
    lines = cost_lines(usage, Scenario("configured"))
    assert _line(lines, "Lambda", "resize-worker invocations").quantity == pytest.approx(250)  # per 1,000
