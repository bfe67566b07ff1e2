"""Custom metrics, written as CloudWatch embedded metric format (EMF) log lines by Powertools.

JobsCompleted / JobsFailed are counted by the reconcile state machine itself, where the terminal
transition happens exactly once; the functions count what only they see.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pixelpipe.logic.jobs import StepCompletion

metrics = Metrics()
# An invocation with nothing to count (a duplicate event, a redelivery of finished work) is normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def record_step(completion: StepCompletion) -> None:
    metrics.add_dimension(name="step", value=completion.step)
    metrics.add_metric(name="StepDuration", unit=MetricUnit.Milliseconds, value=completion.duration_ms)
    metrics.add_metric(
        name="StepSucceeded" if completion.succeeded else "StepFailed", unit=MetricUnit.Count, value=1
    )


def record_retry(step: str) -> None:
    """A transient failure handed back to SQS for another delivery."""
    metrics.add_metadata(key="retried_step", value=step)
    metrics.add_metric(name="StepRetried", unit=MetricUnit.Count, value=1)


def record_rejection() -> None:
    """An upload failed at intake (empty, too large): FAILED without reaching the state machine."""
    metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)


def record_timeouts(count: int) -> None:
    metrics.add_metric(name="JobsTimedOut", unit=MetricUnit.Count, value=count)
