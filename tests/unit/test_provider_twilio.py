"""Twilio webhooks: ``providers.twilio`` against Twilio's own ``RequestValidator`` (the
installed twilio SDK), the parsing of inbound messages and status callbacks, the TwiML
answer, and the signed sample events in ``events/``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator, add_port, remove_port

from smsconsent.http import Request
from smsconsent.providers import twilio
from smsconsent.providers.base import Webhook
from smsconsent.tenants import SecretRef

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TOKEN = "demo-twilio-auth-token"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


def conf(token: str = TOKEN) -> dict[str, Any]:
    return {"auth_token": SecretRef("value", token)}


class MultiDict(dict[str, list[str]]):
    """What Flask/Werkzeug hand the reference validator: repeated names keep every value."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            self.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        return self[name]


def hook(url: str, pairs: list[tuple[str, str]], signature: str | None, method: str = "POST") -> Webhook:
    headers = {"content-type": FORM}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    body = urlencode(pairs).encode() if method == "POST" else b""
    return Webhook(method=method, url=url, headers=headers, raw_query=urlparse(url).query, body=body)


def form_hook(**fields: str) -> Webhook:
    return Webhook("POST", "https://example.com/t", {"content-type": FORM}, "", urlencode(fields).encode())


# ---- signatures against the reference ---------------------------------------------------

