"""Sinch SMS callbacks: HMAC callback signing as Sinch's SDKs check it, the secret in the
URL otherwise, the parsing of MO messages and delivery reports, and the sample events.

References:
- sinch/sinch-sdk-python ``sinch/domains/authentication/sinch_events/v1/authentication_validation.py``
  (``validate_sinch_event_signature_with_nonce``, used by ``SmsSinchEvent``): base64
  HMAC-SHA256(secret, f"{body}.{nonce}.{timestamp}"), headers ``x-sinch-webhook-signature``,
  ``-nonce``, ``-timestamp``; re-implemented here independently.
- sinch/sinch-sdk-dotnet (SMS hooks ``ValidateAuthenticationHeader``): the same string, with
  ``x-sinch-webhook-signature-algorithm`` choosing HmacSHA256/384/512; and the test vector of
  its Conversation ``WebhooksTests.ValidateRequest`` (same scheme).
- sinch/sinch-sdk-python ``sinch/domains/sms/models/v1/shared/base_mo_message.py`` and
  ``sms_sinch_event.py`` (MO fields; ``mo_text``/``mo_binary``/``mo_media``, delivery reports).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.http import Request
from smsconsent.providers import sinch
from smsconsent.providers.base import Webhook
from smsconsent.tenants import SecretRef

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SECRET = "demo-sinch-webhook-secret"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
URL = "https://hooks.example.com/v1/demo/inbound/sinch"


def conf(secret: str | None = SECRET, **extra: Any) -> dict[str, Any]:
    base = {"webhook_secret": SecretRef("value", secret)} if secret else {}
    return {**base, **{k: SecretRef("value", v) if k.endswith("secret") else v for k, v in extra.items()}}


def hook(body: bytes = b"{}", headers: dict[str, str] | None = None, raw_query: str = "") -> Webhook:
    url = URL + (f"?{raw_query}" if raw_query else "")
    return Webhook("POST", url, {"content-type": "application/json", **(headers or {})}, raw_query, body)


def sdk_signature(secret: str, body: str, nonce: str, timestamp: str, digest: Any = hashlib.sha256) -> str:
    """The Sinch SDKs' callback signature: base64(HMAC(secret, f"{body}.{nonce}.{timestamp}"))."""
    return base64.b64encode(
        hmac.new(secret.encode("utf-8"), f"{body}.{nonce}.{timestamp}".encode(), digest).digest()
    ).decode()


def signed_headers(
    body: bytes,
    secret: str = SECRET,
    nonce: str = "01HZNONCE",
    ts: int = TS,
    algorithm: str | None = "HmacSHA256",
) -> dict[str, str]:
    digest = {
        "HmacSHA256": hashlib.sha256,
        "HmacSHA384": hashlib.sha384,
        "HmacSHA512": hashlib.sha512,
        None: hashlib.sha256,
    }[algorithm]
    headers = {
        "x-sinch-webhook-signature": sdk_signature(secret, body.decode(), nonce, str(ts), digest),
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": str(ts),
    }
    if algorithm:
        headers["x-sinch-webhook-signature-algorithm"] = algorithm
    return headers


# ---- HMAC callback signing ------------------------------------------------------------------

DOTNET_BODY = (
    '{"app_id":"","accepted_time":"2021-10-18T17:49:13.813615Z","project_id":"e2df3a34-a71b-4448-9db5-a8d2baad28e4",'
    '"contact_create_notification":{"contact":{"id":"01FJA8B466Y0R2GNXD78MD9SM1","channel_identities":[{"channel":"SMS",'
    '"identity":"48123456789","app_id":""}],"display_name":"New Test Contact",'
    '"email":"new.contact@email.com",'
    '"external_id":"","metadata":"","language":"EN_US"}},"message_metadata":""}'
)


def test_sinch_sdk_vector() -> None:
    headers = {
        "x-sinch-webhook-signature-nonce": "01FJA8B4A7BM43YGWSG9GBV067",
        "x-sinch-webhook-signature-timestamp": "1634579353",
        "x-sinch-webhook-signature": "6bpJoRmFoXVjfJIVglMoJzYXxnoxRujzR4k2GOXewOE=",
    }
    then = datetime.fromtimestamp(1634579353, UTC)
    assert sinch.verify(hook(DOTNET_BODY.encode(), headers), conf("foo_secret1234"), then)
    assert not sinch.verify(hook(DOTNET_BODY.encode() + b" ", headers), conf("foo_secret1234"), then)


