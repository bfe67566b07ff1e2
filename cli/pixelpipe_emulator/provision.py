"""Creates on the emulator the same resources Terraform creates on AWS, from the same pipeline.json."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import boto3

from pixelpipe.config import settings
from pixelpipe.logic.jobs import EXPIRES_AT
from pixelpipe_emulator.target import DISPATCH_FAILURES_QUEUE, S3_EVENTS_QUEUE, Target

# Local only: S3 → Lambda triggers need Docker in moto, so S3 notifies this queue and the
# event-source runner hands each notification to dispatch-tasks as Lambda would.
S3_EVENTS_QUEUE_NAME = "pixelpipe-local-s3-events"
ACCOUNT_ID = "123456789012"
# Target.queues' key of the example rule's queue (the job-finished events).
JOB_EVENTS_QUEUE = "_job_events"


def definition_file() -> Traversable:
    """The ASL file pipeline.json names. The path is relative to the repository root for Terraform; this
    package carries the same `statemachine/` (a link in the checkout, a copy in the wheel), so the one path
    serves an installed package too."""
    return resources.files(__package__).joinpath(settings().state_machine.definition)


def state_machine_definition(table_name: str, event_bus: str | None = None) -> str:
    """The ASL with the variables Terraform's templatefile() fills in, filled in the same way (a test may
    name its own event bus)."""
    config = settings()
    events = config.events
    variables = {
        "jobs_table": table_name,
        "metrics_namespace": config.metrics.namespace,
        "event_bus": event_bus or events.bus,
        "event_source": events.source,
        "event_detail_type": events.detail_type,
    }
    text = definition_file().read_text()
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    if "${" in text:
        raise ValueError("the state machine definition uses a template variable provision does not fill in")
    return text


def filter_policy(step: str) -> str:
    return json.dumps({settings().topic.steps_attribute: [step]})


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})


def dead_letter_retention() -> dict[str, str]:
    """The attributes of every dead-letter and failure queue: pipeline.json's retention, as Terraform's."""
    return {"MessageRetentionPeriod": str(settings().retention.dead_letters_seconds)}


def job_finished_pattern() -> str:
    """The example rule's event pattern (as terraform/events.tf): every job-finished event of this stack."""
    events = settings().events
    return json.dumps({"source": [events.source], "detail-type": [events.detail_type]})


def provision_job_events(events_client: Any, sqs: Any, region: str) -> dict[str, str]:
    """The event bus, and the example rule sending every job-finished event to a queue with its DLQ
    (terraform/events.tf): moto's EventBridge delivers rule matches to SQS targets."""
    events = settings().events
    events_client.create_event_bus(Name=events.bus)
    dlq_url = sqs.create_queue(QueueName=events.example_dlq, Attributes=dead_letter_retention())["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{events.example_dlq}"
    url = sqs.create_queue(
        QueueName=events.example_queue,
        Attributes={
            **dead_letter_retention(),
            "RedrivePolicy": redrive_policy(dlq_arn, events.example_max_receive_count),
        },
    )["QueueUrl"]
    arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{events.example_queue}"
    events_client.put_rule(
        Name=events.example_rule, EventBusName=events.bus, EventPattern=job_finished_pattern()
    )
    events_client.put_targets(
        Rule=events.example_rule, EventBusName=events.bus, Targets=[{"Id": "example-queue", "Arn": arn}]
    )
    return {"url": url, "arn": arn, "dlq_url": dlq_url, "dlq_arn": dlq_arn}


def create_jobs_table(ddb: Any) -> None:
    """The jobs table with its status, deadline and event indexes, as modules/jobs_table declares it."""
    table = settings().table
    ddb.create_table(
        TableName=table.name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "jobId", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "S"},
            {"AttributeName": "deadlineAt", "AttributeType": "S"},
            {"AttributeName": "eventPendingAt", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": table.status_index,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": table.deadline_index,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "deadlineAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["steps"]},
            },
            {
                # Sparse: only a finished job whose event is not yet confirmed carries eventPendingAt;
                # eventId tells the sweeper a job rejected at intake (no execution to wait for).
                "IndexName": table.event_index,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "eventPendingAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["eventId"]},
            },
        ],
    )


def provision(clients: dict[str, Any], endpoint_url: str) -> Target:
    config = settings()
    region = config.region
    storage, table = config.storage, config.table
    s3, ddb, sns, sqs, sfn = (clients[name] for name in ("s3", "dynamodb", "sns", "sqs", "stepfunctions"))

    for bucket in (storage.upload_bucket, storage.thumbnail_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=storage.upload_bucket, VersioningConfiguration={"Status": "Enabled"})

    create_jobs_table(ddb)
    # As modules/jobs_table: records expire (moto stores the setting; it deletes nothing).
    ddb.update_time_to_live(
        TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT}
    )

    topic_arn = sns.create_topic(Name=config.topic.name)["TopicArn"]
    queues: dict[str, dict[str, str]] = {}
    for step, worker in config.workers.items():
        dlq_url = sqs.create_queue(QueueName=worker.dlq, Attributes=dead_letter_retention())["QueueUrl"]
        dlq_arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{worker.dlq}"
        url = sqs.create_queue(
            QueueName=worker.queue,
            Attributes={
                "VisibilityTimeout": str(worker.visibility_timeout_seconds),
                "RedrivePolicy": redrive_policy(dlq_arn, worker.max_receive_count),
            },
        )["QueueUrl"]
        arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{worker.queue}"
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": filter_policy(step)},
        )
        queues[step] = {"url": url, "arn": arn, "dlq_url": dlq_url, "dlq_arn": dlq_arn}

    # dispatch-tasks' on-failure destination. Lambda's async retries are played by the relay queue: an
    # event the function failed on stays there for another try, and after 1 + maximum_retry_attempts
    # tries SQS moves it here, as Lambda sends the invocation record to the destination on AWS.
    dispatch = config.dispatch
    failures_name = dispatch.failure_queue
    failures_url = sqs.create_queue(QueueName=failures_name, Attributes=dead_letter_retention())["QueueUrl"]
    failures_arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{failures_name}"
    queues[DISPATCH_FAILURES_QUEUE] = {"url": failures_url, "arn": failures_arn}

    events_url = sqs.create_queue(
        QueueName=S3_EVENTS_QUEUE_NAME,
        Attributes={"RedrivePolicy": redrive_policy(failures_arn, dispatch.maximum_retry_attempts + 1)},
    )["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=storage.upload_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{S3_EVENTS_QUEUE_NAME}",
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": storage.upload_prefix}]}},
                }
            ]
        },
    )
    queues[S3_EVENTS_QUEUE] = {
        "url": events_url,
        "arn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{S3_EVENTS_QUEUE_NAME}",
    }

    # A caller that passes no EventBridge client (tests written before the bus) gets one like its others.
    events_client = clients.get("events") or boto3.client(
        "events", region_name=region, endpoint_url=endpoint_url
    )
    queues[JOB_EVENTS_QUEUE] = provision_job_events(events_client, sqs, region)

    machine = config.state_machine
    state_machine_arn = sfn.create_state_machine(
        name=machine.name,
        definition=state_machine_definition(table.name),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{machine.name}",
        type="EXPRESS",
        tracingConfiguration={"enabled": True},
    )["stateMachineArn"]

    return Target(
        region=region,
        upload_bucket=storage.upload_bucket,
        upload_prefix=storage.upload_prefix,
        thumbnail_bucket=storage.thumbnail_bucket,
        jobs_table=table.name,
        status_index=table.status_index,
        topic_arn=topic_arn,
        state_machine_arn=state_machine_arn,
        queues=queues,
        endpoint_url=endpoint_url,
        account_id=ACCOUNT_ID,
        dispatch_function=config.dispatch_function,
    )
