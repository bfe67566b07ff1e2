"""The dashboard's SEARCH expressions and the console's CloudWatch query find the metrics as AWS publishes
them, with and without name_prefix.

How a metric is published:
- SQS: namespace AWS/SQS, one dimension `QueueName` = the queue's deployed name (name_prefix included).
- The state machine's PutMetricData (statemachine/reconcile.asl.json): the dimensions its Task names.
- The functions' metrics (lambdas/pixelpipe/metrics.py) go out as Powertools EMF, which adds `service`
  (POWERTOOLS_SERVICE_NAME); the EMF below is Powertools' own serialisation.
How SEARCH matches (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html,
"metric schema"): a schema in braces
`{Namespace,Dim1,...}` matches only metrics in that namespace whose dimension NAMES are exactly the ones
listed (none listed: only metrics without dimensions); `MetricName="X"` then keeps metric X.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.stub import ANY, Stubber
from tf_model import REPO_ROOT, child

from pixelpipe.config import settings, workers
from pixelpipe_cli.target import Target
from pixelpipe_console import data_queues
from support.deployed_targets import deployed_target

Metric = dict[
    str, Any
]  # {"Namespace", "MetricName", "Dimensions": [{"Name", "Value"}]} as ListMetrics gives it


def search_matches(expression: str, metric: Metric) -> bool:
    """Whether a SEARCH expression's schema and MetricName term select `metric` (the subset used here)."""
    schema = re.fullmatch(r"\{([^}]*)\}\s*(.*)", expression.strip())
    if not schema:
        raise AssertionError(f"no schema in {expression!r}: a search without one is not modelled")
    namespace, *dimensions = [part.strip() for part in schema.group(1).split(",")]
    terms = dict(re.findall(r'(\w+)="([^"]*)"', schema.group(2)))
    if set(terms) - {"MetricName"}:
        raise AssertionError(f"search terms not modelled: {terms}")
    return (
        metric["Namespace"] == namespace
        and {d["Name"] for d in metric["Dimensions"]} == set(dimensions)
        and terms.get("MetricName", metric["MetricName"]) == metric["MetricName"]
    )


def test_the_matcher_follows_the_documented_schema_rule() -> None:
    metric = {"Namespace": "N", "MetricName": "M", "Dimensions": [{"Name": "service", "Value": "s"}]}
    assert search_matches('{N,service} MetricName="M"', metric)
    assert not search_matches('{N} MetricName="M"', metric)  # the schema names no dimension: exact set
    assert not search_matches('{N,service,step} MetricName="M"', metric)
    assert not search_matches('{N,service} MetricName="Other"', metric)


# --------------------------------------------------------------------------- metrics as AWS publishes them
def step_metric_names() -> list[str]:
    """The values the workers give `stepMetric`, the ASL's `MetricName.$` (adapters/reconciler.py)."""
    source = (REPO_ROOT / "lambdas/pixelpipe/adapters/reconciler.py").read_text()
    line = next(line for line in source.splitlines() if '"stepMetric"' in line)
    names = re.findall(r'"(Step\w+)"', line)
    assert len(names) == 2, line
    return names


def state_machine_metrics(namespace: str) -> list[Metric]:
    """Every metric the ASL's PutMetricData tasks send: names (a `MetricName.$` path takes each value its
    choices give it) and dimension names, as written in the ASL."""
    text = (REPO_ROOT / settings().state_machine.definition).read_text()
    published = []
    for state in json.loads(text.replace("${metrics_namespace}", namespace))["States"].values():
        if not state.get("Resource", "").endswith(":cloudwatch:putMetricData"):
            continue
        for datum in state["Parameters"]["MetricData"]:
            names = [datum["MetricName"]] if "MetricName" in datum else step_metric_names()
            dimensions = [{"Name": d["Name"], "Value": "resize"} for d in datum.get("Dimensions", [])]
            published += [{"Namespace": namespace, "MetricName": n, "Dimensions": dimensions} for n in names]
    return published


