"""Telnyx messaging webhooks: the Ed25519 signature with its timestamp window, parsing and
the answer.

The reference is Telnyx's Python SDK: ``telnyx.lib.webhook_verification.
verify_webhook_signature`` (telnyx 4.189; needs PyNaCl, ``telnyx[webhooks]``), which is also
what ``client.webhooks.unwrap`` runs. Signatures are made with ``cryptography`` from the
demo seed 00..1f, whose public key is the demo tenant's."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.http import Request
from smsconsent.providers import telnyx
from smsconsent.providers.base import InboundMessage, Webhook
from smsconsent.tenants import SecretRef, Tenant

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())
URL = "http://127.0.0.1:3000/v1/demo/inbound/telnyx"
DEMO_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
PUBLIC = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
HAVE_SDK = all(importlib.util.find_spec(name) for name in ("telnyx", "nacl"))


def conf(public_key: str = PUBLIC, **extra: Any) -> dict[str, Any]:
    return {"public_key": SecretRef("value", public_key), **extra}


def received(text: str = "STOP", event_type: str = "message.received") -> bytes:
    doc = {
        "data": {
            "event_type": event_type,
            "id": "b301ed3f-1490-491f-995f-6e64e69674d4",
            "occurred_at": "2026-11-22T09:59:59.812+00:00",
            "payload": {
                "direction": "inbound",
                "from": {
                    "carrier": "Telekom Deutschland",
                    "line_type": "Wireless",
                    "phone_number": "+4915112345678",
                },
                "id": "3fa85f64-5717-4562-b3fc-2c963f66a001",
                "media": [],
                "parts": 1,
                "record_type": "message",
                "text": text,
                "to": [{"phone_number": "+4915790000000", "status": "webhook_delivered"}],
                "type": "SMS",
            },
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": URL},
    }
    return json.dumps(doc).encode()


def sign(body: bytes, stamp: int | str = STAMP, key: Ed25519PrivateKey = DEMO_KEY) -> dict[str, str]:
    signature = key.sign(f"{stamp}|".encode() + body)
    return {
        "content-type": "application/json",
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(stamp),
    }


def hook(body: bytes, headers: dict[str, str]) -> Webhook:
    return Webhook("POST", URL, headers, "", body)


def sdk_accepts(body: bytes, headers: dict[str, str], public_key: str = PUBLIC, now: datetime = NOW) -> bool:
    """Telnyx's SDK verdict at ``now`` (its clock is ``time.time()``, held still here)."""
    verification = pytest.importorskip("telnyx.lib.webhook_verification")
    pytest.importorskip("nacl")
    with mock.patch.object(verification, "time", mock.Mock(time=lambda: now.timestamp())):
        try:
            verification.verify_webhook_signature(body, headers, public_key)
        except verification.WebhookVerificationError:
            return False
    return True


def test_demo_public_key_is_the_seeds() -> None:
    # Given the demo seed 00..1f
    # When its public key is taken
    raw = DEMO_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    # Then it is the demo tenant's public key
    assert base64.b64encode(raw).decode() == PUBLIC


# ---- the signature agrees with Telnyx's SDK ------------------------------------------------


def test_valid_signature_verifies() -> None:
    # Given a message.received signed with the demo key at NOW
    body = received()
    headers = sign(body)
    # When verified by the module and by the SDK
    # Then both accept it
    assert telnyx.verify(hook(body, headers), conf(), NOW)
    assert sdk_accepts(body, headers)


def test_sdk_unwrap_agrees() -> None:
    # Given the SDK client's unwrap (ED25519 by default in telnyx 4.x)
    client_module = pytest.importorskip("telnyx")
    pytest.importorskip("nacl")
    body = received()
    headers = sign(body, int(datetime.now(UTC).timestamp()))
    client = client_module.Telnyx(api_key="KEY-for-tests", public_key=PUBLIC)
    # When it unwraps a signed message signed just now
    event = client.webhooks.unwrap(body.decode(), headers=headers)
    # Then it accepts it, as does the module at the same time
    assert event.data.event_type == "message.received"
    assert telnyx.verify(hook(body, headers), conf(), datetime.now(UTC))


# ---- refusals --------------------------------------------------------------------------------


def test_tampered_body_is_refused() -> None:
    # Given a signed START whose body was changed to STOP
    headers = sign(received("START"))
    body = received("STOP")
    # When verified
    # Then both refuse it
    assert not telnyx.verify(hook(body, headers), conf(), NOW)
    assert not sdk_accepts(body, headers)


