"""Plivo inbound messages: signature V3, parsing (MessageIntent) and the XML answer.

The reference is Plivo's Python SDK: ``plivo.utils.signature_v3.validate_v3_signature``
(and its helpers ``construct_get_url`` / ``construct_post_url`` / ``get_signature_v3``),
plivo 4.63, and ``plivo.plivoxml`` for the answer. One known gap: that SDK parses the URL
as ASCII bytes (a Python 2 leftover) and raises UnicodeEncodeError on a non-ASCII *query*
value; Plivo's Node SDK (lib/utils/v3Security.js) decodes it and signs it as UTF-8, and so
does this module. POST parameters, which is how Plivo sends messages by default, agree
with the Python SDK for any unicode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plivo import plivoxml
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, validate_v3_signature

from smsconsent.http import Request
from smsconsent.providers import plivo
from smsconsent.providers.base import InboundMessage, Webhook
from smsconsent.tenants import SecretRef, Tenant

EVENTS = Path(__file__).resolve().parents[2] / "events"
TOKEN = "demo-plivo-auth-token"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
URL = "http://127.0.0.1:3000/v1/demo/inbound/plivo"
NONCE = "37498253416709112345"
FORM = "application/x-www-form-urlencoded"


def conf(token: str = TOKEN) -> dict[str, Any]:
    return {"auth_token": SecretRef("value", token)}


def message_params(text: str = "STOP", intent: str = "") -> dict[str, str]:
    return {
        "From": "4915112345678",
        "MessageIntent": intent,
        "MessageUUID": "5b1f3c2a-8d4e-4f6a-9b7c-0e1d2f3a4b01",
        "PowerpackUUID": "",
        "Text": text,
        "To": "4915790000000",
        "TotalAmount": "0.00000",
        "TotalRate": "0.00000",
        "Type": "sms",
        "Units": "1",
    }


def grouped(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """POST parameters as a web framework hands them to the SDK: a list for a repeated name."""
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


def sdk_signature(method: str, url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> str:
    """The SDK's own signature for a request (its helpers, as validate_v3_signature uses them)."""
    base = construct_get_url(url, {}) if method == "GET" else construct_post_url(url, grouped(pairs))
    digest = hmac.new(token.encode(), base + b"." + NONCE.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def post_hook(
    pairs: list[tuple[str, str]] | dict[str, str], signature: str | None, url: str = URL, **headers: str
) -> Webhook:
    pairs = list(pairs.items()) if isinstance(pairs, dict) else pairs
    found = {"content-type": FORM, "x-plivo-signature-v3-nonce": NONCE, **headers}
    if signature is not None:
        found["x-plivo-signature-v3"] = signature
    query = url.partition("?")[2]
    return Webhook("POST", url, found, query, urlencode(pairs).encode())


def get_hook(pairs: list[tuple[str, str]] | dict[str, str], signature: str) -> Webhook:
    query = urlencode(pairs)
    headers = {"x-plivo-signature-v3": signature, "x-plivo-signature-v3-nonce": NONCE}
    return Webhook("GET", f"{URL}?{query}", headers, query, b"")


def signed_post(params: dict[str, str], url: str = URL, token: str = TOKEN) -> Webhook:
    return post_hook(params, sdk_signature("POST", url, list(params.items()), token), url)


# ---- the signature agrees with Plivo's SDK -------------------------------------------------


def test_post_signed_by_the_sdk_verifies() -> None:
    # Given an inbound STOP form post signed the way Plivo's SDK computes it
    params = message_params()
    hook = signed_post(params)
    given_sig = hook.headers["x-plivo-signature-v3"]
    # When verified by the module and by the SDK
    # Then both accept it
    assert plivo.verify(hook, conf(), NOW)
    assert validate_v3_signature("POST", URL, NONCE, TOKEN, given_sig, dict(params))


def test_signed_url_is_the_sdks() -> None:
    # Given a POST to a URL with a query, and a GET with repeated names
    params = list(message_params().items())
    url = URL + "?b=2&a=1&a=0"
    # When the module builds the string it signs
    # Then it is exactly the SDK's
    assert (
        plivo.signed_url("POST", url, "b=2&a=1&a=0", params)
        == construct_post_url(url, grouped(params)).decode()
    )
    assert plivo.signed_url("GET", url, "b=2&a=1&a=0", []) == construct_get_url(url, {}).decode()
    assert plivo.signed_url("POST", URL, "", []) == construct_post_url(URL, {}).decode()
    assert plivo.signed_url("POST", url, "b=2&a=1&a=0", []) == construct_post_url(url, {}).decode()
    assert plivo.signed_url("GET", URL, "", []) == URL


def test_known_vector() -> None:
    # Given the body of events/inbound-plivo-stop.json, recomputed by hand:
    # URL + "?" + the sorted parameters as namevalue, then "." + nonce, HMAC-SHA256, base64
    params = message_params()
    text = URL + "?" + "".join(k + params[k] for k in sorted(params)) + "." + NONCE
    expected = base64.b64encode(hmac.new(TOKEN.encode(), text.encode(), hashlib.sha256).digest()).decode()
    # When the module signs it
    # Then it is that value, the one in the event file
    assert plivo.signature(TOKEN, plivo.signed_url("POST", URL, "", list(params.items())), NONCE) == expected
    event = json.loads((EVENTS / "inbound-plivo-stop.json").read_text(encoding="utf-8"))
    assert event["headers"]["x-plivo-signature-v3"] == expected


def test_get_signed_by_the_sdk_verifies() -> None:
    # Given Plivo set to GET: the parameters in the query
    params = message_params("HELP")
    query_url = f"{URL}?{urlencode(params)}"
    signature = sdk_signature("GET", query_url, [])
    # When verified by the module and by the SDK
    # Then both accept it
    assert plivo.verify(get_hook(params, signature), conf(), NOW)
    assert validate_v3_signature("GET", query_url, NONCE, TOKEN, signature)


def test_post_to_a_url_with_a_query_verifies() -> None:
    # Given a message URL configured with its own query string
    url = URL + "?source=plivo&b=2"
    hook = signed_post(message_params(), url)
    # When verified by the module and by the SDK
    # Then both accept it
    assert plivo.verify(hook, conf(), NOW)
    signature = hook.headers["x-plivo-signature-v3"]
    assert validate_v3_signature("POST", url, NONCE, TOKEN, signature, message_params())


def test_non_ascii_query_is_signed_as_utf8() -> None:
    # Given a message URL whose query holds a non-ASCII value ("x=ä", percent-encoded)
    url = URL + "?x=%C3%A4"
    params = message_params()
    # When the module signs it
    own = plivo.signature(TOKEN, plivo.signed_url("POST", url, "x=%C3%A4", list(params.items())), NONCE)
    # Then the query counts decoded and UTF-8 encoded (as Plivo's Node SDK does it) ...
    text = URL + "?x=ä." + "".join(k + params[k] for k in sorted(params)) + "." + NONCE
    assert own == base64.b64encode(hmac.new(TOKEN.encode(), text.encode(), hashlib.sha256).digest()).decode()
    assert plivo.verify(post_hook(params, own, url), conf(), NOW)
    # ... where the Python SDK cannot check it at all (it parses the URL as ASCII bytes)
    with pytest.raises(UnicodeError):
        validate_v3_signature("POST", url, NONCE, TOKEN, own, params)


def test_one_of_several_signatures_is_enough() -> None:
    # Given a header with several comma-separated signatures (as during a token rotation)
    params = message_params()
    good = sdk_signature("POST", URL, list(params.items()))
    other = sdk_signature("POST", URL, list(params.items()), token="old-token")
    # When verified
    # Then any one matching is enough, as in the SDK
    assert plivo.verify(post_hook(params, f"{other},{good}"), conf(), NOW)
    assert validate_v3_signature("POST", URL, NONCE, TOKEN, f"{other},{good}", dict(params))
    assert not plivo.verify(post_hook(params, other), conf(), NOW)


def test_main_account_signature_header_counts() -> None:
    # Given only X-Plivo-Signature-Ma-V3 (made with the main account's token, the tenant's here)
    params = message_params()
    hook = post_hook(
        params, None, **{"x-plivo-signature-ma-v3": sdk_signature("POST", URL, list(params.items()))}
    )
    # When verified
    # Then it is accepted
    assert plivo.verify(hook, conf(), NOW)


# ---- refusals --------------------------------------------------------------------------------


def test_tampered_text_is_refused() -> None:
    # Given a signed START whose text was changed on the way
    hook = signed_post(message_params("START"))
    tampered = post_hook(message_params("STOP"), hook.headers["x-plivo-signature-v3"])
    # When verified
    # Then it is refused
    assert not plivo.verify(tampered, conf(), NOW)


def test_added_parameter_is_refused() -> None:
    # Given a signed message with one more parameter
    params = message_params()
    signature = sdk_signature("POST", URL, list(params.items()))
    # When verified
    # Then it is refused
    assert not plivo.verify(post_hook([*params.items(), ("MessageIntent", "optout")], signature), conf(), NOW)


def test_wrong_token_is_refused() -> None:
    # Given a message signed with another auth token
    hook = signed_post(message_params(), token="someone-elses-token")
    # When verified with the tenant's token
    # Then it is refused
    assert not plivo.verify(hook, conf(), NOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:3000/v1/demo/inbound/plivo",
        "http://127.0.0.1:3001/v1/demo/inbound/plivo",
        "http://127.0.0.1:3000/v1/other/inbound/plivo",
        "http://127.0.0.1:3000/v1/demo/inbound/plivo?x=1",
    ],
)
def test_signature_for_another_url_is_refused(url: str) -> None:
    # Given a message signed for another URL (scheme, port, path or query)
    params = message_params()
    signature = sdk_signature("POST", url, list(params.items()))
    # When it arrives at the tenant's URL
    # Then it is refused
    assert not plivo.verify(post_hook(params, signature), conf(), NOW)


