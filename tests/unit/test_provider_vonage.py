"""Vonage SMS API inbound webhooks: the signed ``sig`` parameter, the timestamp window,
parsing and the answer.

The reference is Vonage's own Python SDK: ``vonage_http_client.auth.Auth.sign_params`` /
``check_signature`` (vonage-http-client 1.5, what ``vonage`` 4.x uses) for the HMAC methods.
That SDK dropped the legacy "MD5 hash" method, so ``md5hash`` is checked against an
independent computation written from vonage 3.x ``Client.signature``: MD5 of the sorted
``&name=value`` string followed by the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.http import Request
from smsconsent.providers import vonage
from smsconsent.providers.base import InboundMessage, Webhook
from smsconsent.tenants import SecretRef, Tenant

EVENTS = Path(__file__).resolve().parents[2] / "events"
SECRET = "demo-vonage-signature-secret"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
URL = "http://127.0.0.1:3000/v1/demo/inbound/vonage"
HMACS = ("md5", "sha1", "sha256", "sha512")


def conf(method: str | None = "sha256", key: str = SECRET, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"signature_secret": SecretRef("value", key), **extra}
    if method is not None:
        found["signature_method"] = method
    return found


def message_params(text: str = "STOP", when: datetime = NOW) -> dict[str, str]:
    return {
        "api-key": "a1b2c3d4",
        "keyword": text.split()[0].upper() if text.split() else "",
        "message-timestamp": when.strftime("%Y-%m-%d %H:%M:%S"),
        "messageId": "1A0000000F3C5E71",
        "msisdn": "4915112345678",
        "nonce": "6f0e4a7c-3b2d-4e1f-9a8b-0f3c5e710000",
        "text": text,
        "timestamp": str(int(when.timestamp())),
        "to": "4915790000000",
        "type": "text",
    }


def independent(key: str, params: dict[str, Any], method: str) -> str:
    """Vonage's documented algorithm, written apart from the module under test."""
    text = ""
    for name in sorted(p for p in params if p != "sig"):
        value = params[name]
        text += "&" + name + "=" + (re.sub("[&=]", "_", value) if isinstance(value, str) else str(value))
    if method == "md5hash":
        return hashlib.md5((text + key).encode()).hexdigest()  # noqa: S324
    return hmac.new(key.encode(), text.encode(), getattr(hashlib, method)).hexdigest()


def signed(params: dict[str, Any], method: str = "sha256", key: str = SECRET) -> dict[str, Any]:
    return {**params, "sig": independent(key, params, method)}


def json_hook(params: dict[str, Any]) -> Webhook:
    body = json.dumps(params).encode()
    return Webhook("POST", URL, {"content-type": "application/json"}, "", body)


def form_hook(pairs: list[tuple[str, str]] | dict[str, str]) -> Webhook:
    body = urlencode(pairs).encode()
    return Webhook("POST", URL, {"content-type": "application/x-www-form-urlencoded"}, "", body)


def get_hook(pairs: list[tuple[str, str]] | dict[str, str]) -> Webhook:
    query = urlencode(pairs)
    return Webhook("GET", f"{URL}?{query}", {}, query, b"")


@pytest.fixture
def sdk() -> Any:
    """Vonage's own signer (``pip install vonage-http-client``), for the HMAC methods."""
    auth = pytest.importorskip("vonage_http_client.auth")

    def make(method: str, key: str = SECRET) -> Any:
        return auth.Auth(api_key="a1b2c3d4", signature_secret=key, signature_method=method)

    return make


# ---- the signature agrees with Vonage's SDK ------------------------------------------------


@pytest.mark.parametrize("method", HMACS)
def test_hmac_signature_matches_vonage_sdk(method: str, sdk: Any) -> None:
    # Given an inbound message signed by Vonage's SDK with each HMAC method
    params = message_params()
    params["sig"] = sdk(method).sign_params(dict(params))
    # When the module signs and verifies it
    # Then it computes the same signature, accepts it, and the SDK accepts it too
    assert vonage.signature(SECRET, params, method) == params["sig"]
    assert vonage.verify(json_hook(params), conf(method), NOW)
    assert sdk(method).check_signature(dict(params))