def function_metrics(namespace: str) -> list[Metric]:
    """Every metric lambdas/pixelpipe/metrics.py adds, as Powertools serialises it for one function."""
    source = (REPO_ROOT / "lambdas/pixelpipe/metrics.py").read_text()
    names = re.findall(r'add_metric\(name="(\w+)"', source)
    assert names, "no metric found in metrics.py"
    emf = Metrics(namespace=namespace, service="resize-worker")
    for name in names:
        emf.add_metric(name=name, unit=MetricUnit.Count, value=1)
    blob = emf.serialize_metric_set()
    emf.clear_metrics()
    published = []
    for directive in blob["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for metric in directive["Metrics"]:
                dimensions = [{"Name": name, "Value": blob[name]} for name in dimension_set]
                published.append(
                    {
                        "Namespace": directive["Namespace"],
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                    }
                )
    return published


# --------------------------------------------------------------------------- the dashboard's expressions
def dashboard_searches(namespace: str) -> dict[str, str]:
    """Each custom metric's SEARCH schema and term as the observability module renders it."""
    module = child("observability")
    template = module.locals["custom_searches"]
    # The module writes each search from a map of metric -> dimension names; render it as Terraform would.
    expected = (
        "${{for metric, dimensions in merge(local.custom_counts, local.custom_durations) : metric => "
        '"{${join(",", concat([var.metrics_namespace], dimensions))}} MetricName=\\"${metric}\\""}}'
    )
    assert template == expected, f"the search template changed shape; teach this test: {template}"
    dimensions = {**module.locals["custom_counts"], **module.locals["custom_durations"]}
    widgets = json.dumps(module.locals["widget_specs"])
    searches = {}
    for metric, names in dimensions.items():
        searches[metric] = "{" + ",".join([namespace, *names]) + "}" + f' MetricName="{metric}"'
        # every search is drawn by a widget
        assert "local.custom_searches[metric]" in widgets or f'custom_searches[\\"{metric}\\"]' in widgets
    return searches


@pytest.mark.parametrize("prefix", ["", "dev-"])
def test_every_custom_metric_is_drawn_by_a_search_that_matches_it_as_published(prefix: str) -> None:
    namespace = prefix + settings().metrics.namespace
    searches = dashboard_searches(namespace)
    published = state_machine_metrics(namespace) + function_metrics(namespace)
    for metric in published:
        if metric["MetricName"] == "StepSucceeded":
            continue  # counted, not charted: the dashboard shows failures, retries and outcomes
        search = searches.get(metric["MetricName"])
        assert search is not None, f"{metric['MetricName']} is published but not on the dashboard"
        assert search_matches(search, metric), (search, metric)
    # and no search waits for a metric nobody publishes
    for name, search in searches.items():
        assert any(search_matches(search, metric) for metric in published), (
            f"{name}: {search} matches nothing"
        )


def test_a_stack_with_a_prefix_does_not_chart_another_stacks_custom_metrics() -> None:
    base = settings().metrics.namespace
    theirs = state_machine_metrics(base) + function_metrics(base)
    for search in dashboard_searches("dev-" + base).values():
        assert not any(search_matches(search, metric) for metric in theirs), search


def test_terraform_gives_every_writer_of_custom_metrics_the_stack_namespace() -> None:
    """The functions' POWERTOOLS_METRICS_NAMESPACE, the ASL's namespace and the dashboard's are one local."""
    locals_text = (REPO_ROOT / "terraform/locals.tf").read_text()
    main_text = (REPO_ROOT / "terraform/main.tf").read_text()
    assert 'metrics_namespace = "${var.name_prefix}${local.config.metrics.namespace}"' in locals_text
    assert "POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace" in locals_text
    assert main_text.count("metrics_namespace        = local.metrics_namespace") == 1  # reconciler
    assert main_text.count("metrics_namespace       = local.metrics_namespace") == 1  # observability
    assert "config.metrics.namespace" not in main_text


# --------------------------------------------------------------------------- the console's queue ages
@pytest.mark.parametrize("prefix", ["", "dev-"])
def test_the_queues_page_asks_cloudwatch_for_the_deployed_queue_names_far_enough_back(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    # GIVEN a deployed stack (with or without a prefix) whose worker queues each hold a message, and SQS's
    # age metric published 9 minutes late, as SQS publishes it: QueueName = the deployed name
    target = deployed_target(prefix)
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    cloudwatch = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(Target, "client", lambda self, name: {"sqs": sqs, "cloudwatch": cloudwatch}[name])
    late = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=9)
    asked: list[dict[str, Any]] = []
    with Stubber(sqs) as sqs_stub, Stubber(cloudwatch) as cloudwatch_stub:
        for worker in workers().values():
            counts = {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "0"}
            sqs_stub.add_response("get_queue_attributes", {"Attributes": counts})
            name = prefix + worker.queue
            datapoint = {"Timestamp": late, "Maximum": 420.0, "Unit": "Seconds"}
            cloudwatch_stub.add_response(
                "get_metric_statistics",
                {"Label": "ApproximateAgeOfOldestMessage", "Datapoints": [datapoint]},
                {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                    "StartTime": ANY,
                    "EndTime": ANY,
                    "Period": 60,
                    "Statistics": ["Maximum"],
                },
            )
        cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.GetMetricStatistics", lambda params, **_: asked.append(params)
        )
        # WHEN the queues page reads its rows
        rows = data_queues.worker_queues(target)
        cloudwatch_stub.assert_no_pending_responses()
    # THEN each row names the deployed queue and shows the late datapoint's age
    assert [(row.name, row.oldest_age_s) for row in rows] == [
        (prefix + worker.queue, 420) for worker in workers().values()
    ]
    # AND the look-back reaches past the 9-minute-late datapoint
    assert all(params["StartTime"] <= late for params in asked)