def test_missing_headers_or_token_are_refused() -> None:
    params = message_params()
    good = signed_post(params)
    # Given no signature, no nonce, another nonce, or no token configured
    no_signature = post_hook(params, None)
    no_nonce = Webhook("POST", URL, {"content-type": FORM, "x-plivo-signature-v3": "x"}, "", good.body)
    other_nonce = Webhook("POST", URL, {**good.headers, "x-plivo-signature-v3-nonce": "1"}, "", good.body)
    # When verified
    # Then each is refused
    assert not plivo.verify(no_signature, conf(), NOW)
    assert not plivo.verify(no_nonce, conf(), NOW)
    assert not plivo.verify(other_nonce, conf(), NOW)
    assert not plivo.verify(good, {}, NOW)


def test_v2_signature_alone_is_refused() -> None:
    # Given only the V2 headers (URL + nonce: they do not cover the message)
    v2 = base64.b64encode(hmac.new(TOKEN.encode(), (URL + NONCE).encode(), hashlib.sha256).digest()).decode()
    hook = Webhook(
        "POST",
        URL,
        {"content-type": FORM, "x-plivo-signature-v2": v2, "x-plivo-signature-v2-nonce": NONCE},
        "",
        urlencode(message_params()).encode(),
    )
    # When verified
    # Then it is refused
    assert not plivo.verify(hook, conf(), NOW)


