"""Bird (MessageBird) webhooks: ``providers.bird`` against the algorithms Bird and its SDKs
publish, re-implemented here independently, and against published test vectors.

References:
- docs.bird.com, Notifications API, "Verifying a webhook subscription": base64
  HMAC-SHA256(signing key, timestamp + "\\n" + request URL + "\\n" + SHA-256(body) as raw
  bytes), headers ``messagebird-signature`` and ``messagebird-request-timestamp``.
- messagebird/python-rest-api ``messagebird/signed_request.py`` (classic scheme: the sorted,
  URL-encoded query in place of the URL) and its ``tests/test_signed_request.py`` vectors.
- messagebird/python-rest-api ``messagebird/request_validator.py`` (``MessageBird-Signature-JWT``)
  and its ``tests/test_request_validator/webhook_signature_test_data.json`` vectors.
- messagebird/bird-sdk-python ``src/bird/resources/webhooks.py`` (Standard Webhooks,
  ``webhook-id``/``webhook-timestamp``/``webhook-signature``, ``whsec_`` secret, 300 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.http import Request
from smsconsent.providers import bird
from smsconsent.providers.base import Webhook
from smsconsent.tenants import SecretRef

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
KEY = "demo-bird-signing-key"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
URL = "https://hooks.example.com/v1/demo/inbound/bird"


def conf(key: str = KEY, **extra: Any) -> dict[str, Any]:
    return {"signing_key": SecretRef("value", key), **extra}


def hook(
    headers: dict[str, str], body: bytes = b"", url: str = URL, raw_query: str = "", method: str = "POST"
) -> Webhook:
    return Webhook(method, url, {"content-type": "application/json", **headers}, raw_query, body)


# ---- the current scheme, as docs.bird.com describes it -------------------------------


def docs_signature(key: str, timestamp: str, url: str, body: bytes) -> str:
    """Step by step as the Bird docs (PHP/Go examples): sprintf("%s\\n%s\\n%s", ts, url,
    sha256(body, raw)), hash_hmac sha256 raw, base64."""
    body_hash = hashlib.sha256(body).digest()
    joined = b"%s\n%s\n%s" % (timestamp.encode(), url.encode(), body_hash)
    return base64.b64encode(hmac.new(key.encode(), joined, hashlib.sha256).digest()).decode()


def signed(body: bytes, url: str = URL, ts: int = TS, key: str = KEY) -> Webhook:
    return hook(
        {
            "messagebird-signature": docs_signature(key, str(ts), url, body),
            "messagebird-request-timestamp": str(ts),
        },
        body,
        url,
    )


_chars = st.characters(codec="utf-8")


@settings(max_examples=200, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=300), st.text(_chars, max_size=200).map(str.encode)),
    path=st.text("abcxyz019-_", min_size=1, max_size=20),
    query=st.one_of(
        st.just(""),
        st.dictionaries(st.text(_chars, min_size=1, max_size=5), st.text(_chars, max_size=8), max_size=3).map(
            lambda d: "?" + urlencode(d)
        ),
    ),
    age=st.integers(-bird.FUTURE_SKEW, bird.DEFAULT_MAX_AGE),
)
def test_docs_scheme_verifies_and_tampering_fails(body: bytes, path: str, query: str, age: int) -> None:
    url = f"https://hooks.example.com/{path}{query}"
    ts = TS - age
    assert bird.verify(signed(body, url, ts), conf(), NOW)
    assert bird.signature(KEY, str(ts), url, body) == docs_signature(KEY, str(ts), url, body)
    tampered_body = hook(signed(body, url, ts).headers, body + b"x", url)
    assert not bird.verify(tampered_body, conf(), NOW)
    tampered_url = hook(signed(body, url, ts).headers, body, url.replace("hooks.", "evil.", 1))
    assert not bird.verify(tampered_url, conf(), NOW)
    headers = dict(signed(body, url, ts).headers, **{"messagebird-request-timestamp": str(ts + 1)})
    assert not bird.verify(hook(headers, body, url), conf(), NOW)
    assert not bird.verify(signed(body, url, ts), conf("another-key"), NOW)


def test_timestamp_window() -> None:
    body = b'{"event":"sms.inbound"}'
    assert bird.verify(signed(body, ts=TS - bird.DEFAULT_MAX_AGE), conf(), NOW)
    assert not bird.verify(signed(body, ts=TS - bird.DEFAULT_MAX_AGE - 1), conf(), NOW)
    assert bird.verify(signed(body, ts=TS + bird.FUTURE_SKEW), conf(), NOW)
    assert not bird.verify(signed(body, ts=TS + bird.FUTURE_SKEW + 1), conf(), NOW)
    # a tenant can narrow (or widen) the window
    assert not bird.verify(signed(body, ts=TS - 301), conf(signature_max_age_seconds=300), NOW)
    assert bird.verify(signed(body, ts=TS - 300), conf(signature_max_age_seconds=300), NOW)
    # the window follows the clock it is given, not the system clock
    later = NOW + timedelta(days=3)
    assert not bird.verify(signed(body), conf(), later)
    assert bird.verify(signed(body, ts=int(later.timestamp())), conf(), later)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"messagebird-request-timestamp": str(TS)},
        {"messagebird-signature": "c2ln"},
        {"messagebird-signature": "not base64!", "messagebird-request-timestamp": str(TS)},
        {"messagebird-signature": "c2ln", "messagebird-request-timestamp": "yesterday"},
        {"messagebird-signature": "c2ln", "messagebird-request-timestamp": "١٧٩٥٣٤١٦٠٠"},
    ],
)
def test_missing_or_malformed_headers_fail(headers: dict[str, str]) -> None:
    assert not bird.verify(hook(headers, b"{}"), conf(), NOW)


def test_no_signing_key_configured_fails() -> None:
    assert not bird.verify(signed(b"{}"), {}, NOW)


# ---- the classic MessageBird scheme: sorted query instead of the URL ---------------------
# ``bird.signature`` over ``bird.sorted_query`` still computes it as the SDK does (the vectors
# below), but ``verify`` refuses it: it binds no URL, so a webhook signed for one tenant
# would pass at every tenant sharing the account's signing key.

# tests/test_signed_request.py of messagebird/python-rest-api (a status report, GET).
SDK_KEY = "PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd"
SDK_QUERY = {
    "recipient": "31612345678",
    "reference": "FOO",
    "statusDatetime": "2019-01-11T09:17:11+00:00",
    "id": "eef0ab57a9e049be946f3821568c2b2e",
    "status": "delivered",
    "mccmnc": "20408",
    "ported": "1",
}
SDK_TS = 1547198231


@pytest.mark.parametrize(
    ("query", "body", "sig", "valid"),
    [
        (SDK_QUERY, b"", "KVBdcVdz2lYMwcBLZCRITgxUfA/WkwSi+T3Wxl2HL6w=", True),
        (SDK_QUERY, b'{"foo":"bar"}', "2bl+38H4oHVg03pC3bk2LvCB0IHFgfC4cL5HPQ0LdmI=", True),
        ({**SDK_QUERY, "reference": "BAR"}, b"", "KVBdcVdz2lYMwcBLZCRITgxUfA/WkwSi+T3Wxl2HL6w=", False),
    ],
)
def test_messagebird_sdk_vectors(query: dict[str, str], body: bytes, sig: str, valid: bool) -> None:
    raw_query = urlencode(list(reversed(query.items())))  # order on the wire does not matter
    webhook = hook(
        {"messagebird-signature": sig, "messagebird-request-timestamp": str(SDK_TS)},
        body,
        url="https://example.com/status?" + raw_query,
        raw_query=raw_query,
        method="GET",
    )
    computed = bird.signature(SDK_KEY, str(SDK_TS), bird.sorted_query(raw_query), body)
    assert (computed == sig) is valid
    # The URL-less variant is refused, valid or not.
    assert bird.verify(webhook, conf(SDK_KEY), datetime.fromtimestamp(SDK_TS, UTC)) is False


def sdk_signed_request(key: str, ts: int, body: bytes, params: dict[str, str]) -> str:
    """messagebird.signed_request.SignedRequest, re-implemented: urlencode(sorted params, doseq)."""
    sorted_params = {name: params[name] for name in sorted(params)}
    payload = "\n".join(
        [str(ts), urlencode(sorted_params, True), hashlib.sha256(body).digest().decode("latin-1")]
    )
    return base64.b64encode(
        hmac.new(key.encode("latin-1"), payload.encode("latin-1"), hashlib.sha256).digest()
    ).decode()


@settings(max_examples=100, deadline=None)
@given(
    params=st.dictionaries(
        st.text("abcdefXYZ_", min_size=1, max_size=6), st.text(_chars, max_size=10), max_size=5
    ),
    body=st.binary(max_size=100),
)
def test_classic_scheme_matches_the_sdk_algorithm(params: dict[str, str], body: bytes) -> None:
    raw_query = urlencode(params)
    sig = sdk_signed_request(SDK_KEY, TS, body, params)
    headers = {"messagebird-signature": sig, "messagebird-request-timestamp": str(TS)}
    assert bird.signature(SDK_KEY, str(TS), bird.sorted_query(raw_query), body) == sig
    assert bird.signature(SDK_KEY, str(TS), bird.sorted_query(raw_query + "&x=1"), body) != sig
    # Signed over the query, not the URL: refused (nothing binds it to this tenant's URL).
    assert not bird.verify(hook(headers, body, raw_query=raw_query), conf(SDK_KEY), NOW)


# ---- MessageBird-Signature-JWT ------------------------------------------------------------

# From webhook_signature_test_data.json of messagebird/python-rest-api (one case per kind);
# all checked at 2021-07-05T12:00:00+02:00.
JWT_SECRET = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb"
JWT_NOW = datetime(2021, 7, 5, 10, 0, 0, tzinfo=UTC)
JWT_VECTORS = [
    (
        "valid, no query, no payload",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.6Fp0rVOsRr1f"
            "j9S2GidXAfkmPVofKr8_RTffC6G6r2E"
        ),
        True,
    ),
    (
        "valid, query and payload",
        "https://example.com/path?bar=1&foo=2",
        b"Hello, World!",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA"
            "1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2h"
            "hc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0"
            "._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I"
        ),
        True,
    ),
    (
        "payload added in transit",
        "https://example.com/",
        b"Hello, World!",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.6Fp0rVOsRr1f"
            "j9S2GidXAfkmPVofKr8_RTffC6G6r2E"
        ),
        False,
    ),
    (
        "payload removed in transit",
        "https://example.com/path?bar=1&foo=2",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA"
            "1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2h"
            "hc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0"
            "._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I"
        ),
        False,
    ),
    (
        "payload changed",
        "https://example.com/path?bar=1&foo=2",
        b"Hello, World?",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA"
            "1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2h"
            "hc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0"
            "._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I"
        ),
        False,
    ),
    (
        "query reordered",
        "https://example.com/path?foo=2&bar=1",
        b"Hello, World!",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA"
            "1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2h"
            "hc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0"
            "._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I"
        ),
        False,
    ),
    (
        "nbf in the future",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ4MjgwMCwiZXhwIjo"
            "xNjI1NDgyODYwLCJqdGkiOiJmOWY4YzM4Mi0yNDQ5LTQzMTEtYjcyYi0xZGY3MTY4NzkzMWUiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.ZELgDFNGhjZH"
            "9CffQKcq3sytBe2I0KciLxpBhcfstHQ"
        ),
        False,
    ),
    (
        "expired",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3NTYwMCwiZXhwIjo"
            "xNjI1NDc1NjYwLCJqdGkiOiI1ZjAyZjUyMi02MDMwLTQ2YzgtYjVhMy0wMTI0NjQ3OGQ4YmMiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.45MSST3B_2Ps"
            "jNUeiuW54_vUQgVw4rBXrdWrOUEz3lM"
        ),
        False,
    ),
    (
        "signed with another secret",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiIyNDNjMjdhZS0yZjAyLTQ2YTAtODg1Mi1jNjZmMzdlYTlmNDYiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.JgSeYyOtlEKA"
            "Xk8bz30iJI4tXgf4lxknoiezawuVhb4"
        ),
        False,
    ),
    (
        "port in the URL",
        "https://example.com:8080/",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjA3Zjc"
            "4NjFhNjliMTNjMjI5YzZhZTU5NmQxOThiMjc2M2IwNTRjZjVlMDAwZDczNmQxYzQ4MTAyZDc3MGNmZmMifQ.vcpa0IicGAbp"
            "o064dOjiA2VbVOR2S5uZBEaBOP16sS8"
        ),
        True,
    ),
    (
        "special characters in the URL",
        "https://example.com/?obj%5Bfield1%5D=val1&obj%5Bfield2%5D=val2&param=value+with+spaces",
        b"",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjhhZmY"
            "zNzQ4ZDc4OWM0MzMzNTczZTFjMzFmZTViMDA0OTQwY2I1ZmM0NzQ2MGVkM2QwZTY1NGY3ZmM0ZTVmYWUifQ.mJBCMfEjKmN3"
            "IMuzqPXPHktWETrcu0iNdF3agE8PDyI"
        ),
        True,
    ),
    (
        "special characters in the payload",
        "https://example.com/",
        b"Some text containg & < >, & and \\u0026",
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2h"
            "hc2giOiIyNDMxYmQ5Y2NiNDhlZDAxNmZhZDU2N2IwNzcxMjAzOGI1Y2RkOTQ5YWM5ZDQxZmU0NjkzZDVhMzg0NWNmN2U4In0"
            ".IQiKzeEPaO3A48lhKmBDSmxZyCESPCGxdSKFdi0dEJs"
        ),
        True,
    ),
    (
        "HS384",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.KNMW-29X77lZ"
            "euPmThmHWc_RUAvTkaDkpxIZK6mqE08v8mWKiU9Edh4QXwAJO2nv"
        ),
        True,
    ),
    (
        "HS512",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjo"
            "xNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE"
            "1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.rd6r0iMyNGnV"
            "PCwurETphE3Y8rpAyvvnUK0S8WvGUkt2E1QSRAZ7NZJZBHw1Y_Wb5W-sK9HJr_PRL2vz4jRT3Q"
        ),
        True,
    ),
    (
        "alg none",
        "https://example.com/",
        b"",
        (
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJNZXNzYWdlQmlyZCIsImlhdCI6MTYyNTQ3OTIwMCwiZXhwIjox"
            "NjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1"
            "ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ."
        ),
        False,
    ),
]


@pytest.mark.parametrize(
    ("name", "url", "body", "token", "valid"), JWT_VECTORS, ids=[v[0] for v in JWT_VECTORS]
)
def test_messagebird_jwt_vectors(name: str, url: str, body: bytes, token: str, valid: bool) -> None:
    webhook = hook({"messagebird-signature-jwt": token}, body, url)
    assert bird.verify(webhook, conf(JWT_SECRET), JWT_NOW) is valid


def make_jwt(key: str, claims: dict[str, Any], alg: str = "HS256") -> str:
    """An HS JWT as MessageBird issues them (RFC 7519 compact form)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + part(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return head + "." + part(hmac.new(key.encode(), head.encode(), digest).digest())


def jwt_claims(url: str, body: bytes, nbf: int = TS, exp: int = TS + 60, **extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "MessageBird",
        "nbf": nbf,
        "exp": exp,
        "jti": "x",
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
    }
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    return {**claims, **extra}


def test_jwt_claims_and_leeway() -> None:
    body = b'{"id":"1"}'

    def ok(claims: dict[str, Any], key: str = KEY, now: datetime = NOW) -> bool:
        return bird.verify(hook({"messagebird-signature-jwt": make_jwt(key, claims)}, body), conf(), now)

    assert ok(jwt_claims(URL, body))
    assert ok(jwt_claims(URL, body, nbf=TS + 1))  # 1 s leeway, as the SDK
    assert not ok(jwt_claims(URL, body, nbf=TS + 2))
    assert ok(jwt_claims(URL, body, exp=TS + 1))
    assert ok(jwt_claims(URL, body, exp=TS), now=NOW - timedelta(seconds=0))  # within the leeway
    assert not ok(jwt_claims(URL, body, exp=TS - 1))
    assert not ok(jwt_claims(URL, body, iss="Mallory"))
    assert not ok({k: v for k, v in jwt_claims(URL, body).items() if k != "nbf"})
    assert not ok({k: v for k, v in jwt_claims(URL, body).items() if k != "url_hash"})
    assert not ok(jwt_claims(URL, body, nbf=True))
    assert not ok(jwt_claims(URL + "?x=1", body))
    assert not ok(jwt_claims(URL, body), key="another-key")
    assert not ok(jwt_claims(URL, b""))  # payload present but no payload_hash


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.", "W10.W10.sig"])
def test_jwt_garbage_fails(token: str) -> None:
    assert not bird.verify(hook({"messagebird-signature-jwt": token}, b"{}"), conf(), NOW)


# ---- Standard Webhooks (bird.com platform) --------------------------------------------------

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def standard_headers(
    body: bytes, secret: str = WHSEC, msg_id: str = "evt_01", ts: int = TS
) -> dict[str, str]:
    """As bird-sdk-python's _verify_and_parse expects them (Standard Webhooks v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, msg_id.encode() + b"." + str(ts).encode() + b"." + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_standard_webhooks() -> None:
    body = (
        b'{"type":"sms.received","timestamp":"2026-11-22T10:00:00Z",'
        b'"data":{"from":"+4915112345678","text":"STOP"}}'
    )
    headers = standard_headers(body)
    assert bird.verify(hook(headers, body), conf(WHSEC), NOW)
    # several signatures (during a secret rotation): any v1 match counts
    rotated = dict(headers, **{"webhook-signature": "v1,AAAA v2,zzz " + headers["webhook-signature"]})
    assert bird.verify(hook(rotated, body), conf(WHSEC), NOW)
    assert not bird.verify(hook(headers, body + b" "), conf(WHSEC), NOW)
    assert not bird.verify(hook(dict(headers, **{"webhook-id": "evt_02"}), body), conf(WHSEC), NOW)
    assert not bird.verify(hook(headers, body), conf("whsec_" + base64.b64encode(b"x" * 32).decode()), NOW)
    assert not bird.verify(hook(headers, body), conf(KEY), NOW)  # not a whsec_ secret
    assert not bird.verify(
        hook(dict(headers, **{"webhook-signature": headers["webhook-signature"][3:]}), body), conf(WHSEC), NOW
    )
    assert bird.verify(hook(standard_headers(body, ts=TS - 300), body), conf(WHSEC), NOW)
    assert not bird.verify(hook(standard_headers(body, ts=TS - 301), body), conf(WHSEC), NOW)
    assert not bird.verify(hook(standard_headers(body, ts=TS + 301), body), conf(WHSEC), NOW)


# ---- parsing --------------------------------------------------------------------------


def channels_body(event: str = "sms.inbound", text: str = "STOP", **payload: Any) -> bytes:
    doc = {
        "service": "channels",
        "event": event,
        "payload": {
            "id": "96a0b5fa-a986-453d-be5c-3117f989f025",
            "channelId": "614208aa-b153-4d5d-9989-2fddfc0ce4c3",
            "sender": {
                "contact": {"id": "c1", "identifierKey": "phonenumber", "identifierValue": "+4915112345678"}
            },
            "receiver": {"connector": {"id": "86cc4dc0", "identifierValue": "+4915790000000"}},
            "body": {"type": "text", "text": {"text": text}},
            "status": "delivered",
            "direction": "incoming",
            **payload,
        },
    }
    return json.dumps(doc).encode()


def test_parse_channels_sms_inbound() -> None:
    message = bird.parse(hook({}, channels_body()))
    assert message is not None
    assert (message.provider, message.message_id, message.channel) == (
        "bird",
        "96a0b5fa-a986-453d-be5c-3117f989f025",
        "sms",
    )
    assert (message.sender, message.recipient, message.text, message.handled) == (
        "+4915112345678",
        "+4915790000000",
        "STOP",
        None,
    )


def test_parse_channels_whatsapp_and_other_bodies() -> None:
    message = bird.parse(hook({}, channels_body("whatsapp.inbound", "Stopp")))
    assert message is not None
    assert (message.channel, message.text) == ("whatsapp", "Stopp")
    image = bird.parse(hook({}, channels_body(body={"type": "image", "image": {"images": []}})))
    assert image is not None
    assert image.text == ""
    no_number = bird.parse(hook({}, channels_body(receiver={"connector": {"id": "86cc4dc0"}})))
    assert no_number is not None
    assert no_number.recipient == ""


@pytest.mark.parametrize(
    "body",
    [
        channels_body("sms.outbound"),
        channels_body("sms.interaction"),
        channels_body("email.inbound"),
        channels_body(direction="outgoing"),
        channels_body(sender={}),
        json.dumps({"service": "channels", "event": "channel.created", "payload": {}}).encode(),
        json.dumps({"type": "sms.delivered", "timestamp": "x", "data": {"from": "+4915112345678"}}).encode(),
        b"{}",
        b"not json",
        b"",
    ],
)
def test_parse_not_a_message(body: bytes) -> None:
    assert bird.parse(hook({}, body)) is None


def test_parse_platform_sms_received() -> None:
    body = json.dumps(
        {
            "type": "sms.received",
            "timestamp": "2026-11-22T10:00:00Z",
            "data": {"from": "+4915112345678", "to": "+4915790000000", "text": "HILFE"},
        }
    ).encode()
    message = bird.parse(hook({"webhook-id": "evt_77"}, body))
    assert message is not None
    assert (message.message_id, message.sender, message.recipient, message.text) == (
        "evt_77",
        "+4915112345678",
        "+4915790000000",
        "HILFE",
    )


def test_parse_classic_forward_and_status_report() -> None:
    query = urlencode(
        {
            "id": "e8077d80",
            "recipient": "4915790000000",
            "originator": "4915112345678",
            "body": "STOP",
            "createdDatetime": "2026-11-22T10:00:00+00:00",
        }
    )
    message = bird.parse(Webhook("GET", URL + "?" + query, {}, query, b""))
    assert message is not None
    assert (message.message_id, message.sender, message.recipient, message.text) == (
        "e8077d80",
        "+4915112345678",
        "+4915790000000",
        "STOP",
    )
    status = urlencode(SDK_QUERY)
    assert bird.parse(Webhook("GET", URL + "?" + status, {}, status, b"")) is None


def test_respond_is_a_plain_200() -> None:
    assert bird.INLINE_REPLY is False
    assert bird.respond("ignored")["statusCode"] == 200
    assert bird.respond(None)["body"] == ""


# ---- the sample events -----------------------------------------------------------------

BIRD_EVENTS = sorted(EVENTS.glob("inbound-bird-*.json"))


def event_hook(event: dict[str, Any], provider_conf: dict[str, Any]) -> Webhook:
    """The webhook exactly as functions/inbound/app.py builds it from an HTTP API event."""
    return Webhook.from_request(Request.from_event(event), provider_conf)


@pytest.mark.parametrize("path", BIRD_EVENTS, ids=lambda p: p.stem)
def test_bird_events_verify_with_the_demo_key(path: Path, demo_doc: dict[str, Any]) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    provider_conf = {"signing_key": SecretRef("value", demo_doc["providers"]["bird"]["signing_key"]["value"])}
    webhook = event_hook(event, provider_conf)
    assert webhook.url == "http://127.0.0.1:3000/v1/demo/inbound/bird"
    forged = path.stem.endswith("-forged")
    assert bird.verify(webhook, provider_conf, NOW) is not forged
    independent = docs_signature(
        KEY, webhook.headers["messagebird-request-timestamp"], webhook.url, webhook.body
    )
    assert (independent == webhook.headers["messagebird-signature"]) is not forged
    message = bird.parse(webhook)
    assert message is not None
    assert (message.sender, message.recipient, message.channel) == ("+4915112345678", "+4915790000000", "sms")
    keyword = path.stem.removeprefix("inbound-bird-")
    assert message.text == {"forged": "STOP"}.get(keyword, keyword.upper())


def test_jwt_hostile_json_is_refused_not_an_error() -> None:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    nested = part(b"[" * 5000 + b"]" * 5000)
    assert not bird.verify(hook({"messagebird-signature-jwt": f"{nested}.{nested}.AAAA"}, b"{}"), conf(), NOW)
    huge = jwt_claims(URL, b"{}", nbf=10**400)
    assert not bird.verify(hook({"messagebird-signature-jwt": make_jwt(KEY, huge)}, b"{}"), conf(), NOW)


def test_stale_says_when_the_timestamp_is_outside_the_window() -> None:
    body = b'{"event":"sms.inbound"}'
    assert bird.stale(signed(body, ts=TS - bird.DEFAULT_MAX_AGE - 1), conf(), NOW)
    assert not bird.stale(signed(body, ts=TS - bird.DEFAULT_MAX_AGE), conf(), NOW)
    assert bird.stale(signed(body, ts=TS + bird.FUTURE_SKEW + 1), conf(), NOW)


def test_only_the_url_bound_signature_is_accepted() -> None:
    # Signed over the (empty) query instead of the URL: valid for any tenant's URL, refused
    body = b'{"event":"sms.inbound"}'
    unbound = {
        "messagebird-signature": bird.signature(KEY, str(TS), bird.sorted_query(""), body),
        "messagebird-request-timestamp": str(TS),
    }
    assert not bird.verify(hook(unbound, body), conf(), NOW)
    assert bird.verify(signed(body), conf(), NOW)
