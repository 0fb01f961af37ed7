"""Bird (formerly MessageBird) inbound SMS webhooks.

Bird has signed webhooks three ways over the years; ``verify`` accepts each, keyed by the
header the request carries, all with the tenant's ``signing_key``:

1. ``messagebird-signature`` + ``messagebird-request-timestamp`` (what Bird documents
   today for Channels API webhook subscriptions, e.g. the ``sms.inbound`` event, see
   docs.bird.com "Verifying a webhook subscription"): base64 HMAC-SHA256 over
   ``timestamp + "\\n" + URL + "\\n" + SHA256(body)`` (the raw 32-byte digest), where URL is
   the subscription URL. Classic MessageBird (SMS API status reports and ``originator``/
   ``body`` forwards) signed the same way with the request's query parameters, sorted by
   name and URL-encoded, in place of the URL (``sorted_query``); that variant is refused:
   it binds no URL, so a request signed for one tenant would pass at another tenant
   sharing the account's signing key. Bird retries a
   failed delivery for up to 8 hours, with the original timestamp, so the timestamp may
   be ``signature_max_age_seconds`` old (default 9 hours) and 5 minutes ahead; a replay
   inside that window carries a message id the inbound handler has already seen.
2. ``messagebird-signature-jwt`` (MessageBird 2021+): an HS256/384/512 JWT with issuer
   ``MessageBird``, ``nbf``/``exp`` (1 s leeway, as the MessageBird SDKs allow),
   ``url_hash`` = hex SHA-256 of the URL and ``payload_hash`` = hex SHA-256 of the body
   (present exactly when there is a body).
3. ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` (Standard Webhooks, the
   newer bird.com platform whose events include ``sms.received``), when ``signing_key`` is
   a ``whsec_`` secret: ``v1,`` base64 HMAC-SHA256 over ``id.timestamp.body`` with the
   base64-decoded secret, timestamp within 5 minutes.

The URL is the tenant's configured ``webhook_url`` (else the request URL): configure it
exactly as registered with Bird. The answer cannot carry a reply (``INLINE_REPLY`` False).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from smsconsent.providers.base import InboundMessage, Webhook, msisdn, ok, same, secret

NAME = "bird"
INLINE_REPLY = False

DEFAULT_MAX_AGE = 9 * 3600  # scheme 1: Bird retries for 8 hours with the first timestamp
FUTURE_SKEW = 300
STANDARD_TOLERANCE = 300  # scheme 3: every attempt is signed afresh
JWT_LEEWAY = 1
_JWT_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_CHANNELS = {"sms": "sms", "whatsapp": "whatsapp"}


# ---- signatures -----------------------------------------------------------------------


def _mac(key: str, timestamp: str, signed_part: str, body_hash: bytes) -> bytes:
    payload = timestamp.encode() + b"\n" + signed_part.encode() + b"\n" + body_hash
    return hmac.new(key.encode(), payload, hashlib.sha256).digest()


def signature(key: str, timestamp: str, signed_part: str, body: bytes) -> str:
    """Scheme 1: base64 HMAC-SHA256 of ``timestamp \\n URL-or-sorted-query \\n sha256(body)``."""
    return base64.b64encode(_mac(key, timestamp, signed_part, hashlib.sha256(body).digest())).decode()


def sorted_query(raw_query: str) -> str:
    """Classic MessageBird: the query parameters sorted by name, URL-encoded."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=500)
    except ValueError:  # too many fields: nothing Bird sends
        return ""
    return urlencode(sorted(pairs, key=lambda pair: pair[0]))


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 12  # a Unix time, not a huge number


def _max_age(conf: dict[str, Any]) -> int:
    value = conf.get("signature_max_age_seconds")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_AGE


def _hmac_stale(hook: Webhook, conf: dict[str, Any], now: int) -> bool:
    timestamp = hook.headers.get("messagebird-request-timestamp", "").strip()
    if not _digits(timestamp):
        return False
    age = now - int(timestamp)
    return age > _max_age(conf) or age < -FUTURE_SKEW