# ---- random parameters: the module and Plivo's SDK agree -----------------------------------

names = st.text(min_size=1, max_size=10)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(names, st.text(max_size=30)), min_size=1, max_size=8))
def test_random_post_parameters_agree_with_the_sdk(pairs: list[tuple[str, str]]) -> None:
    # Given random POST parameters (any unicode, repeated names) signed as the SDK signs them
    signature = sdk_signature("POST", URL, pairs)
    hook = post_hook(pairs, signature)
    # When the module verifies them
    # Then it accepts them, and so does the SDK
    assert plivo.verify(hook, conf(), NOW)
    assert validate_v3_signature("POST", URL, NONCE, TOKEN, signature, grouped(pairs))
    # And a token other than the signer's is refused by both
    assert not plivo.verify(hook, conf("x" + TOKEN), NOW)
    assert not validate_v3_signature("POST", URL, NONCE, "x" + TOKEN, signature, grouped(pairs))


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(ascii_text.filter(bool), ascii_text), min_size=1, max_size=8))
def test_random_get_parameters_agree_with_the_sdk(pairs: list[tuple[str, str]]) -> None:
    # Given random ASCII query parameters (repeated names included) signed as the SDK signs them
    query_url = f"{URL}?{urlencode(pairs)}"
    signature = sdk_signature("GET", query_url, [])
    # When the module verifies them
    # Then it accepts them, and so does the SDK
    assert plivo.verify(get_hook(pairs, signature), conf(), NOW)
    assert validate_v3_signature("GET", query_url, NONCE, TOKEN, signature)


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=1, max_size=30))
def test_unicode_get_is_signed_as_utf8(text: str) -> None:
    # Given a GET whose Text is any unicode
    pairs = [("From", "4915112345678"), ("Text", text)]
    query = urlencode(pairs)
    # When the module computes the signature
    # Then it is HMAC-SHA256 of the decoded, sorted query encoded as UTF-8
    signed = f"{URL}?" + "&".join(f"{k}={v}" for k, v in sorted(pairs)) + "." + NONCE
    expected = base64.b64encode(hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha256).digest()).decode()
    assert plivo.verify(get_hook(pairs, expected), conf(), NOW)
    assert plivo.signed_url("GET", URL, query, []) + "." + NONCE == signed