def test_legacy_md5_hash_matches_the_documented_algorithm() -> None:
    # Given a message signed with the legacy "MD5 hash" (md5 of the string + the secret)
    params = message_params()
    expected = hashlib.md5(("".join(f"&{k}={params[k]}" for k in sorted(params)) + SECRET).encode())  # noqa: S324
    # When the module signs and verifies it
    # Then it is that md5, and verifies (md5hash is also the default method)
    assert vonage.signature(SECRET, params, "md5hash") == expected.hexdigest()
    assert vonage.verify(json_hook(signed(params, "md5hash")), conf("md5hash"), NOW)
    assert vonage.verify(json_hook(signed(params, "md5hash")), conf(None), NOW)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("sha256", "8a0de21729125607f93d745e3acd6025e4c936cee39317e4aaf8a662c17cffb7"),
        ("md5", "554eb4904a4d3bc9ebaadd0c4fd6d672"),
        ("md5hash", "70dd757b99a41bd27e705365c463f633"),
    ],
)
def test_known_vectors(method: str, expected: str) -> None:
    # Given fixed parameters (recorded from vonage-http-client 1.5.2 Auth.sign_params for the
    # HMACs; for md5hash, md5 of "&msisdn=4915112345678&text=STOP _ go_now&timestamp=1795341600"
    # followed by the secret)
    params = {"msisdn": "4915112345678", "text": "STOP & go=now", "timestamp": "1795341600"}
    # When the module signs them
    # Then the signature is the recorded one, whether or not the SDK is installed
    assert vonage.signature(SECRET, params, method) == expected
    assert independent(SECRET, params, method) == expected


@pytest.mark.parametrize("hook", [json_hook, form_hook, get_hook], ids=["post-json", "post-form", "get"])
def test_every_http_method_vonage_uses_verifies(hook: Any) -> None:
    # Given the same signed parameters sent as POST-JSON, POST form and GET query
    params = signed(message_params())
    # When verified
    # Then each is accepted
    assert vonage.verify(hook(params), conf(), NOW)


def test_signature_is_compared_without_case() -> None:
    # Given a signature in upper-case hex (as some Vonage accounts send it)
    params = signed(message_params())
    params["sig"] = params["sig"].upper()
    # When verified
    # Then it is accepted
    assert vonage.verify(json_hook(params), conf(), NOW)


def test_ampersand_and_equals_in_values_become_underscores(sdk: Any) -> None:
    # Given a text with & and = in it
    params = message_params("STOP & a=b")
    params["sig"] = sdk("sha256").sign_params(dict(params))
    # When verified
    # Then it is accepted, also when it arrived as a form post
    assert vonage.verify(json_hook(params), conf(), NOW)
    assert vonage.verify(form_hook(params), conf(), NOW)


# ---- refusals --------------------------------------------------------------------------------


def test_tampered_text_is_refused() -> None:
    # Given a signed STOP whose text was changed on the way
    params = signed(message_params("START"))
    params["text"] = "STOP"
    # When verified
    # Then it is refused
    assert not vonage.verify(json_hook(params), conf(), NOW)


def test_added_parameter_is_refused() -> None:
    # Given a signed message with one more parameter added
    params = {**signed(message_params()), "extra": "1"}
    # When verified
    # Then it is refused
    assert not vonage.verify(form_hook(params), conf(), NOW)


def test_wrong_secret_is_refused() -> None:
    # Given a message signed with another secret
    params = signed(message_params(), key="someone-elses-secret")
    # When verified with the tenant's secret
    # Then it is refused
    assert not vonage.verify(json_hook(params), conf(), NOW)


def test_other_method_than_configured_is_refused() -> None:
    # Given a message signed with HMAC-SHA1 while the tenant says sha256
    params = signed(message_params(), "sha1")
    # When verified
    # Then it is refused
    assert not vonage.verify(json_hook(params), conf("sha256"), NOW)


@pytest.mark.parametrize("method", ["sha384", "none", ""])
def test_unknown_method_is_refused(method: str) -> None:
    # Given a tenant with a signature method Vonage does not offer (empty means the default)
    params = signed(message_params(), "sha256")
    # When verified
    # Then it is refused
    assert not vonage.verify(json_hook(params), conf(method), NOW)


def test_missing_sig_or_secret_is_refused() -> None:
    # Given an unsigned message, and a tenant without a secret
    params = message_params()
    # When verified
    # Then both are refused
    assert not vonage.verify(json_hook(params), conf(), NOW)
    assert not vonage.verify(json_hook(signed(params)), {"signature_method": "sha256"}, NOW)
    assert not vonage.verify(json_hook({**params, "sig": ""}), conf(), NOW)


def test_missing_timestamp_is_refused() -> None:
    # Given a message signed without a timestamp parameter
    params = message_params()
    del params["timestamp"]
    # When verified
    # Then it is refused (nothing dates it)
    assert not vonage.verify(json_hook(signed(params)), conf(), NOW)