_chars = st.characters(codec="utf-8")  # any Unicode text that can be UTF-8
names = st.text(_chars, min_size=1, max_size=12)
values = st.text(_chars, max_size=40)  # empty values included
pairs_strategy = st.lists(
    st.one_of(
        st.tuples(names, values),
        st.tuples(st.sampled_from(["Body", "From", "To", "MessageSid", "MediaUrl0"]), values),
    ),
    max_size=12,
)
hosts = st.sampled_from(
    ["example.com", "hooks.example.org", "127.0.0.1", "abc123.execute-api.eu-central-1.amazonaws.com"]
)
ports = st.sampled_from([None, 80, 443, 3000, 8443])
paths = st.lists(st.text("abcxyz019-_~%.", min_size=1, max_size=8), max_size=4).map(
    lambda p: "/" + "/".join(p)
)
queries = st.one_of(
    st.just(""),
    st.lists(st.tuples(names, values), min_size=1, max_size=3).map(lambda q: "?" + urlencode(q)),
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(ports)
    netloc = draw(hosts) + (f":{port}" if port else "")
    return f"{scheme}://{netloc}{draw(paths)}{draw(queries)}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=urls(), pairs=pairs_strategy)
def test_what_the_reference_signs_verifies(url: str, pairs: list[tuple[str, str]]) -> None:
    reference = RequestValidator(TOKEN)
    sig = reference.compute_signature(url, MultiDict(pairs))
    assert reference.validate(url, MultiDict(pairs), sig)
    assert twilio.verify(hook(url, pairs, sig), conf(), NOW)
    assert twilio.signature(TOKEN, url, pairs) == sig


@settings(max_examples=150, deadline=None)
@given(url=urls(), pairs=pairs_strategy)
def test_default_port_either_way(url: str, pairs: list[tuple[str, str]]) -> None:
    """Twilio may sign the URL with or without the default port; both must verify."""
    parsed = urlparse(url)
    assume(parsed.port in (None, {"http": 80, "https": 443}[parsed.scheme]))
    reference = RequestValidator(TOKEN)
    for signed_url in (add_port(parsed), remove_port(parsed)):
        sig = reference.compute_signature(signed_url, MultiDict(pairs))
        assert reference.validate(url, MultiDict(pairs), sig)
        assert twilio.verify(hook(url, pairs, sig), conf(), NOW)


@settings(max_examples=200, deadline=None)
@given(url=urls(), pairs=pairs_strategy.filter(bool), data=st.data())
def test_tampering_fails_with_both(url: str, pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    reference = RequestValidator(TOKEN)
    sig = reference.compute_signature(url, MultiDict(pairs))

    # a parameter changed
    index = data.draw(st.integers(0, len(pairs) - 1))
    name, value = pairs[index]
    changed = [
        *pairs[:index],
        (name, value + data.draw(st.text(_chars, min_size=1, max_size=3))),
        *pairs[index + 1 :],
    ]
    assume(set(changed) != set(pairs))
    assert not reference.validate(url, MultiDict(changed), sig)
    assert not twilio.verify(hook(url, changed, sig), conf(), NOW)

    # a parameter added
    added = [*pairs, ("Injected", "1")]
    assume(("Injected", "1") not in pairs)
    assert not reference.validate(url, MultiDict(added), sig)
    assert not twilio.verify(hook(url, added, sig), conf(), NOW)

    # the URL changed
    other = url.replace("://", "://evil.", 1)
    assert not reference.validate(other, MultiDict(pairs), sig)
    assert not twilio.verify(hook(other, pairs, sig), conf(), NOW)

    # another token
    assert not RequestValidator("another-token").validate(url, MultiDict(pairs), sig)
    assert not twilio.verify(hook(url, pairs, sig), conf("another-token"), NOW)

    # no signature header, or an empty one
    assert not reference.validate(url, MultiDict(pairs), "")
    assert not twilio.verify(hook(url, pairs, None), conf(), NOW)
    assert not twilio.verify(hook(url, pairs, ""), conf(), NOW)


def test_no_token_configured_refuses() -> None:
    sig = RequestValidator(TOKEN).compute_signature("https://example.com/t", {"Body": "STOP"})
    assert not twilio.verify(hook("https://example.com/t", [("Body", "STOP")], sig), {}, NOW)


def test_get_webhook_signs_the_url_with_its_query() -> None:
    url = "https://example.com/t?From=%2B4915112345678&Body=STOP&MessageSid=SM1"
    sig = RequestValidator(TOKEN).compute_signature(url, {})
    assert twilio.verify(hook(url, [], sig, method="GET"), conf(), NOW)
    assert not twilio.verify(hook(url.replace("STOP", "START"), [], sig, method="GET"), conf(), NOW)


def test_mixed_case_host_with_default_port() -> None:
    url = "https://Example.com/t"
    sig = RequestValidator(TOKEN).compute_signature("https://Example.com:443/t", {"Body": "STOP"})
    assert RequestValidator(TOKEN).validate(url, {"Body": "STOP"}, sig)
    assert twilio.verify(hook(url, [("Body", "STOP")], sig), conf(), NOW)


def test_too_many_form_fields_is_refused_not_an_error() -> None:
    pairs = [(f"f{i}", "") for i in range(501)]
    assert twilio.verify(hook("https://example.com/t", pairs, "c2lnbmF0dXJl"), conf(), NOW) is False


# ---- parsing --------------------------------------------------------------------------


def test_parse_sms_stop() -> None:
    message = twilio.parse(
        form_hook(MessageSid="SM1", SmsSid="SM1", From="+4915112345678", To="+4915790000000", Body="STOP")
    )
    assert message is not None
    assert (message.provider, message.message_id, message.channel) == ("twilio", "SM1", "sms")
    assert (message.sender, message.recipient, message.text, message.handled) == (
        "+4915112345678",
        "+4915790000000",
        "STOP",
        None,
    )


def test_parse_whatsapp() -> None:
    message = twilio.parse(
        form_hook(
            MessageSid="SM2", From="whatsapp:+4915112345678", To="whatsapp:+4915790000000", Body="Stopp"
        )
    )
    assert message is not None
    assert (message.channel, message.sender, message.recipient) == (
        "whatsapp",
        "+4915112345678",
        "+4915790000000",
    )


@pytest.mark.parametrize(
    ("opt_out_type", "handled"), [("STOP", "optout"), ("START", "optin"), ("HELP", "help"), ("help", "help")]
)
def test_parse_opt_out_type(opt_out_type: str, handled: str) -> None:
    message = twilio.parse(
        form_hook(MessageSid="SM3", From="+15005550006", To="+15005550001", Body="x", OptOutType=opt_out_type)
    )
    assert message is not None
    assert message.handled == handled


def test_parse_sms_sid_only_and_empty_body() -> None:
    message = twilio.parse(form_hook(SmsSid="SM4", From="+4915112345678", To="+4915790000000", NumMedia="1"))
    assert message is not None
    assert (message.message_id, message.text) == ("SM4", "")


@pytest.mark.parametrize(
    "fields",
    [
        {"MessageStatus": "delivered", "To": "+4915112345678"},  # status callback without MessageSid/From
        {"MessageSid": "SM5", "To": "+4915112345678", "MessageStatus": "sent"},  # no From
        {},
    ],
)
def test_parse_not_a_message(fields: dict[str, str]) -> None:
    assert twilio.parse(form_hook(**fields)) is None


def test_parse_status_callback_is_not_a_message() -> None:
    callback = form_hook(
        MessageSid="SM6",
        SmsSid="SM6",
        AccountSid="AC1",
        From="+4915790000000",
        To="+4915112345678",
        MessageStatus="delivered",
        SmsStatus="delivered",
        ApiVersion="2010-04-01",
    )
    assert twilio.parse(callback) is None


# ---- answers --------------------------------------------------------------------------


def test_respond_escapes_the_reply() -> None:
    answer = twilio.respond('Tom & Jerry <b>"STOP"</b>')
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/xml")
    assert '<Message>Tom &amp; Jerry &lt;b&gt;"STOP"&lt;/b&gt;</Message>' in answer["body"]
    assert answer["body"].startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')


def test_respond_nothing_is_an_empty_response() -> None:
    answer = twilio.respond(None)
    assert answer["statusCode"] == 200
    assert answer["body"].endswith("<Response></Response>")
    assert "<Message>" not in answer["body"]


# ---- the sample events -----------------------------------------------------------------


def event_hook(event: dict[str, Any], provider_conf: dict[str, Any]) -> Webhook:
    """The webhook exactly as functions/inbound/app.py builds it from an HTTP API event."""
    return Webhook.from_request(Request.from_event(event), provider_conf)


TWILIO_EVENTS = sorted(EVENTS.glob("inbound-twilio-*.json"))


@pytest.mark.parametrize("path", TWILIO_EVENTS, ids=lambda p: p.stem)
def test_twilio_events_verify_with_the_demo_token(path: Path, demo_doc: dict[str, Any]) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    provider_conf = {"auth_token": SecretRef("value", demo_doc["providers"]["twilio"]["auth_token"]["value"])}
    webhook = event_hook(event, provider_conf)
    assert webhook.url == "http://127.0.0.1:3000/v1/demo/inbound/twilio"
    forged = path.stem.endswith("-forged")
    assert twilio.verify(webhook, provider_conf, NOW) is not forged
    assert (
        RequestValidator(TOKEN).validate(
            webhook.url, MultiDict(webhook.form_pairs()), webhook.headers["x-twilio-signature"]
        )
        is not forged
    )
    message = twilio.parse(webhook)
    assert message is not None
    assert (message.sender, message.recipient) == ("+4915112345678", "+4915790000000")
    keyword = path.stem.removeprefix("inbound-twilio-")
    assert message.text == {"forged": "STOP"}.get(keyword, keyword.upper())


# The AWS End User Messaging events (no signature: SNS delivers them to the function).
SNS_EVENTS = sorted(EVENTS.glob("inbound-sns-*.json"))


@pytest.mark.parametrize("path", SNS_EVENTS, ids=lambda p: p.stem)
def test_sns_events_have_the_two_way_sms_shape(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Type"] == "Notification"
    body = json.loads(record["Sns"]["Message"])
    assert set(body) == {
        "originationNumber",
        "destinationNumber",
        "messageKeyword",
        "messageBody",
        "inboundMessageId",
        "previousPublishedMessageId",
    }
    assert body["originationNumber"] == "+4915112345678"
    owned = not path.stem.endswith("unknown-number")
    assert (body["destinationNumber"] == "+4915790000000") is owned


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"MessageSid": "SM" + "a" * 32 + "NumMedia0", "SmsSid": "SM" + "a" * 32}, "MessageSid"),
        ({"MessageSid": "SM" + "A" * 32}, "MessageSid"),
        ({"MessageSid": "SM" + "a" * 32, "SmsSid": "SM" + "b" * 32}, "SmsSid"),
        ({"MessageSid": "XX" + "a" * 32}, "MessageSid"),
    ],
)
def test_validate_refuses_a_sid_twilio_cannot_have_sent(fields: dict[str, str], field: str) -> None:
    from smsconsent.providers.base import Malformed

    webhook = form_hook(From="+4915112345678", To="+4915790000000", Body="START", **fields)
    message = twilio.parse(webhook)
    assert message is not None
    with pytest.raises(Malformed) as refused:
        twilio.validate(webhook, message)
    assert refused.value.field == field


@pytest.mark.parametrize("sid", ["SM" + "0123456789abcdef" * 2, "MM" + "f" * 32])
def test_validate_accepts_sms_and_mms_sids(sid: str) -> None:
    webhook = form_hook(MessageSid=sid, SmsSid=sid, From="+4915112345678", To="+4915790000000", Body="x")
    message = twilio.parse(webhook)
    assert message is not None
    twilio.validate(webhook, message)