# ---- parse -----------------------------------------------------------------------------------


def test_parse_stop() -> None:
    # Given an inbound STOP
    hook = signed_post(message_params("STOP"))
    # When parsed
    # Then the numbers get their + and nothing was handled by Plivo
    assert plivo.parse(hook) == InboundMessage(
        provider="plivo",
        message_id="5b1f3c2a-8d4e-4f6a-9b7c-0e1d2f3a4b01",
        sender="+4915112345678",
        recipient="+4915790000000",
        text="STOP",
    )


@pytest.mark.parametrize(
    ("intent", "handled"),
    [
        ("optout", "optout"),
        ("optin", "optin"),
        ("help", "help"),
        ("", None),
        ("other", None),
        ("OptOut", "optout"),
    ],
)
def test_message_intent_says_what_plivo_handled(intent: str, handled: str | None) -> None:
    # Given a message with Plivo's MessageIntent
    hook = signed_post(message_params("STOP", intent))
    # When parsed
    message = plivo.parse(hook)
    # Then handled is the intent Plivo acted on, None when it did not
    assert message is not None and message.handled == handled


def test_parse_help_from_a_get() -> None:
    # Given a HELP sent with GET
    params = message_params("Hilfe")
    # When parsed
    message = plivo.parse(get_hook(params, "x"))
    # Then it is the message
    assert message is not None and (message.text, message.channel) == ("Hilfe", "sms")


def test_parse_whatsapp_and_mms_use_body() -> None:
    # Given a WhatsApp message and an MMS, whose text is in Body
    whatsapp = {**message_params(), "Type": "whatsapp", "Body": "STOP", "ContentType": "text"}
    del whatsapp["Text"]
    mms = {**message_params(), "Type": "mms", "Body": "HELP", "MediaCount": "1"}
    del mms["Text"]
    # When parsed
    first, second = plivo.parse(signed_post(whatsapp)), plivo.parse(signed_post(mms))
    # Then the text and channel are right
    assert first is not None and (first.text, first.channel) == ("STOP", "whatsapp")
    assert second is not None and (second.text, second.channel) == ("HELP", "sms")


def test_status_callback_is_not_a_message() -> None:
    # Given a message status callback
    status = {
        "MessageUUID": "5b1f3c2a-8d4e-4f6a-9b7c-0e1d2f3a4b01",
        "From": "4915790000000",
        "To": "4915112345678",
        "Type": "sms",
        "Status": "delivered",
        "Units": "1",
        "TotalRate": "0.0035",
        "TotalAmount": "0.0035",
        "MCC": "262",
        "MNC": "01",
        "ErrorCode": "",
    }
    # When parsed
    # Then it is no inbound message
    assert plivo.parse(signed_post(status)) is None
    assert plivo.parse(signed_post({"Text": "STOP"})) is None