def _verify_hmac(hook: Webhook, key: str, conf: dict[str, Any], now: int) -> bool:
    """Only the variant over the URL: it binds the request to the tenant's webhook URL. The
    classic variant over the sorted query binds nothing but the query (empty on a
    webhook), so a request signed for one tenant would pass at any other that shares the
    signing key (one Bird account, several tenants): refused."""
    timestamp = hook.headers.get("messagebird-request-timestamp", "").strip()
    given_b64 = hook.headers.get("messagebird-signature", "").strip()
    if not _digits(timestamp) or not given_b64 or _hmac_stale(hook, conf, now):
        return False
    try:
        given = base64.b64decode(given_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    body_hash = hashlib.sha256(hook.body).digest()
    if not same(_mac(key, timestamp, hook.url, body_hash), given):
        return False
    hook.signed = timestamp.encode() + b"\n" + hook.url.encode() + b"\n" + body_hash
    hook.window = _max_age(conf) + FUTURE_SKEW
    return True


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _verify_jwt(token: str, key: str, url: str, body: bytes, now: int) -> bool:
    parts = token.strip().split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        given = _b64url(parts[2])
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: absurdly nested JSON
        return False
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return False
    digest = _JWT_ALGORITHMS.get(str(header.get("alg")))
    if digest is None:  # "none" and anything else unsigned or asymmetric
        return False
    expected = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), digest).digest()
    if not same(expected, given):
        return False
    nbf, exp = _number(claims.get("nbf")), _number(claims.get("exp"))
    if claims.get("iss") != "MessageBird" or nbf is None or exp is None:
        return False
    if nbf > now + JWT_LEEWAY or exp <= now - JWT_LEEWAY:
        return False
    url_hash = claims.get("url_hash")
    if not isinstance(url_hash, str) or not same(hashlib.sha256(url.encode()).hexdigest(), url_hash):
        return False
    payload_hash = claims.get("payload_hash")
    if not body:
        return not payload_hash
    return isinstance(payload_hash, str) and same(hashlib.sha256(body).hexdigest(), payload_hash)


