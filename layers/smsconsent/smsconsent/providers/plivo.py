"""Plivo inbound messages (the application's message_url), signature V3.

``X-Plivo-Signature-V3`` (or ``X-Plivo-Signature-Ma-V3``, made with the main account's
token) holds one or more comma-separated base64 HMAC-SHA256 signatures, keyed with the
auth token, of ``URL.nonce`` (``X-Plivo-Signature-V3-Nonce``), where URL is the called URL
without its query, then ``?`` and the query parameters sorted (``name=value`` joined by
``&``, a repeated name's values sorted), and for a POST with parameters ``.`` (when
there was a query) and the POST parameters sorted as ``namevalue`` with no separator. This
is what ``plivo.utils.signature_v3.validate_v3_signature`` (plivo 4.63) computes; a
non-ASCII query value, which that function cannot handle (it raises), is decoded and
signed as UTF-8, as Plivo's Node SDK does. The older V2 signature covers only the URL and
nonce, not the message, so it is not accepted.

The answer is Plivo XML; a reply goes back in it as a ``<Message>`` from the number
written to, so ``respond`` needs the inbound message. ``MessageIntent`` (``optout``,
``optin``, ``help``) says Plivo already acted on a standard keyword.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlparse, urlunparse
from xml.sax.saxutils import escape, quoteattr

from smsconsent.providers.base import InboundMessage, Malformed, Webhook, same, secret

NAME = "plivo"
INLINE_REPLY = True
_INTENTS = ("optout", "optin", "help")
_XML = {"Content-Type": "application/xml; charset=utf-8"}


def signed_url(method: str, url: str, raw_query: str, post_params: list[tuple[str, str]]) -> str:
    """The URL part of what Plivo signs (before ``.nonce``). Parameters are sorted by name,
    then by value within a name (the SDKs sort a repeated name's values)."""
    parts = urlparse(url)
    base = urlunparse((parts.scheme, parts.netloc, parts.path, "", "", ""))
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(raw_query, keep_blank_values=True)))
    if method != "POST" or not post_params:
        return f"{base}?{query}" if query else base
    body = "".join(k + v for k, v in sorted(post_params))
    return f"{base}?{query}{'.' if query else ''}{body}"


def signature(auth_token: str, signed: str, nonce: str) -> str:
    digest = hmac.new(auth_token.encode(), f"{signed}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    token = secret(conf, "auth_token")
    nonce = hook.headers.get("x-plivo-signature-v3-nonce", "")
    given = [hook.headers.get("x-plivo-signature-v3", ""), hook.headers.get("x-plivo-signature-ma-v3", "")]
    if not token or not nonce or not any(given):
        return False
    try:
        is_form = hook.method == "POST" and hook.content_type == "application/x-www-form-urlencoded"
        post_params = hook.form_pairs() if is_form else []
        signed = signed_url(hook.method, hook.url, hook.raw_query, post_params)
        expected = signature(token, signed, nonce)
    except ValueError:  # too many fields, or a lone surrogate
        return False
    if not any(same(expected, one) for header in given if header for one in header.split(",")):
        return False
    hook.signed = f"{signed}.{nonce}".encode()
    return True


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def validate(hook: Webhook, message: InboundMessage) -> None:
    """Refuse a message whose id Plivo cannot have sent: Plivo signs POST fields as
    name+value with no separator, so a re-cut request keeps its signature under a "new"
    ``MessageUUID`` (the next field folded into it). A MessageUUID is one UUID."""
    values = [value for name, value in hook.form_pairs() if name == "MessageUUID"]
    if len(values) != 1 or not _UUID.fullmatch(values[0]):
        raise Malformed("MessageUUID", "MessageUUID is not one UUID")


def parse(hook: Webhook) -> InboundMessage | None:
    try:
        form = hook.form()
    except ValueError:  # too many fields
        return None
    message_id, sender = form.get("MessageUUID", ""), form.get("From", "")
    if not message_id or not sender or "Status" in form:
        return None  # a delivery report or something else that is not an inbound message
    kind = form.get("Type", "sms").lower()
    if kind not in ("sms", "mms", "whatsapp"):
        return None
    intent = form.get("MessageIntent", "").strip().lower()
    return InboundMessage(
        provider=NAME,
        message_id=message_id,
        sender=_plus(sender),
        recipient=_plus(form.get("To", "")),
        text=form.get("Text") or form.get("Body") or "",
        channel="whatsapp" if kind == "whatsapp" else "sms",
        handled=intent if intent in _INTENTS else None,
    )


def _plus(number: str) -> str:
    """Plivo writes numbers in international format without the ``+``."""
    return f"+{number}" if number.isascii() and number.isdigit() else number


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    """Plivo XML; with a reply, a ``<Message>`` back to the sender from the number written to.
    Plivo's XML can only send SMS, so a WhatsApp message gets no inline reply."""
    inner = ""
    if reply:
        if message is None:
            raise ValueError("a Plivo reply needs the inbound message (respond(reply, message=...))")
        if message.channel == "sms":
            src, dst = message.recipient.removeprefix("+"), message.sender.removeprefix("+")
            inner = f'<Message src={quoteattr(src)} dst={quoteattr(dst)} type="sms">{escape(reply)}</Message>'
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return {"statusCode": 200, "headers": dict(_XML), "body": body}
