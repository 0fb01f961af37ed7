from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# How long a send (or queueing it) may take: two tries of at most 1 s to connect and 2 s to
# answer. A provider slower than that counts as down and the SMS waits in the queue; more
# would outlast the public functions' 10 s timeout, and nothing would be queued at all.
CONNECT_SECONDS = 1
READ_SECONDS = 2
ATTEMPTS = 2


def client_config() -> Any:
    """The botocore client settings of every sending client (SMS, SNS, the SQS outbox)."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_SECONDS,
        read_timeout=READ_SECONDS,
        retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
    )


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str
    tenant: str
    kind: str  # confirmation | optout_confirmation | help | optin_confirmation
    origination_identity: str | None = None
    configuration_set: str | None = None


class SendError(Exception):
    """The provider did not take the message. ``retryable``: try again later;
    ``opted_out``: the provider says this number opted out with it."""

    def __init__(self, message: str, *, retryable: bool = True, opted_out: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.opted_out = opted_out


class Sender(Protocol):
    def send(self, message: SmsMessage) -> str:
        """Send and return the provider's message id, or raise ``SendError``."""
        ...
