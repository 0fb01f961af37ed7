from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
