"""Webhook signatures against Standard Webhooks' own library: every signature we make
verifies with it, and a changed body, secret, id or an old timestamp does not."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from smsconsent.webhooks import signing

# A fixed secret (32 bytes, not used anywhere else) and the body of one consent change.
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
BODY = b'{"specversion":"1.0","type":"consent.opted_out","id":"evt_1","data":{"subject":"v1.ab"}}'
ID = "msg_2mYjmXq9Kc0bFq7qVvV1cM3nQx"


def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize("secret", [SECRET, signing.new_secret()], ids=["fixed", "new"])
def test_a_signature_verifies_with_the_standard_webhooks_library(secret: str) -> None:
    headers = signing.headers(secret, ID, _now(), BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "consent.opted_out"


def test_the_headers_are_the_three_of_the_specification_and_json() -> None:
    timestamp = _now()
    headers = signing.headers(SECRET, ID, timestamp, BODY)
    assert headers == {
        "webhook-id": ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature(SECRET, ID, timestamp, BODY),
        "content-type": "application/json",
        "user-agent": "sms-consent-webhooks/1",
    }
    assert headers["webhook-signature"].startswith("v1,")


def test_the_fixed_secret_gives_the_signature_the_library_computes() -> None:
    """Byte for byte the library's own ``sign`` (same key, same signed text)."""
    expected = Webhook(SECRET).sign(ID, datetime.fromtimestamp(1_700_000_000, UTC), BODY.decode())
    assert signing.signature(SECRET, ID, 1_700_000_000, BODY) == expected


def _refused(secret: str, body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_a_tampered_body_fails() -> None:
    headers = signing.headers(SECRET, ID, _now(), BODY)
    _refused(SECRET, BODY.replace(b"opted_out", b"opted_in_"), headers)


def test_a_wrong_secret_fails() -> None:
    _refused(OTHER, BODY, signing.headers(SECRET, ID, _now(), BODY))
    _refused(SECRET, BODY, signing.headers(signing.new_secret(), ID, _now(), BODY))


def test_a_changed_id_fails() -> None:
    headers = signing.headers(SECRET, ID, _now(), BODY)
    _refused(SECRET, BODY, {**headers, "webhook-id": ID + "x"})


def test_an_old_timestamp_fails_as_a_replay() -> None:
    old = _now() - 6 * 60
    _refused(SECRET, BODY, signing.headers(SECRET, ID, old, BODY))


def test_a_changed_timestamp_fails() -> None:
    now = _now()
    headers = signing.headers(SECRET, ID, now - 60, BODY)
    _refused(SECRET, BODY, {**headers, "webhook-timestamp": str(now)})


def test_new_secrets_are_32_random_bytes() -> None:
    secrets = {signing.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret[6:], validate=True)) == 32


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        base64.b64encode(bytes(32)).decode(),  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(bytes(32)).decode()[:-1],  # padding cut
        "whsec_" + base64.b64encode(bytes(8)).decode(),  # too short a key
        "whsec_" + base64.b64encode(bytes(65)).decode(),  # too long
    ],
)
def test_a_malformed_secret_raises_value_error_without_showing_it(secret: str) -> None:
    with pytest.raises(ValueError) as raised:
        signing.signature(secret, ID, _now(), BODY)
    if len(secret) > 6:
        assert secret[6:] not in str(raised.value)


@pytest.mark.parametrize("message_id", ["", "a.b", "a\r\nx-injected: 1", "é", "x" * 257, "a b"])
def test_an_id_that_could_blur_the_signed_text_or_a_header_is_refused(message_id: str) -> None:
    with pytest.raises(ValueError):
        signing.headers(SECRET, message_id, _now(), BODY)


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=512).filter(lambda b: _utf8(b)), offset=st.integers(-290, 290))
def test_any_utf8_body_within_the_tolerance_verifies(body: bytes, offset: int) -> None:
    headers = signing.headers(SECRET, ID, _now() + offset, body)
    assert Webhook(SECRET).verify(body, headers, json_parse=False) is None


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
