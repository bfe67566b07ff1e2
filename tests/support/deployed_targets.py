"""A deployed stack's target file as `terraform output -json cli_target` writes it, for tests of the AWS
paths: every queue under its deployed name (the stack's name_prefix + pipeline.json's name)."""

from __future__ import annotations

from pixelpipe.config import workers
from pixelpipe_cli.target import Target

ACCOUNT = "123456789012"
REGION = "us-east-1"


def deployed_target(prefix: str = "") -> Target:
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}"
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{prefix}"
    queues = {
        step: {
            "url": url + worker.queue,
            "arn": arn + worker.queue,
            "dlq_url": url + worker.dlq,
            "dlq_arn": arn + worker.dlq,
        }
        for step, worker in workers().items()
    }
    return Target(
        region=REGION,
        upload_bucket=f"{prefix}uploads",
        upload_prefix="uploads/",
        thumbnail_bucket=f"{prefix}thumbs",
        jobs_table=f"{prefix}jobs",
        status_index="status-createdAt-index",
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}jobs",
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{prefix}reconcile",
        queues=queues,
    )
