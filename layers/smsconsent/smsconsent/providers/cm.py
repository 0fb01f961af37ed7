"""CM.com inbound messages (MO webhooks).

CM.com does not sign inbound message webhooks, so the webhook URL configured at CM.com
carries a secret, ``...?secret=<webhook_secret>``, compared in constant time.

Formats accepted by ``parse``:

- Business Messaging (the current one, developers.cm.com "Incoming Messages"): POST JSON
  ``{"from": {"number", "name"}, "to": {"number"}, "message": {"text", ...},
  "reference", "groupings", "timeUtc", "channel", "messageContext"}``; channels ``SMS``
  and ``WhatsApp`` are messages, others (RCS, Viber, ...) are acknowledged only.
- The older gateway formats: JSON ``{"reference", "from", "to", "body", "groupings"}``,
  or the same fields as form or query parameters (``message``/``text`` for the body,
  ``sender``/``originator`` and ``receiver``/``recipient`` accepted too).

CM.com gives no unique id for an inbound message (``reference`` is the outgoing message
a reply answers, shared by every reply to it), so unless an ``id``/``messageId`` field is
present the message id is a hash of sender, recipient, text, time and reference:
identical for CM's retries of the same message. The old formats have no time either, so
nothing tells a retry from the same text sent again (STOP, START, STOP): they get no id,
and the inbound handler applies each delivery (a retried STOP changes nothing, but may
be answered twice). ``INLINE_REPLY`` is False.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from smsconsent.providers.base import InboundMessage, Webhook, msisdn, ok, query_secret, same, secret

NAME = "cm"
INLINE_REPLY = False
_CHANNELS = {"sms": "sms", "whatsapp": "whatsapp"}


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    expected = secret(conf, "webhook_secret")
    given = query_secret(hook.raw_query)
    if not expected or given is None:
        return False
    return same(given, expected)


def _number(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("number") or value.get("phoneNumber")
    return msisdn(value)


def _first(fields: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = fields.get(name)
        if value not in (None, ""):
            return value
    return None


def _message_id(fields: dict[str, Any], sender: str, recipient: str, text: str) -> str:
    explicit = _first(fields, "id", "messageId", "messageid", "message_id")
    if explicit is not None:
        return str(explicit)
    time = _first(fields, "timeUtc", "time", "received", "receivedAt")
    if time is None:
        return ""  # the old formats: no way to tell a retry from a repetition
    reference = _first(fields, "reference")
    canonical = json.dumps([sender, recipient, text, time, reference], ensure_ascii=False, default=str)
    return "cm-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse(hook: Webhook) -> InboundMessage | None:
    fields: dict[str, Any]
    doc = hook.json() if hook.body.lstrip().startswith(b"{") else None
    if isinstance(doc, dict):
        fields = doc
    else:
        try:
            fields = {name: value for name, value in hook.form_pairs() if name != "secret"}
        except ValueError:  # over 500 fields: not a message
            return None
    channel = _CHANNELS.get(str(fields.get("channel") or "SMS").lower())
    if channel is None:
        return None  # RCS, Viber, Apple Messages, ...: not a channel this service handles
    sender = _number(_first(fields, "from", "sender", "originator"))
    if not sender:
        return None
    message = fields.get("message")
    text = message.get("text") if isinstance(message, dict) else _first(fields, "body", "message", "text")
    if text is None:
        return None  # a delivery report or something else without a text
    recipient = _number(_first(fields, "to", "receiver", "recipient"))
    return InboundMessage(
        provider=NAME,
        message_id=_message_id(fields, sender, recipient, str(text)),
        sender=sender,
        recipient=recipient,
        text=str(text),
        channel=channel,
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    return ok()
