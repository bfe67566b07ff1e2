"""`dlq list/redrive --queue` and the listings know a stack's queues by their deployed names too: with a
name_prefix, SQS, CloudWatch and the AWS console show `dev-resize-dlq`, not pipeline.json's `resize-dlq`."""

from __future__ import annotations

import pytest

from pixelpipe.config import workers
from pixelpipe_cli import dlq
from pixelpipe_console.data_queues import queue_name
from support.deployed_targets import deployed_target


@pytest.mark.parametrize("prefix", ["", "dev-"])
def test_a_dlq_is_found_by_its_step_its_config_name_or_its_deployed_name(prefix: str) -> None:
    stack = deployed_target(prefix)
    for step, worker in workers().items():
        for name in (step, worker.dlq, worker.queue, prefix + worker.dlq, prefix + worker.queue):
            assert dlq.worker_steps(stack, name) == [step], name
        assert queue_name(stack, step) == prefix + worker.queue
        assert queue_name(stack, step, dlq=True) == prefix + worker.dlq


def test_another_stacks_queue_is_refused() -> None:
    worker = next(iter(workers().values()))
    with pytest.raises(dlq.OperationError):
        dlq.worker_steps(deployed_target("dev-"), "prod-" + worker.dlq)
