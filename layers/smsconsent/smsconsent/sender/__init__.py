"""Outbound SMS. ``get()`` gives the sender the settings name: AWS End User Messaging
SMS (or SNS) in AWS, the local outbox on the local stack and in tests. ``deliver()``
sends now, and queues what the provider did not take for the dispatcher to retry."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import cache
from typing import Any

from smsconsent import settings
from smsconsent.sender.base import Sender, SendError, SmsMessage, client_config

__all__ = ["QUEUED", "SendError", "Sender", "SmsMessage", "deliver", "get"]

QUEUED = "queued"


@cache
def get() -> Sender:
    kind = settings.get().sms_sender
    if kind == "outbox":
        from smsconsent.sender.outbox import OUTBOX

        return OUTBOX
    if kind == "aws":
        from smsconsent.sender.aws import EndUserMessagingSender

        return EndUserMessagingSender()
    if kind == "sns":
        from smsconsent.sender.sns import SnsSender

        return SnsSender()
    if kind == "twilio":
        from smsconsent.sender.twilio import TwilioSender

        return TwilioSender()
    raise ValueError(f"unknown SMS_SENDER {kind!r}: expected 'aws', 'sns', 'twilio' or 'outbox'")


def deliver(message: SmsMessage) -> str:
    """Send ``message``; when the provider fails in a way that may pass (an outage, a
    timeout, throttling) and the durable outbox is configured, queue it and return
    ``QUEUED``. Raises ``SendError`` when it can be neither sent nor queued, or when the
    provider says the number opted out with it (``opted_out``)."""
    try:
        return get().send(message)
    except SendError as exc:
        queue_url = settings.get().sms_queue_url
        if exc.opted_out or not exc.retryable or not queue_url:
            raise
        _enqueue(queue_url, message)
        return QUEUED


def _enqueue(queue_url: str, message: SmsMessage) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        queue_client().send_message(QueueUrl=queue_url, MessageBody=json.dumps(asdict(message)))
    except (BotoCoreError, ClientError) as exc:
        raise SendError(f"SMS could not be queued: {type(exc).__name__}") from exc


@cache
def queue_client() -> Any:
    """The SQS client of the durable queues (made on first use: only failures need it)."""
    from smsconsent import aws

    return aws.client("sqs", config=client_config())


def message_from_json(text: str) -> SmsMessage:
    """A queued message (raises ValueError/TypeError/KeyError on anything else)."""
    data = json.loads(text)
    return SmsMessage(
        **{k: data[k] for k in ("to", "body", "tenant", "kind")},
        origination_identity=data.get("origination_identity"),
        configuration_set=data.get("configuration_set"),
    )
