"""What every provider module shares: the webhook request and the normalised message."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from smsconsent.http import Request
from smsconsent.tenants import SecretRef


@dataclass(frozen=True)
class InboundMessage:
    """One inbound SMS, whatever provider brought it."""

    provider: str
    message_id: str
    sender: str  # the phone that wrote (as the provider gives it)
    recipient: str  # our number that received it
    text: str
    channel: str = "sms"
    # The keyword the provider already acted on (Twilio OptOutType, Plivo MessageIntent):
    # record it, send nothing more.
    handled: str | None = None
    # SHA-256 of what the accepted signature covered (``Webhook.signed``) and how long it
    # stays acceptable (None: always): a replay re-cut around the same signed bytes has
    # another message id but this same digest, and the record outlives the window.
    signed_digest: str | None = None
    replay_window: int | None = None


@dataclass(frozen=True)
class StatusReport:
    """A provider's status callback for a message we sent: to whom, from which of our
    numbers, whether it failed and with which code."""

    provider: str
    message_id: str
    recipient: str  # the person's number
    sender: str  # our number that sent it
    failed: bool
    error_code: str | None


class Malformed(ValueError):
    """A verified webhook whose message cannot be one the provider sent (an id of the
    wrong shape: a signed field re-cut to make a new id); ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Webhook:
    """The HTTP request a provider made, as signature checks need it."""

    method: str
    url: str  # the URL the provider called: the tenant's configured one, else the request's
    headers: dict[str, str]  # lower-case names
    raw_query: str
    body: bytes
    _form: list[tuple[str, str]] | None = field(default=None, repr=False)
    # What the accepted signature covers, set by ``verify``: any request that passes the
    # same signature check carries the same bytes here, however its fields are re-cut, so
    # the inbound handler takes it for a replay (None: nothing per message is signed).
    signed: bytes | None = field(default=None, repr=False)
    # How long (seconds) the signature of ``signed`` stays acceptable, set by ``verify`` for
    # schemes with a timestamp; None: it never goes stale (Twilio, Plivo: no timestamp).
    window: int | None = field(default=None, repr=False)

    @classmethod
    def from_request(cls, request: Request, conf: dict[str, Any]) -> Webhook:
        """The webhook as the provider made it: the URL it signed is the tenant's configured
        one, else the URL it called."""
        return cls(
            method=request.method,
            url=conf.get("webhook_url") or request.url,
            headers=request.headers,
            raw_query=request.raw_query,
            body=request.raw_body,
        )

    @classmethod
    def status_from_request(cls, request: Request, conf: dict[str, Any], provider: str) -> Webhook:
        """A status callback as the provider made it: its URL is the configured inbound URL
        with ``/status/`` for ``/inbound/`` (one public base for both), else the URL it called."""
        configured = conf.get("webhook_url")
        inbound_path = f"/inbound/{provider}"
        url = request.url
        if isinstance(configured, str) and inbound_path in configured:
            url = configured.replace(inbound_path, f"/status/{provider}")
        return cls(request.method, url, request.headers, request.raw_query, request.raw_body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def form_pairs(self) -> list[tuple[str, str]]:
        """Form fields in order (body for POST form posts, else the query string)."""
        if self._form is None:
            if self.method == "POST" and self.content_type == "application/x-www-form-urlencoded":
                source = self.body.decode("utf-8", "replace")
            else:
                source = self.raw_query
            try:
                self._form = parse_qsl(source, keep_blank_values=True, max_num_fields=500)
            except ValueError:
                self._form = []  # more fields than any provider sends: nothing to verify or read
        return self._form

    def form(self) -> dict[str, str]:
        return dict(self.form_pairs())

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, RecursionError):
            return None


def msisdn(value: Any) -> str:
    """E.164 for numbers a provider sends without the ``+`` (``4915...``, ``0049...``);
    a national number (``0151...``: no country code starts with 0) stays as it is, for the
    tenant's default country to read, as do short codes and alphanumeric senders."""
    text = str(value or "").strip()
    if text.startswith("00") and text[2:].isdigit():
        return "+" + text[2:]
    if text.isdigit() and len(text) >= 8 and not text.startswith("0"):
        return "+" + text
    return text


def unix_time(text: str) -> int | None:
    """A Unix time in seconds as a header carries it; None when it is not one (or is absurdly
    long: ``int`` of thousands of digits is slow and no clock needs them)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def query_secret(raw_query: str) -> str | None:
    """The ``secret`` parameter of the request's query string (None when absent or repeated):
    how providers without request signing (CM.com, Sinch unsigned) prove who calls."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, max_num_fields=500)
    except ValueError:
        return None
    values = [value for name, value in pairs if name == "secret"]
    return values[0] if len(values) == 1 else None


def secret(conf: dict[str, Any], name: str) -> str | None:
    """A provider secret from the tenant's settings, resolved (cached by the resolver)."""
    ref = conf.get(name)
    return ref.resolve() if isinstance(ref, SecretRef) else None


def hmac_hex(key: str | bytes, message: bytes, algorithm: str = "sha256") -> str:
    raw_key = key.encode() if isinstance(key, str) else key
    return hmac.new(raw_key, message, getattr(hashlib, algorithm)).hexdigest()


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two signatures."""
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def ok(body: str = "", content_type: str = "text/plain") -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": content_type}, "body": body}