def test_other_key_is_refused() -> None:
    # Given a message signed with a key that is not the tenant's
    body = received()
    headers = sign(body, key=OTHER_KEY)
    # When verified
    # Then both refuse it
    assert not telnyx.verify(hook(body, headers), conf(), NOW)
    assert not sdk_accepts(body, headers)


def test_changed_timestamp_header_is_refused() -> None:
    # Given a signature made for one timestamp sent with another one, one second later
    body = received()
    headers = {**sign(body), "telnyx-timestamp": str(STAMP + 1)}
    # When verified
    # Then both refuse it
    assert not telnyx.verify(hook(body, headers), conf(), NOW)
    assert not sdk_accepts(body, headers)


@pytest.mark.parametrize("missing", ["telnyx-signature-ed25519", "telnyx-timestamp"])
def test_missing_header_is_refused(missing: str) -> None:
    # Given a signed message without one of the two headers
    body = received()
    headers = {k: v for k, v in sign(body).items() if k != missing}
    # When verified
    # Then both refuse it
    assert not telnyx.verify(hook(body, headers), conf(), NOW)
    assert not sdk_accepts(body, headers)


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_timestamp_outside_the_window_is_refused(offset: int) -> None:
    # Given a correctly signed message dated 301 s or more before or after now
    body = received()
    headers = sign(body, STAMP + offset)
    # When verified at NOW
    # Then both refuse it
    assert not telnyx.verify(hook(body, headers), conf(), NOW)
    assert not sdk_accepts(body, headers)


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_inside_the_window_is_accepted(offset: int) -> None:
    # Given a message dated at most 300 s away
    body = received()
    headers = sign(body, STAMP + offset)
    # When verified at NOW
    # Then both accept it
    assert telnyx.verify(hook(body, headers), conf(), NOW)
    assert sdk_accepts(body, headers)


def test_tolerance_comes_from_the_tenant() -> None:
    # Given a message 10 minutes old and a tenant allowing 15 minutes
    body = received()
    headers = sign(body, STAMP - 600)
    # When verified
    # Then it is accepted there, and refused with the default window
    assert telnyx.verify(hook(body, headers), conf(timestamp_tolerance_seconds=900), NOW)
    assert not telnyx.verify(hook(body, headers), conf(), NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {"telnyx-signature-ed25519": "not base64!", "telnyx-timestamp": str(STAMP)},
        {"telnyx-signature-ed25519": base64.b64encode(b"short").decode(), "telnyx-timestamp": str(STAMP)},
        {"telnyx-signature-ed25519": base64.b64encode(bytes(64)).decode(), "telnyx-timestamp": str(STAMP)},
        {"telnyx-signature-ed25519": base64.b64encode(bytes(64)).decode(), "telnyx-timestamp": "soon"},
        {"telnyx-signature-ed25519": base64.b64encode(bytes(64)).decode(), "telnyx-timestamp": "-1"},
    ],
)
def test_malformed_headers_are_refused(headers: dict[str, str]) -> None:
    # Given a signature that is not base64, the wrong length, zeros, or a bad timestamp
    # When verified
    # Then it is refused
    assert not telnyx.verify(hook(received(), headers), conf(), NOW)


@pytest.mark.parametrize("public_key", ["", "not base64!", base64.b64encode(bytes(31)).decode()])
def test_unusable_public_key_is_refused(public_key: str) -> None:
    # Given a tenant whose public key is empty, not base64 or not 32 bytes
    body = received()
    # When verified
    # Then it is refused
    assert not telnyx.verify(hook(body, sign(body)), conf(public_key), NOW)
    assert not telnyx.verify(hook(body, sign(body)), {}, NOW)


# ---- random bodies and times: the module and Telnyx's SDK agree ----------------------------


@settings(max_examples=120, deadline=None)
@given(
    text=st.text(max_size=200),
    signed_at=st.integers(-700, 700),
    tamper=st.booleans(),
    other_key=st.booleans(),
)
def test_random_bodies_agree_with_the_sdk(text: str, signed_at: int, tamper: bool, other_key: bool) -> None:
    # Given any unicode body, signed at a random offset from NOW, maybe tampered, maybe by another key
    body = text.encode()
    headers = sign(body, STAMP + signed_at, OTHER_KEY if other_key else DEMO_KEY)
    sent = body + b" " if tamper else body
    # When the module and the SDK verify it at NOW
    ours = telnyx.verify(hook(sent, headers), conf(), NOW)
    # Then they agree, and accept exactly the untampered, demo-signed, fresh ones
    assert ours == sdk_accepts(sent, headers)
    assert ours == (not tamper and not other_key and abs(signed_at) <= 300)