@pytest.mark.parametrize("stamp", ["abc", "-5", "1.5", "", "١٧٩٥٣٤١٦٠٠"])
def test_malformed_timestamp_is_refused(stamp: str) -> None:
    # Given a signed message whose timestamp is not unix seconds
    params = {**message_params(), "timestamp": stamp}
    # When verified
    # Then it is refused
    assert not vonage.verify(json_hook(signed(params)), conf(), NOW)


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_timestamp_outside_the_window_is_refused(offset: int) -> None:
    # Given a correctly signed message dated 301 s or more before or after now
    params = signed(message_params(when=NOW + timedelta(seconds=offset)))
    # When verified at NOW
    # Then it is refused (a replay, or a forged clock)
    assert not vonage.verify(json_hook(params), conf(), NOW)


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_inside_the_window_is_accepted(offset: int) -> None:
    # Given a message dated at most 300 s away
    params = signed(message_params(when=NOW + timedelta(seconds=offset)))
    # When verified at NOW
    # Then it is accepted
    assert vonage.verify(json_hook(params), conf(), NOW)


def test_tolerance_comes_from_the_tenant() -> None:
    # Given a message 10 minutes old and a tenant allowing 15 minutes
    params = signed(message_params(when=NOW - timedelta(minutes=10)))
    # When verified
    # Then it is accepted there, and refused with the default window
    assert vonage.verify(json_hook(params), conf(timestamp_tolerance_seconds=900), NOW)
    assert not vonage.verify(json_hook(params), conf(), NOW)


def test_json_timestamp_as_a_number_counts() -> None:
    # Given a JSON body with the timestamp as a number
    params: dict[str, Any] = {**message_params(), "timestamp": int(NOW.timestamp())}
    # When verified
    # Then it is accepted (the SDK formats it as its digits)
    assert vonage.verify(json_hook(signed(params)), conf(), NOW)


def test_repeated_parameter_is_refused() -> None:
    # Given a signed message with a second "text" added to the query
    params = signed(message_params("START"))
    pairs = [*params.items(), ("text", "STOP")]
    # When verified
    # Then it is refused: Vonage never repeats a name, and the signature cannot say which counts
    assert not vonage.verify(get_hook(pairs), conf(), NOW)


def test_not_a_json_object_is_refused() -> None:
    # Given POST-JSON bodies that are not an object
    for body in (b"[]", b"not json", b"{}", b""):
        hook = Webhook("POST", URL, {"content-type": "application/json"}, "", body)
        # When verified
        # Then they are refused
        assert not vonage.verify(hook, conf(), NOW)


# ---- random parameters: the module and Vonage's SDK agree ----------------------------------

names = st.text(min_size=1, max_size=12).filter(lambda n: n not in ("sig", "timestamp"))
values = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(extra=st.dictionaries(names, values, max_size=8), method=st.sampled_from(HMACS), how=st.integers(0, 2))
def test_random_parameters_agree_with_the_sdk(extra: dict[str, str], method: str, how: int) -> None:
    auth = pytest.importorskip("vonage_http_client.auth")
    # Given random parameters (any unicode, & and = included) signed by Vonage's SDK
    params = {**extra, "timestamp": str(int(NOW.timestamp()))}
    sdk = auth.Auth(api_key="k", signature_secret=SECRET, signature_method=method)
    params["sig"] = sdk.sign_params(dict(params))
    # When the module signs them, and verifies them as POST-JSON, POST form or GET
    hook = (json_hook, form_hook, get_hook)[how](params)
    # Then its signature is the SDK's, and it accepts them
    assert vonage.signature(SECRET, params, method) == params["sig"]
    assert vonage.verify(hook, conf(method), NOW)
    # And the SDK rejects what the module rejects: a changed value
    changed = {**params, "timestamp": str(int(NOW.timestamp()) + 1)}
    assert not vonage.verify(json_hook(changed), conf(method), NOW)
    assert not sdk.check_signature(dict(changed))


@settings(max_examples=60, deadline=None)
@given(extra=st.lists(st.tuples(names, values), min_size=1, max_size=6))
def test_random_repeated_names_are_refused(extra: list[tuple[str, str]]) -> None:
    # Given signed parameters plus a name that appears twice
    params = signed(message_params())
    name, value = extra[0]
    pairs = [*params.items(), *extra, (name, value + "x")]
    # When verified as a GET
    # Then it is refused
    assert not vonage.verify(get_hook(pairs), conf(), NOW)


# ---- parse -----------------------------------------------------------------------------------


