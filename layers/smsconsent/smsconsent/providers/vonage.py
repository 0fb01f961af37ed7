"""Vonage (Nexmo) SMS API inbound webhooks, with signed webhooks on.

Vonage calls with GET (query), POST (form) or POST-JSON, as set in its dashboard. Signed
webhooks add ``timestamp`` (unix seconds), ``nonce`` and ``sig``. ``sig`` covers every
other parameter, sorted by name, each as ``&name=value`` with ``&`` and ``=`` in string
values replaced by ``_``: an HMAC (``md5``, ``sha1``, ``sha256``, ``sha512``) keyed with
the signature secret, or the legacy ``md5hash`` (MD5 of that string followed by the
secret), exactly as Vonage's Python SDK computes it (``Auth.sign_params`` in
vonage-http-client 1.5; ``Client.signature`` in vonage 3.x for ``md5hash``). ``sig`` is
compared case-insensitively. The conf's ``signature_method`` picks the method (default
``md5hash``, Vonage's own default); the timestamp must lie within
``timestamp_tolerance_seconds`` (default 300) of now. Vonage never repeats a parameter,
so a repeated one is refused rather than guessed at. Replies go through the SMS sender:
Vonage wants only a 200 or 204.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from smsconsent.providers.base import InboundMessage, Webhook, ok, same, secret

NAME = "vonage"
INLINE_REPLY = False
METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
DEFAULT_METHOD = "md5hash"
DEFAULT_TOLERANCE_SECONDS = 300


def _text(value: Any) -> str:
    return value.replace("&", "_").replace("=", "_") if isinstance(value, str) else f"{value}"


def signed_payload(params: Mapping[str, Any]) -> bytes:
    """What ``sig`` covers: every other parameter, sorted, as ``&name=value``."""
    return "".join(f"&{key}={_text(params[key])}" for key in sorted(params) if key != "sig").encode()


def signature(signature_secret: str, params: Mapping[str, Any], method: str = DEFAULT_METHOD) -> str:
    """Lower-case hex signature of ``params`` (``sig`` itself left out)."""
    payload = signed_payload(params)
    if method == "md5hash":
        # Vonage's legacy "MD5 hash": not an HMAC, the secret is appended.
        return hashlib.md5(payload + signature_secret.encode()).hexdigest()  # noqa: S324
    return hmac.new(signature_secret.encode(), payload, method).hexdigest()


def params(hook: Webhook) -> dict[str, Any] | None:
    """The webhook's parameters: the JSON object of a POST-JSON, else the form or query;
    None when there are none, or a name repeats."""
    if hook.method == "POST" and hook.content_type == "application/json":
        data = hook.json()
        return data if isinstance(data, dict) and data else None
    try:
        pairs = hook.form_pairs()
    except ValueError:  # too many fields
        return None
    found = dict(pairs)
    return found if found and len(found) == len(pairs) else None


def _stamp(stamp: Any) -> int | None:
    if isinstance(stamp, bool) or not isinstance(stamp, str | int):
        return None
    text = str(stamp)
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def _tolerance(conf: dict[str, Any]) -> int:
    return int(conf.get("timestamp_tolerance_seconds", DEFAULT_TOLERANCE_SECONDS))


def stale(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    """True when ``timestamp`` is a time, but outside the window (the refusal says so)."""
    stamp = _stamp((params(hook) or {}).get("timestamp"))
    return stamp is not None and abs(now.timestamp() - stamp) > _tolerance(conf)


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    key = secret(conf, "signature_secret")
    method = str(conf.get("signature_method") or DEFAULT_METHOD).lower()
    found = params(hook)
    if not key or method not in METHODS or found is None:
        return False
    given = found.get("sig")
    stamp = _stamp(found.get("timestamp"))
    if not isinstance(given, str) or not given or stamp is None:
        return False
    if abs(now.timestamp() - stamp) > _tolerance(conf):
        return False
    try:
        expected = signature(key, found, method)
    except UnicodeEncodeError:  # a lone surrogate in a JSON string
        return False
    if not same(expected, given.lower()):
        return False
    hook.signed, hook.window = signed_payload(found), 2 * _tolerance(conf)
    return True


def _plus(number: str) -> str:
    """Vonage writes numbers in international format without the ``+``."""
    return f"+{number}" if number.isascii() and number.isdigit() else number


def parse(hook: Webhook) -> InboundMessage | None:
    found = params(hook) or {}
    sender, message_id = str(found.get("msisdn") or ""), str(found.get("messageId") or "")
    if not sender or not message_id or "status" in found or "err-code" in found:
        return None  # a delivery receipt or something else that is not an inbound message
    if str(found.get("type") or "text") not in ("text", "unicode"):
        return None  # binary: no keyword in it
    if str(found.get("concat") or "").lower() == "true" and str(found.get("concat-part") or "1") != "1":
        return None  # a later part of a long message: a keyword can only open the first part
    return InboundMessage(
        provider=NAME,
        message_id=message_id,
        sender=_plus(sender),
        recipient=_plus(str(found.get("to") or "")),
        text=str(found.get("text") or ""),
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    return ok("")
