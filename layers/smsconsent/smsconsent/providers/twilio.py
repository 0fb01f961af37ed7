"""Twilio Programmable Messaging webhooks.

Signature (X-Twilio-Signature): base64 HMAC-SHA1 with the auth token over the full URL
Twilio called followed by every POST parameter, sorted by name, as name+value. Twilio
may or may not include the default port in the URL it signs, so both forms are tried
(as Twilio's own RequestValidator does). Replies go back as TwiML.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

from smsconsent.providers.base import InboundMessage, Malformed, StatusReport, Webhook, same, secret

NAME = "twilio"
INLINE_REPLY = True
_HANDLED = {"STOP": "optout", "START": "optin", "HELP": "help"}


def signed_string(url: str, params: list[tuple[str, str]]) -> str:
    """What Twilio signs: the URL, then every parameter sorted, as name+value with no
    separator (so the bytes alone do not say where one field ends: see ``validate``)."""
    return url + "".join(name + value for name, value in sorted(set(params)))


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    digest = hmac.new(auth_token.encode(), signed_string(url, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is no number: only the URL as given can match
        return [url]
    default = {"https": 443, "http": 80}.get(parts.scheme)
    # The host as written (hostname would lower-case it, and Twilio signs what it called).
    host = parts.netloc.rsplit("@", 1)[-1]
    if port is not None:
        host = host[: host.rfind(":")]
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{port or default}"))
    without_port = urlunsplit(parts._replace(netloc=host)) if port in (None, default) else url
    return list(dict.fromkeys([url, with_port, without_port]))


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    token = secret(conf, "auth_token")
    given = hook.headers.get("x-twilio-signature", "")
    if not token or not given:
        return False
    params = hook.form_pairs() if hook.method == "POST" else []
    matched = [url for url in _url_variants(hook.url) if same(signature(token, url, params), given)]
    if not matched:
        return False
    hook.signed = signed_string(matched[0], params).encode()
    return True


# A message SID: SM (SMS, WhatsApp) or MM (MMS) and 32 lower-case hex digits, 34 in all.
_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
_SID_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid")


def validate(hook: Webhook, message: InboundMessage) -> None:
    """Refuse an inbound message whose SID Twilio cannot have sent. Twilio signs name+value
    with no separator, so a captured request can be re-cut with its signature intact:
    ``MessageSid=SM…`` + ``NumMedia=0`` becomes ``MessageSid=SM…NumMedia0``, a "new" id.
    Every SID field must be one well-formed SID, all the same."""
    found = [(name, value) for name, value in hook.form_pairs() if name in _SID_FIELDS]
    for name, value in found:
        if not _SID.fullmatch(value):
            raise Malformed(name, f"{name} is not a Twilio message SID")
        if value != message.message_id:
            raise Malformed(name, f"{name} differs from the message's other SID fields")


def parse(hook: Webhook) -> InboundMessage | None:
    form = hook.form()
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From", "")
    if not sid or not sender or "MessageStatus" in form:
        return None  # a status callback or something else that is not an inbound message
    channel = "sms"
    if sender.startswith("whatsapp:"):
        channel, sender = "whatsapp", sender.removeprefix("whatsapp:")
    return InboundMessage(
        provider=NAME,
        message_id=sid,
        sender=sender,
        recipient=form.get("To", "").removeprefix("whatsapp:"),
        text=form.get("Body", ""),
        channel=channel,
        handled=_HANDLED.get(form.get("OptOutType", "").upper()),
    )


_FAILED = {"failed", "undelivered"}


def parse_status(hook: Webhook) -> StatusReport | None:
    """A status callback (``MessageStatus``); None for anything else. The SID must be one
    Twilio makes: the signature covers the fields but not where one ends (``validate``)."""
    form = hook.form()
    status, sid = form.get("MessageStatus", ""), form.get("MessageSid") or form.get("SmsSid") or ""
    if not status or not _SID.fullmatch(sid):
        return None
    return StatusReport(
        provider=NAME,
        message_id=sid,
        recipient=form.get("To", "").removeprefix("whatsapp:"),
        sender=form.get("From", "").removeprefix("whatsapp:"),
        failed=status.lower() in _FAILED,
        error_code=form.get("ErrorCode") or None,
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    inner = f"<Message>{escape(reply)}</Message>" if reply else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return {"statusCode": 200, "headers": {"Content-Type": "text/xml; charset=utf-8"}, "body": body}