# ---- respond -----------------------------------------------------------------------------------

STOP = InboundMessage("plivo", "id-1", "+4915112345678", "+4915790000000", "STOP")


def xml(text: str | bytes) -> ET.Element:
    """Parse XML this test made or the module answered (trusted input)."""
    return ET.fromstring(text)  # noqa: S314


def test_respond_with_a_reply_is_a_message_back_to_the_sender() -> None:
    # Given a reply to an inbound SMS
    reply = "Demo Shop: abgemeldet. Keine SMS mehr <3 & tschüss"
    # When answering
    answer = plivo.respond(reply, message=STOP)
    # Then it is Plivo XML with a Message from our number to the sender, text escaped
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("application/xml")
    ours = xml(answer["body"].encode())
    expected = plivoxml.ResponseElement()
    expected.add(plivoxml.MessageElement(reply, src="4915790000000", dst="4915112345678", type="sms"))
    theirs = xml(expected.to_string())
    assert ours.tag == theirs.tag == "Response"
    assert [(m.tag, m.attrib, m.text) for m in ours] == [(m.tag, m.attrib, m.text) for m in theirs]


def test_respond_without_a_reply_is_an_empty_response() -> None:
    # Given nothing to say
    # When answering
    answer = plivo.respond(None, message=STOP)
    # Then it is an empty Response element
    assert xml(answer["body"].encode()).tag == "Response"
    assert len(xml(answer["body"].encode())) == 0
    assert plivo.respond(None) == answer


def test_respond_needs_the_message_for_a_reply() -> None:
    # Given a reply but no inbound message to address it to
    # When answering
    # Then it fails loudly rather than drop the reply
    with pytest.raises(ValueError, match="message"):
        plivo.respond("text")


def test_whatsapp_gets_no_inline_reply() -> None:
    # Given a reply to a WhatsApp message (Plivo XML can only send SMS)
    message = InboundMessage("plivo", "id-2", "+4915112345678", "+4915790000000", "STOP", channel="whatsapp")
    # When answering
    # Then the Response is empty
    assert len(xml(plivo.respond("bye", message=message)["body"].encode())) == 0


# ---- the sample events ---------------------------------------------------------------------

EVENT_FILES = sorted(EVENTS.glob("inbound-plivo-*.json"))


def _event_hook(path: Path, tenant: Tenant) -> tuple[Webhook, dict[str, Any]]:
    """The webhook as functions/inbound/app.py builds it from the event."""
    request = Request.from_event(json.loads(path.read_text(encoding="utf-8")))
    conf = tenant.providers["plivo"]
    return Webhook.from_request(request, conf), conf


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_sample_event_verifies_with_the_demo_token(path: Path, demo: Tenant) -> None:
    # Given a sample event and the demo tenant's Plivo settings
    hook, conf = _event_hook(path, demo)
    # When verified
    # Then the genuine ones verify and the forged one does not
    assert plivo.verify(hook, conf, NOW) is ("forged" not in path.name)
    # And the SDK agrees
    assert validate_v3_signature(
        "POST",
        hook.url,
        hook.headers["x-plivo-signature-v3-nonce"],
        "demo-plivo-auth-token",
        hook.headers["x-plivo-signature-v3"],
        hook.form(),
    ) is ("forged" not in path.name)
    # And each is an inbound message whose keyword is the file's
    message = plivo.parse(hook)
    assert message is not None and message.sender == "+4915112345678"
    kind = path.stem.split("-")[2]
    assert message.text == ("STOP" if kind == "forged" else kind.upper())
    assert message.handled == ("optout" if path.stem.endswith("-handled") else None)


def test_too_many_fields_is_refused_not_an_error() -> None:
    # Given a forged form post with more fields than the parser takes
    pairs = [(f"f{i}", "x") for i in range(600)]
    hook = post_hook(pairs, "x")
    # When verified and parsed
    # Then it is refused and no message, without an exception
    assert not plivo.verify(hook, conf(), NOW)
    assert plivo.parse(hook) is None