_chars = st.characters(codec="utf-8")


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(_chars, max_size=300),
    nonce=st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=1, max_size=26),
    skew=st.integers(-sinch.DEFAULT_MAX_AGE, sinch.DEFAULT_MAX_AGE),
    algorithm=st.sampled_from(["HmacSHA256", "HmacSHA384", "HmacSHA512", None]),
)
def test_hmac_verifies_and_tampering_fails(body: str, nonce: str, skew: int, algorithm: str | None) -> None:
    raw = body.encode()
    headers = signed_headers(raw, nonce=nonce, ts=TS + skew, algorithm=algorithm)
    assert sinch.verify(hook(raw, headers), conf(), NOW)
    assert (
        sinch.signature(SECRET, raw, nonce, str(TS + skew), algorithm or "HmacSHA256")
        == headers["x-sinch-webhook-signature"]
    )
    assert not sinch.verify(hook(raw + b"x", headers), conf(), NOW)
    assert not sinch.verify(
        hook(raw, dict(headers, **{"x-sinch-webhook-signature-nonce": nonce + "0"})), conf(), NOW
    )
    assert not sinch.verify(
        hook(raw, dict(headers, **{"x-sinch-webhook-signature-timestamp": str(TS + skew + 1)})), conf(), NOW
    )
    assert not sinch.verify(hook(raw, headers), conf("another-secret"), NOW)


def test_hmac_timestamp_window() -> None:
    body = b'{"type":"mo_text"}'
    assert sinch.verify(hook(body, signed_headers(body, ts=TS - 300)), conf(), NOW)
    assert not sinch.verify(hook(body, signed_headers(body, ts=TS - 301)), conf(), NOW)
    assert not sinch.verify(hook(body, signed_headers(body, ts=TS + 301)), conf(), NOW)
    assert sinch.verify(
        hook(body, signed_headers(body, ts=TS - 3600)), conf(signature_max_age_seconds=3600), NOW
    )
    assert not sinch.verify(hook(body, signed_headers(body)), conf(), NOW + timedelta(minutes=6))


def test_hmac_uses_signature_secret_when_configured() -> None:
    body = b'{"type":"mo_text"}'
    own = conf(signature_secret="hmac-secret-from-sinch")
    assert sinch.verify(hook(body, signed_headers(body, secret="hmac-secret-from-sinch")), own, NOW)
    assert not sinch.verify(hook(body, signed_headers(body)), own, NOW)
    assert sinch.verify(hook(body, signed_headers(body, secret="x")), conf(None, signature_secret="x"), NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"x-sinch-webhook-signature": ""},
        {"x-sinch-webhook-signature-nonce": ""},
        {"x-sinch-webhook-signature-timestamp": ""},
        {"x-sinch-webhook-signature-timestamp": "2026-11-22T10:00:00Z"},
        {"x-sinch-webhook-signature-algorithm": "HmacMD5"},
        {"x-sinch-webhook-signature-algorithm": "HmacSHA512"},  # not what it was signed with
    ],
)
def test_hmac_malformed_headers_fail(change: dict[str, str]) -> None:
    body = b'{"type":"mo_text"}'
    assert not sinch.verify(hook(body, dict(signed_headers(body), **change)), conf(), NOW)


def test_hmac_headers_decide_even_with_a_url_secret() -> None:
    """A request with signature headers is judged by them: a wrong signature is not saved
    by a right URL secret."""
    body = b'{"type":"mo_text"}'
    bad = dict(signed_headers(body), **{"x-sinch-webhook-signature": "AAAA"})
    assert not sinch.verify(hook(body, bad, raw_query=f"secret={SECRET}"), conf(), NOW)


def test_hmac_without_any_secret_configured_fails() -> None:
    body = b'{"type":"mo_text"}'
    assert not sinch.verify(hook(body, signed_headers(body)), {}, NOW)


# ---- the secret in the URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_query", "valid"),
    [
        (f"secret={SECRET}", True),
        (f"tenant=demo&secret={SECRET}", True),
        ("secret=demo-sinch-webhook-secreT", False),
        ("secret=demo-sinch-webhook-secre", False),
        ("secret=", False),
        ("", False),
        (f"Secret={SECRET}", False),
        (f"secret={SECRET}&secret={SECRET}", False),  # ambiguous: refused
        (f"secret={SECRET}" + "&x=" * 600, False),  # too many fields: refused, not an error
    ],
)
def test_url_secret(raw_query: str, valid: bool) -> None:
    assert sinch.verify(hook(raw_query=raw_query), conf(), NOW) is valid


def test_url_secret_needs_a_configured_secret() -> None:
    assert not sinch.verify(hook(raw_query="secret="), {}, NOW)
    assert not sinch.verify(hook(raw_query=f"secret={SECRET}"), {}, NOW)


# ---- parsing --------------------------------------------------------------------------------


def mo(**fields: Any) -> bytes:
    doc = {
        "id": "01FC66621XXXXX119Z8PMV1QPQ",
        "type": "mo_text",
        "from": "4915112345678",
        "to": "4915790000000",
        "body": "STOP",
        "operator_id": "26203",
        "received_at": "2026-11-22T09:59:59.618Z",
    }
    return json.dumps({**doc, **fields}).encode()


