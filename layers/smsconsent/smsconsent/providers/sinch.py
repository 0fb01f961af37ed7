"""Sinch SMS REST API (XMS) inbound callbacks: JSON ``{"type": "mo_text", "id", "from",
"to", "body", "received_at", ...}``.

Sinch signs SMS callbacks only when the account manager has enabled HMAC callback
authentication. Then each callback carries ``x-sinch-webhook-signature`` (base64
HMAC over ``body + "." + nonce + "." + timestamp``, the scheme of Sinch's SDKs),
``x-sinch-webhook-signature-nonce``, ``-timestamp`` (Unix seconds) and ``-algorithm``
(``HmacSHA256`` when absent; ``HmacSHA384``/``HmacSHA512`` too). ``verify`` checks that
signature with the tenant's ``signature_secret`` (else ``webhook_secret``) and a timestamp
within ``signature_max_age_seconds`` (default 5 minutes) either way.

Without those headers the callback is authenticated by a secret in the URL configured
at Sinch: ``...?secret=<webhook_secret>``, compared in constant time; but only while no
``signature_secret`` is configured: once it is, every callback must carry the HMAC.

Delivery reports (``delivery_report_*``, ``recipient_delivery_report_*``) and binary
MO messages are acknowledged and not treated as messages. ``INLINE_REPLY`` is False.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from smsconsent.providers.base import (
    InboundMessage,
    Webhook,
    msisdn,
    ok,
    query_secret,
    same,
    secret,
    unix_time,
)

NAME = "sinch"
INLINE_REPLY = False

DEFAULT_MAX_AGE = 300
_ALGORITHMS = {"hmacsha256": hashlib.sha256, "hmacsha384": hashlib.sha384, "hmacsha512": hashlib.sha512}
_SIGNATURE = "x-sinch-webhook-signature"


def signature(key: str, body: bytes, nonce: str, timestamp: str, algorithm: str = "HmacSHA256") -> str:
    """Base64 HMAC of ``body.nonce.timestamp`` with the callback secret."""
    digest = _ALGORITHMS[algorithm.lower()]
    message = body + b"." + nonce.encode() + b"." + timestamp.encode()
    return base64.b64encode(hmac.new(key.encode(), message, digest).digest()).decode()


def _max_age(conf: dict[str, Any]) -> int:
    value = conf.get("signature_max_age_seconds")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_AGE


def stale(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    """True when a signed callback's timestamp is a time, but outside the window."""
    if _SIGNATURE not in hook.headers:
        return False
    stamp = unix_time(hook.headers.get(f"{_SIGNATURE}-timestamp", ""))
    return stamp is not None and abs(int(now.timestamp()) - stamp) > _max_age(conf)


def _verify_hmac(hook: Webhook, key: str, conf: dict[str, Any], now: datetime) -> bool:
    headers = hook.headers
    given = headers.get(_SIGNATURE, "").strip()
    nonce = headers.get(f"{_SIGNATURE}-nonce", "")
    timestamp = headers.get(f"{_SIGNATURE}-timestamp", "").strip()
    algorithm = headers.get(f"{_SIGNATURE}-algorithm", "").strip() or "HmacSHA256"
    if not given or not nonce or unix_time(timestamp) is None:
        return False
    if algorithm.lower() not in _ALGORITHMS or stale(hook, conf, now):
        return False
    if not same(signature(key, hook.body, nonce, timestamp, algorithm), given):
        return False
    hook.signed = hook.body + b"." + nonce.encode() + b"." + timestamp.encode()
    hook.window = 2 * _max_age(conf)
    return True


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    url_secret = secret(conf, "webhook_secret")
    hmac_secret = secret(conf, "signature_secret")
    if _SIGNATURE in hook.headers:
        key = hmac_secret or url_secret
        return _verify_hmac(hook, key, conf, now) if key else False
    if hmac_secret:
        # Sinch signs every callback once HMAC is on: an unsigned one with the URL secret
        # is someone who read the URL (a log, a proxy), and has no timestamp to bound it.
        return False
    given = query_secret(hook.raw_query)
    if not url_secret or given is None:
        return False
    return same(given, url_secret)


def parse(hook: Webhook) -> InboundMessage | None:
    doc = hook.json()
    if not isinstance(doc, dict) or doc.get("type") not in ("mo_text", "mo_media"):
        return None  # delivery reports, binary MO, anything else: acknowledged only
    message_id, sender = doc.get("id"), doc.get("from")
    if not message_id or not sender:
        return None
    body = doc.get("body")
    if doc["type"] == "mo_media":
        body = body.get("message") if isinstance(body, dict) else None
    return InboundMessage(
        provider=NAME,
        message_id=str(message_id),
        sender=msisdn(sender),
        recipient=msisdn(doc.get("to")),
        text=str(body or ""),
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    return ok()
