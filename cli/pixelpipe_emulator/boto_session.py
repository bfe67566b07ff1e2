"""The boto3 session every `boto3.client(...)` of this process is made from.

Hooks registered on it reach each client created afterwards (botocore copies the session's handlers into a
client when it is made), which is how the local stack records, faults and patches the calls of code it
does not change: the handlers, and moto's Step Functions interpreter inside the emulator.
"""

from __future__ import annotations

import boto3


def default_session() -> boto3.Session:
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION
