"""Custom metrics, written as CloudWatch embedded metric format (EMF) log lines by Powertools.

JobsCompleted / JobsFailed and StepSucceeded / StepFailed / StepDuration are counted by the reconcile
state machine itself, where the terminal transition and the recording of a step's attempt each happen
exactly once; the functions count what only they see.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
# An invocation with nothing to count (a duplicate event, a redelivery of finished work) is normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def record_retry(step: str) -> None:
    """A transient failure handed back to SQS for another delivery."""
    metrics.add_metadata(key="retried_step", value=step)
    metrics.add_metric(name="StepRetried", unit=MetricUnit.Count, value=1)


def record_rejection() -> None:
    """An upload failed at intake (empty, too large): FAILED without reaching the state machine."""
    metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)


def record_timeouts(count: int) -> None:
    metrics.add_metric(name="JobsTimedOut", unit=MetricUnit.Count, value=count)
