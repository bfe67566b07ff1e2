"""The two kinds of failure a step can have; workers route on the type, not on messages."""


class PermanentError(Exception):
    """Retrying cannot help (corrupt, too large, unsupported): fail the step at once with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(Exception):
    """Worth another delivery (throttling, timeouts): SQS redelivers until maxReceiveCount."""
