"""The SNS topic that fans a job out to the workers' queues."""

from __future__ import annotations

import json
from typing import Any

from pixelpipe.config import settings
from pixelpipe.logic.job_message import JobMessage


class JobsTopic:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._arn = topic_arn
        self._steps_attribute = settings().topic.steps_attribute

    def publish(self, message: JobMessage) -> str:
        """Publish once; each worker's subscription filter picks the message up only if it names its step."""
        response = self._client.publish(
            TopicArn=self._arn,
            Message=message.to_json(),
            MessageAttributes={
                self._steps_attribute: {
                    "DataType": "String.Array",
                    "StringValue": json.dumps(message.steps),
                },
                "jobId": {"DataType": "String", "StringValue": message.job_id},
            },
        )
        return response["MessageId"]