def _jwt_lifetime(token: str, now: int) -> int:
    """Seconds until a (verified) token's ``exp`` has passed, leeway included."""
    exp = _number(_jwt_claims(token).get("exp")) or now
    return max(0, int(min(exp - now, 10**9))) + 2 * JWT_LEEWAY


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.strip().split(".")
    try:
        claims = json.loads(_b64url(parts[1])) if len(parts) == 3 else None
    except (ValueError, binascii.Error, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _jwt_stale(token: str, now: int) -> bool:
    """The token's ``nbf``/``exp`` (read unverified: only to say why it was refused)."""
    claims = _jwt_claims(token)
    nbf, exp = _number(claims.get("nbf")), _number(claims.get("exp"))
    return (nbf is not None and nbf > now + JWT_LEEWAY) or (exp is not None and exp <= now - JWT_LEEWAY)


def _verify_standard(hook: Webhook, key: str, now: int) -> bool:
    if not key.startswith("whsec_"):
        return False
    try:
        raw_key = base64.b64decode(key.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    msg_id = hook.headers.get("webhook-id", "")
    timestamp = hook.headers.get("webhook-timestamp", "").strip()
    if not msg_id or not _digits(timestamp) or _standard_stale(hook, now):
        return False
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + hook.body
    expected = base64.b64encode(hmac.new(raw_key, signed, hashlib.sha256).digest()).decode()
    found = False
    for entry in hook.headers.get("webhook-signature", "").split():
        version, _, value = entry.partition(",")
        found |= version == "v1" and same(value, expected)  # no early exit: constant work
    if found:
        hook.signed, hook.window = signed, 2 * STANDARD_TOLERANCE
    return found


def _standard_stale(hook: Webhook, now: int) -> bool:
    timestamp = hook.headers.get("webhook-timestamp", "").strip()
    return _digits(timestamp) and abs(now - int(timestamp)) > STANDARD_TOLERANCE


def stale(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    """True when the scheme's timestamp (or the JWT's validity) is readable but outside its
    window: the refusal then says so."""
    now_ts = int(now.timestamp())
    headers = hook.headers
    if "webhook-signature" in headers:
        return _standard_stale(hook, now_ts)
    if "messagebird-signature-jwt" in headers:
        return _jwt_stale(headers["messagebird-signature-jwt"], now_ts)
    if "messagebird-signature" in headers:
        return _hmac_stale(hook, conf, now_ts)
    return False


def verify(hook: Webhook, conf: dict[str, Any], now: datetime) -> bool:
    key = secret(conf, "signing_key")
    if not key:
        return False
    now_ts = int(now.timestamp())
    headers = hook.headers
    if "webhook-signature" in headers:
        return _verify_standard(hook, key, now_ts)
    if "messagebird-signature-jwt" in headers:
        token = headers["messagebird-signature-jwt"]
        if not _verify_jwt(token, key, hook.url, hook.body, now_ts):
            return False
        hook.signed = token.strip().encode()  # its claims hash the URL and the body
        hook.window = _jwt_lifetime(token, now_ts)
        return True
    if "messagebird-signature" in headers:
        return _verify_hmac(hook, key, conf, now_ts)
    return False


# ---- messages -------------------------------------------------------------------------


def _get(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _address(value: Any) -> Any:
    """A number given as a string or as an object holding it."""
    if isinstance(value, dict):
        return value.get("phone_number") or value.get("number") or value.get("identifierValue")
    return value


def _channels_message(doc: dict[str, Any]) -> InboundMessage | None:
    """Channels API webhook: ``{"service": "channels", "event": "sms.inbound", "payload": {...}}``."""
    platform, _, kind = str(doc.get("event", "")).partition(".")
    payload = doc.get("payload")
    if kind != "inbound" or platform not in _CHANNELS or not isinstance(payload, dict):
        return None
    if payload.get("direction", "incoming") != "incoming":
        return None
    message_id = payload.get("id")
    sender = _get(payload, "sender", "contact", "identifierValue")
    if not message_id or not sender:
        return None
    text = _get(payload, "body", "text", "text") if _get(payload, "body", "type") == "text" else ""
    return InboundMessage(
        provider=NAME,
        message_id=str(message_id),
        sender=msisdn(sender),
        recipient=msisdn(_get(payload, "receiver", "connector", "identifierValue")),
        text=str(text or ""),
        channel=_CHANNELS[platform],
    )


def _platform_message(doc: dict[str, Any], hook: Webhook) -> InboundMessage | None:
    """bird.com platform event (Standard Webhooks): ``{"type": "sms.received", "data": {...}}``."""
    platform, _, kind = str(doc.get("type", "")).partition(".")
    data = doc.get("data")
    if kind != "received" or platform not in _CHANNELS or not isinstance(data, dict):
        return None
    sender = _address(data.get("from"))
    message_id = (
        data.get("id") or data.get("message_id") or data.get("sms_id") or hook.headers.get("webhook-id")
    )
    if not sender or not message_id:
        return None
    return InboundMessage(
        provider=NAME,
        message_id=str(message_id),
        sender=msisdn(sender),
        recipient=msisdn(_address(data.get("to"))),
        text=str(data.get("text") or data.get("body") or ""),
        channel=_CHANNELS[platform],
    )


def parse(hook: Webhook) -> InboundMessage | None:
    doc = hook.json() if hook.body.lstrip().startswith(b"{") else None
    if isinstance(doc, dict):
        if "event" in doc and "payload" in doc:
            return _channels_message(doc)
        if "type" in doc and "data" in doc:
            return _platform_message(doc, hook)
        return None
    # Classic MessageBird SMS forward (query or form): id, originator, recipient, body.
    # Status reports carry id, recipient and status but no originator: not a message.
    try:
        form = hook.form()
    except ValueError:  # over 500 fields: not a message
        return None
    message_id, sender = form.get("id"), form.get("originator")
    if not message_id or not sender or "body" not in form:
        return None
    return InboundMessage(
        provider=NAME,
        message_id=message_id,
        sender=msisdn(sender),
        recipient=msisdn(form.get("recipient")),
        text=form["body"],
    )


def respond(reply: str | None, message: InboundMessage | None = None) -> dict[str, Any]:
    return ok()
