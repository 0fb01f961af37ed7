"""Outbound SMS. ``get()`` gives the sender the settings name: AWS End User Messaging
SMS in AWS, the local outbox on the local stack and in tests."""

from __future__ import annotations

from functools import cache

from smsconsent import settings
from smsconsent.sender.base import Sender, SendError, SmsMessage

__all__ = ["SendError", "Sender", "SmsMessage", "get"]


@cache
def get() -> Sender:
    kind = settings.get().sms_sender
    if kind == "outbox":
        from smsconsent.sender.outbox import OUTBOX

        return OUTBOX
    if kind == "aws":
        from smsconsent.sender.aws import EndUserMessagingSender

        return EndUserMessagingSender()
    raise ValueError(f"unknown SMS_SENDER {kind!r}: expected 'aws' or 'outbox'")
