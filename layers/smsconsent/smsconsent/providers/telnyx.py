"""Telnyx messaging webhooks (API v2, JSON).

``telnyx-signature-ed25519`` is the base64 Ed25519 signature of ``{timestamp}|{raw body}``
with ``telnyx-timestamp`` (unix seconds), checked with the tenant's ``public_key`` (base64
of the 32 raw bytes) as Telnyx's SDK does (``telnyx.lib.webhook_verification.
verify_webhook_signature``, telnyx 4.189). The timestamp must lie within
``timestamp_tolerance_seconds`` (default 300) of now. Only ``message.received`` events are
inbound messages; replies go through the SMS sender.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from smsconsent.providers.base import InboundMessage, StatusReport, Webhook, ok, secret, unix_time

NAME = "telnyx"
INLINE_REPLY = False
DEFAULT_TOLERANCE_SECONDS = 300


def _tolerance(conf: dict[str, Any]) -> int:
    return int(conf.get("timestamp_tolerance_seconds", DEFAULT_TOLERANCE_SECONDS))


def stale(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    """True when the request's timestamp is a time, but outside the window: the refusal says
    so (a clock far off, an old capture) rather than blaming the signature."""
    stamp = unix_time(hook.headers.get("telnyx-timestamp", ""))
    return stamp is not None and abs(now.timestamp() - stamp) > _tolerance(conf)


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    key = secret(conf, "public_key")
    given = hook.headers.get("telnyx-signature-ed25519", "")
    stamp = hook.headers.get("telnyx-timestamp", "")
    if not key or not given or unix_time(stamp) is None or stamp != stamp.strip():
        return False
    if stale(hook, conf, now):
        return False
    try:
        raw_key = base64.b64decode(key, validate=True)
        raw_signature = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw_key) != 32 or len(raw_signature) != 64:
        return False
    # Imported here: only the functions that serve Telnyx pay for loading cryptography.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signed = stamp.encode() + b"|" + hook.body
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_signature, signed)
    except InvalidSignature:
        return False
    hook.signed, hook.window = signed, 2 * _tolerance(conf)  # ahead or behind by the tolerance
    return True


def parse(hook: Webhook) -> InboundMessage | None:
    doc = hook.json()
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or data.get("event_type") != "message.received":
        return None  # a delivery status or another event
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return None
    sender, to = payload.get("from"), payload.get("to")
    first = to[0] if isinstance(to, list) and to and isinstance(to[0], dict) else {}
    message_id = payload.get("id")
    number = sender.get("phone_number") if isinstance(sender, dict) else None
    if not isinstance(message_id, str) or not message_id or not isinstance(number, str) or not number:
        return None
    text = payload.get("text")
    return InboundMessage(
        provider=NAME,
        message_id=message_id,
        sender=number,
        recipient=str(first.get("phone_number") or ""),
        text=text if isinstance(text, str) else "",
    )


_FAILED = {"delivery_failed", "sending_failed"}


def _first_code(*lists: Any) -> str | None:
    for errors in lists:
        if isinstance(errors, list):
            for error in errors:
                code = error.get("code") if isinstance(error, dict) else None
                if isinstance(code, str | int) and not isinstance(code, bool):
                    return str(code)
    return None


def parse_status(hook: Webhook) -> StatusReport | None:
    """A ``message.finalized`` event: the message's final status per recipient (the first:
    we send to one number at a time). None for any other event."""
    doc = hook.json()
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or data.get("event_type") != "message.finalized":
        return None
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return None
    sender, to = payload.get("from"), payload.get("to")
    first = to[0] if isinstance(to, list) and to and isinstance(to[0], dict) else {}
    message_id, number = payload.get("id"), first.get("phone_number")
    ours = sender.get("phone_number") if isinstance(sender, dict) else None
    if not all(isinstance(v, str) and v for v in (message_id, number, ours)):
        return None
    return StatusReport(
        provider=NAME,
        message_id=str(message_id),
        recipient=str(number),
        sender=str(ours),
        failed=first.get("status") in _FAILED,
        error_code=_first_code(first.get("errors"), payload.get("errors")),
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    return ok("")