def test_parse_mo_text() -> None:
    message = sinch.parse(hook(mo()))
    assert message is not None
    assert (message.provider, message.message_id, message.channel, message.handled) == (
        "sinch",
        "01FC66621XXXXX119Z8PMV1QPQ",
        "sms",
        None,
    )
    assert (message.sender, message.recipient, message.text) == ("+4915112345678", "+4915790000000", "STOP")


@pytest.mark.parametrize(
    ("given_number", "expected"),
    [
        ("+4915112345678", "+4915112345678"),
        ("004915112345678", "+4915112345678"),
        ("36111", "36111"),
        ("Sinch", "Sinch"),
    ],
)
def test_parse_number_forms(given_number: str, expected: str) -> None:
    message = sinch.parse(hook(mo(**{"from": given_number, "to": given_number})))
    assert message is not None
    assert (message.sender, message.recipient) == (expected, expected)


def test_parse_mo_media_takes_its_text() -> None:
    message = sinch.parse(
        hook(mo(type="mo_media", body={"url": "https://example.com/x.jpg", "message": "Stop please"}))
    )
    assert message is not None
    assert message.text == "Stop please"


@pytest.mark.parametrize(
    "body",
    [
        mo(type="mo_binary", body="AAEC", udh="050003"),
        json.dumps(
            {"type": "delivery_report_sms", "batch_id": "01F", "statuses": [], "total_message_count": 1}
        ).encode(),
        json.dumps(
            {
                "type": "recipient_delivery_report_sms",
                "batch_id": "01F",
                "recipient": "4915112345678",
                "code": 0,
                "status": "Delivered",
                "at": "2026-11-22T10:00:00Z",
            }
        ).encode(),
        mo(id=""),
        mo(**{"from": ""}),
        b"[]",
        b"not json",
        b"",
    ],
)
def test_parse_not_a_message(body: bytes) -> None:
    assert sinch.parse(hook(body)) is None


def test_respond_is_a_plain_200() -> None:
    assert sinch.INLINE_REPLY is False
    assert sinch.respond("ignored")["statusCode"] == 200


# ---- the sample events ----------------------------------------------------------------------

SINCH_EVENTS = sorted(EVENTS.glob("inbound-sinch-*.json"))


def event_hook(event: dict[str, Any], provider_conf: dict[str, Any]) -> Webhook:
    """The webhook exactly as functions/inbound/app.py builds it from an HTTP API event."""
    return Webhook.from_request(Request.from_event(event), provider_conf)


@pytest.mark.parametrize("path", SINCH_EVENTS, ids=lambda p: p.stem)
def test_sinch_events_verify_with_the_demo_secret(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    provider_conf = conf()  # what local/tenants/demo.json should hold for sinch
    webhook = event_hook(event, provider_conf)
    assert webhook.url.startswith("http://127.0.0.1:3000/v1/demo/inbound/sinch")
    forged = path.stem.endswith("-forged")
    assert sinch.verify(webhook, provider_conf, NOW) is not forged
    if "x-sinch-webhook-signature" in webhook.headers:
        h = webhook.headers
        expected = sdk_signature(
            SECRET,
            webhook.body.decode(),
            h["x-sinch-webhook-signature-nonce"],
            h["x-sinch-webhook-signature-timestamp"],
        )
        assert expected == h["x-sinch-webhook-signature"]
    message = sinch.parse(webhook)
    assert message is not None
    assert (message.sender, message.recipient) == ("+4915112345678", "+4915790000000")
    keyword = path.stem.removeprefix("inbound-sinch-").removesuffix("-signed")
    assert message.text == {"forged": "STOP"}.get(keyword, keyword.upper())


def test_with_an_hmac_secret_the_url_secret_alone_is_refused() -> None:
    # Once Sinch signs callbacks, a request with the URL secret and no HMAC is not Sinch's
    both = conf(signature_secret="hmac-secret-from-sinch")
    assert not sinch.verify(hook(raw_query=f"secret={SECRET}"), both, NOW)
    body = b'{"type":"mo_text"}'
    signed = signed_headers(body, secret="hmac-secret-from-sinch")
    assert sinch.verify(hook(body, signed, raw_query=f"secret={SECRET}"), both, NOW)


def test_stale_says_when_the_signed_timestamp_is_outside_the_window() -> None:
    body = b'{"type":"mo_text"}'
    assert sinch.stale(hook(body, signed_headers(body, ts=TS - 301)), conf(), NOW)
    assert not sinch.stale(hook(body, signed_headers(body, ts=TS - 300)), conf(), NOW)
    assert not sinch.stale(hook(raw_query=f"secret={SECRET}"), conf(), NOW)  # no time to be stale