# ---- parse -----------------------------------------------------------------------------------


def test_parse_stop() -> None:
    # Given an inbound STOP
    # When parsed
    # Then the fields are Telnyx's payload's
    assert telnyx.parse(hook(received("STOP"), {})) == InboundMessage(
        provider="telnyx",
        message_id="3fa85f64-5717-4562-b3fc-2c963f66a001",
        sender="+4915112345678",
        recipient="+4915790000000",
        text="STOP",
    )


def test_parse_help() -> None:
    # Given an inbound HELP
    message = telnyx.parse(hook(received("HELP"), {}))
    # Then it is that text by SMS
    assert message is not None and (message.text, message.channel, message.handled) == ("HELP", "sms", None)


@pytest.mark.parametrize("event_type", ["message.sent", "message.finalized", "message.queued"])
def test_other_events_are_not_messages(event_type: str) -> None:
    # Given an outbound status event
    # When parsed
    # Then it is no inbound message
    assert telnyx.parse(hook(received("STOP", event_type), {})) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"data": []}',
        b'{"data": {"event_type": "message.received"}}',
        b'{"data": {"event_type": "message.received", "payload": {"id": "x", "from": {}}}}',
    ],
)
def test_malformed_bodies_are_not_messages(body: bytes) -> None:
    assert telnyx.parse(hook(body, {})) is None


def test_mms_without_text_has_empty_text() -> None:
    # Given an MMS with no text
    doc = json.loads(received())
    doc["data"]["payload"]["text"] = None
    doc["data"]["payload"]["to"] = []
    # When parsed
    message = telnyx.parse(hook(json.dumps(doc).encode(), {}))
    # Then the text and recipient are empty, not "None"
    assert message is not None and (message.text, message.recipient) == ("", "")


def test_respond_is_an_empty_200() -> None:
    # Given any reply (Telnyx cannot carry it)
    answer = telnyx.respond("You are unsubscribed")
    # Then it is a 200 with an empty body, the reply goes through the sender instead
    assert answer["statusCode"] == 200 and answer["body"] == ""
    assert telnyx.INLINE_REPLY is False


# ---- the sample events ---------------------------------------------------------------------

EVENT_FILES = sorted(EVENTS.glob("inbound-telnyx-*.json"))


def _event_hook(path: Path, tenant: Tenant) -> tuple[Webhook, dict[str, Any]]:
    """The webhook as functions/inbound/app.py builds it from the event."""
    request = Request.from_event(json.loads(path.read_text(encoding="utf-8")))
    conf = tenant.providers["telnyx"]
    return Webhook.from_request(request, conf), conf


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_sample_event_verifies_with_the_demo_key(path: Path, demo: Tenant) -> None:
    # Given a sample event and the demo tenant's Telnyx settings
    hook, conf = _event_hook(path, demo)
    genuine = "forged" not in path.name
    # When verified at the events' time, 2026-11-22T10:00:00Z
    # Then the genuine ones verify and the forged one does not, as the SDK says too
    assert telnyx.verify(hook, conf, NOW) is genuine
    if HAVE_SDK:
        assert sdk_accepts(hook.body, hook.headers) is genuine
    # And all of them are stale five minutes later
    assert not telnyx.verify(hook, conf, NOW + timedelta(seconds=301))
    # And each is an inbound message whose keyword is the file's
    message = telnyx.parse(hook)
    assert message is not None and message.sender == "+4915112345678"
    kind = path.stem.split("-")[2]
    assert message.text == ("STOP" if kind == "forged" else kind.upper())


@pytest.mark.parametrize(("offset", "stale"), [(301, True), (-86400, True), (300, False), (0, False)])
def test_stale_says_when_the_timestamp_is_outside_the_window(offset: int, stale: bool) -> None:
    body = received()
    assert telnyx.stale(hook(body, sign(body, STAMP + offset)), conf(), NOW) is stale
    assert not telnyx.stale(hook(body, {"telnyx-timestamp": "yesterday"}), conf(), NOW)


def test_verify_records_the_signed_bytes_and_their_window() -> None:
    body = received()
    webhook = hook(body, sign(body, STAMP))
    assert telnyx.verify(webhook, conf(), NOW)
    assert webhook.signed == str(STAMP).encode() + b"|" + body and webhook.window == 600