def test_parse_stop() -> None:
    # Given a signed inbound STOP
    hook = json_hook(signed(message_params("STOP")))
    # When parsed
    # Then the numbers get their + and the fields are Vonage's
    assert vonage.parse(hook) == InboundMessage(
        provider="vonage",
        message_id="1A0000000F3C5E71",
        sender="+4915112345678",
        recipient="+4915790000000",
        text="STOP",
    )


def test_parse_help_from_a_get() -> None:
    # Given a HELP sent with GET, unicode type
    params = {**message_params("Hilfe ü"), "type": "unicode"}
    # When parsed
    message = vonage.parse(get_hook(params))
    # Then it is an SMS with the text as written
    assert message is not None
    assert (message.text, message.channel, message.handled) == ("Hilfe ü", "sms", None)


def test_delivery_receipt_is_not_a_message() -> None:
    # Given a delivery receipt
    receipt = {
        "msisdn": "4915112345678",
        "to": "DemoShop",
        "network-code": "26201",
        "messageId": "1A0000000F3C5E71",
        "price": "0.03330000",
        "status": "delivered",
        "scts": "2611221000",
        "err-code": "0",
        "api-key": "a1b2c3d4",
        "message-timestamp": "2026-11-22 10:00:00",
    }
    # When parsed
    # Then it is no inbound message
    assert vonage.parse(json_hook(receipt)) is None
    assert vonage.parse(get_hook(receipt)) is None


@pytest.mark.parametrize(
    "change",
    [
        {"type": "binary", "text": ""},
        {"concat": "true", "concat-ref": "7", "concat-total": "2", "concat-part": "2"},
        {"msisdn": ""},
        {"messageId": ""},
    ],
)
def test_not_a_keyword_bearing_message(change: dict[str, str]) -> None:
    # Given a binary message, a later part of a long one, or one without sender or id
    params = {**message_params(), **change}
    # When parsed
    # Then it is not handed on
    assert vonage.parse(json_hook(params)) is None


def test_first_part_of_a_long_message_counts() -> None:
    # Given the first part of a concatenated message
    params = {**message_params("Stop sending me"), "concat": "true", "concat-part": "1"}
    # When parsed
    # Then it is a message
    message = vonage.parse(form_hook(params))
    assert message is not None and message.text == "Stop sending me"


def test_respond_is_an_empty_200() -> None:
    # Given any reply (Vonage cannot carry it)
    # When answering
    answer = vonage.respond("You are unsubscribed")
    # Then it is a 200 with an empty body, and the reply goes through the sender instead
    assert answer["statusCode"] == 200
    assert answer["body"] == ""
    assert vonage.INLINE_REPLY is False
    assert vonage.respond(None) == answer


# ---- the sample events ---------------------------------------------------------------------


def _event_hook(path: Path, tenant: Tenant) -> tuple[Webhook, dict[str, Any]]:
    """The webhook as functions/inbound/app.py builds it from the event."""
    request = Request.from_event(json.loads(path.read_text(encoding="utf-8")))
    conf = tenant.providers["vonage"]
    return Webhook.from_request(request, conf), conf


EVENT_FILES = sorted(EVENTS.glob("inbound-vonage-*.json"))


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_sample_event_verifies_with_the_demo_secret(path: Path, demo: Tenant) -> None:
    # Given a sample event and the demo tenant's Vonage settings
    hook, conf = _event_hook(path, demo)
    # When verified at the events' time, 2026-11-22T10:00:00Z
    # Then the genuine ones verify and the forged one does not
    assert vonage.verify(hook, conf, NOW) is ("forged" not in path.name)
    # And all of them are stale five minutes later
    assert not vonage.verify(hook, conf, NOW + timedelta(seconds=301))
    # And each is an inbound message whose keyword is the file's
    message = vonage.parse(hook)
    assert message is not None and message.sender == "+4915112345678"
    kind = path.stem.split("-")[2]
    assert message.text.upper() == ("STOP" if kind == "forged" else kind.upper())


def test_too_many_fields_is_refused_not_an_error() -> None:
    # Given a forged query with more fields than the parser takes
    hook = get_hook([(f"f{i}", "x") for i in range(600)])
    # When verified and parsed
    # Then it is refused and no message, without an exception
    assert not vonage.verify(hook, conf(), NOW)
    assert vonage.parse(hook) is None


@pytest.mark.parametrize(("offset", "stale"), [(301, True), (-3600, True), (300, False)])
def test_stale_says_when_the_timestamp_is_outside_the_window(offset: int, stale: bool) -> None:
    params = signed(message_params(when=NOW + timedelta(seconds=offset)))
    assert vonage.stale(json_hook(params), conf(), NOW) is stale
