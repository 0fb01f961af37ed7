"""Keyed hashes and random tokens.

A subject (one number at one tenant) is keyed by HMAC-SHA256 over tenant and number
with a secret pepper, never by the number itself. The pepper has versions so it can be
rotated: new subjects use the current version, lookups also try the older ones.
Confirmation tokens are random and stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from smsconsent import settings


class PepperError(RuntimeError):
    pass


@dataclass(frozen=True)
class Pepper:
    current: str
    keys: dict[str, bytes]

    @classmethod
    def from_json(cls, text: str) -> Pepper:
        """``{"current": "v2", "v1": "...", "v2": "..."}`` (the template's generated secret)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PepperError("pepper secret is not JSON") from exc
        if not isinstance(data, dict):
            raise PepperError("pepper secret must be a JSON object")
        current = data.get("current")
        keys = {k: str(v).encode() for k, v in data.items() if k != "current" and v}
        if not isinstance(current, str) or current not in keys:
            raise PepperError("pepper secret must name its current version and hold that key")
        if any(len(v) < 16 for v in keys.values()):
            raise PepperError("pepper keys must be at least 16 characters")
        if any("." in k for k in keys):
            raise PepperError("pepper versions must not contain '.'")
        return cls(current=current, keys=keys)

    def versions(self) -> list[str]:
        """The current version first, then the older ones."""
        return [self.current, *sorted((v for v in self.keys if v != self.current), reverse=True)]


@cache
def pepper() -> Pepper:
    conf = settings.get()
    if conf.pepper_json:
        return Pepper.from_json(conf.pepper_json)
    if conf.pepper_secret_arn:
        from smsconsent import aws  # lazy: only AWS reads secrets

        return Pepper.from_json(aws.secret(conf.pepper_secret_arn, max_age=3600))
    raise PepperError("no pepper configured: set PEPPER_SECRET_ARN or PEPPER_JSON")


def subject_hash(tenant: str, e164: str, version: str | None = None) -> str:
    """``<version>.<hex>``: the subject's key at one tenant."""
    pep = pepper()
    ver = version or pep.current
    inner, outer = _pads(pep.keys[ver])
    # HMAC-SHA256 (RFC 2104) from the key's two hash states, made once: the pre-send check
    # keys thousands of numbers per request, and ``hmac.new`` redoes them every time.
    mac = inner.copy()
    mac.update(f"{tenant}\n{e164}".encode())
    result = outer.copy()
    result.update(mac.digest())
    return f"{ver}.{result.hexdigest()}"


@cache
def _pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 after the key XOR ipad, and after the key XOR opad (RFC 2104)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in key)),
        hashlib.sha256(bytes(b ^ 0x5C for b in key)),
    )


_BLOCK = 64  # SHA-256's block size in bytes


def subject_hashes(tenant: str, e164: str) -> list[str]:
    """The subject's key under every pepper version, current first."""
    return [subject_hash(tenant, e164, v) for v in pepper().versions()]


def keyed_digest(data: bytes, version: str | None = None) -> str:
    """``<version>.<hex>``: HMAC of personal data kept in evidence, so erasing the data keeps
    the chain checkable, and the data while held can be checked against it."""
    pep = pepper()
    ver = version or pep.current
    return f"{ver}.{hmac.new(pep.keys[ver], data, hashlib.sha256).hexdigest()}"


def counter_key(tenant_id: str, text: str) -> str:
    """A number (or its prefix) as it appears in the keys of counters and cooldowns:
    keyed, short, never the number itself."""
    return keyed_digest(f"{tenant_id}|{text}".encode())[:32]


def new_token() -> str:
    """A confirmation token: 144 random bits, URL-safe, 24 characters."""
    return secrets.token_urlsafe(18)


def new_code() -> str:
    """A per-recipient opt-out code: 96 random bits, 16 characters."""
    return secrets.token_urlsafe(12)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset() -> None:
    pepper.cache_clear()
    _pads.cache_clear()
