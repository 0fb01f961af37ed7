"""Standard Webhooks signatures (www.standardwebhooks.com): ``v1,`` + base64 HMAC-SHA256 over
``{id}.{timestamp}.{body}``, keyed with the base64-decoded bytes after ``whsec_``.
Standard library only; the receiver verifies with any Standard Webhooks library."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

PREFIX = "whsec_"
USER_AGENT = "sms-consent-webhooks/1"
# The specification asks for keys of 24 to 64 bytes; new_secret makes 32.
_MIN_KEY, _MAX_KEY = 24, 64
# The id goes into a header and into the signed text, where a "." would blur where it ends.
_ID = re.compile(r"[A-Za-z0-9_:-]{1,256}")


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key of ``secret``; ValueError (which never shows the secret) if malformed."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not _MIN_KEY <= len(key) <= _MAX_KEY:
        raise ValueError(f"a webhook secret holds {_MIN_KEY} to {_MAX_KEY} bytes")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    if not _ID.fullmatch(message_id):
        raise ValueError("a webhook message id is 1 to 256 of A-Z a-z 0-9 _ : -")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("a webhook timestamp is whole seconds since the epoch")
    signed = b"%s.%d.%s" % (message_id.encode("ascii"), timestamp, body)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
