"""CM.com inbound messages: the secret in the URL (CM.com does not sign MO webhooks), the
Business Messaging and older gateway formats, message ids stable across CM's retries,
and the sample events.

References: developers.cm.com/messaging/docs/incoming-messages (Business Messaging MO
webhook: POST JSON with ``from``/``to``/``message``/``reference``/``groupings``/``timeUtc``/
``channel``, retried every 5 minutes until answered 200); docs.cmtelecom.com
"MO Webhooks" 1.0 (gateway JSON ``reference``/``from``/``to``/``body``/``groupings``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.http import Request
from smsconsent.providers import cm
from smsconsent.providers.base import Webhook
from smsconsent.tenants import SecretRef

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SECRET = "demo-cm-webhook-secret"
NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
URL = "https://hooks.example.com/v1/demo/inbound/cm"


def conf(secret: str | None = SECRET) -> dict[str, Any]:
    return {"webhook_secret": SecretRef("value", secret)} if secret else {}


def hook(
    body: bytes = b"", raw_query: str = "", method: str = "POST", content_type: str = "application/json"
) -> Webhook:
    url = URL + (f"?{raw_query}" if raw_query else "")
    return Webhook(method, url, {"content-type": content_type}, raw_query, body)


def business(text: str = "STOP", channel: str = "SMS", **fields: Any) -> bytes:
    doc = {
        "reference": "",
        "messageContext": "",
        "from": {"number": "+4915112345678", "name": "+4915112345678"},
        "to": {"number": "+4915790000000"},
        "message": {"text": text, "media": {"mediaUri": "", "contentType": "", "title": ""}, "custom": {}},
        "groupings": ["", "", ""],
        "time": "2026-11-22 10:59:41",
        "timeUtc": "2026-11-22T09:59:41",
        "channel": channel,
    }
    return json.dumps({**doc, **fields}).encode()


# ---- the secret in the URL --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_query", "valid"),
    [
        (f"secret={SECRET}", True),
        (f"a=1&secret={SECRET}&b=2", True),
        ("secret=demo-cm-webhook-secreT", False),
        ("secret=demo-cm-webhook-secre", False),
        ("secret=", False),
        ("", False),
        (f"SECRET={SECRET}", False),
        (f"secret={SECRET}&secret=x", False),
        (f"secret={SECRET}" + "&x=" * 600, False),
    ],
)
def test_url_secret(raw_query: str, valid: bool) -> None:
    assert cm.verify(hook(business(), raw_query), conf(), NOW) is valid


@settings(max_examples=100, deadline=None)
@given(
    secret=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    other=st.text(st.characters(codec="utf-8"), max_size=40),
)
def test_any_secret_round_trips_through_the_query(secret: str, other: str) -> None:
    query = urlencode({"secret": secret})
    assert cm.verify(hook(raw_query=query), conf(secret), NOW)
    if other != secret:
        assert not cm.verify(hook(raw_query=urlencode({"secret": other})), conf(secret), NOW)


def test_no_secret_configured_refuses() -> None:
    assert not cm.verify(hook(raw_query="secret="), {}, NOW)
    assert not cm.verify(hook(raw_query=f"secret={SECRET}"), {}, NOW)


def test_signature_headers_do_not_replace_the_secret() -> None:
    """CM.com has no signature: headers that look like one prove nothing."""
    webhook = Webhook(
        "POST", URL, {"content-type": "application/json", "x-cm-signature": "abc"}, "", business()
    )
    assert not cm.verify(webhook, conf(), NOW)


# ---- parsing ------------------------------------------------------------------------------


def test_parse_business_messaging_sms() -> None:
    message = cm.parse(hook(business()))
    assert message is not None
    assert (message.provider, message.channel, message.handled) == ("cm", "sms", None)
    assert (message.sender, message.recipient, message.text) == ("+4915112345678", "+4915790000000", "STOP")
    assert message.message_id.startswith("cm-")


def test_message_id_is_stable_across_retries_and_differs_between_messages() -> None:
    first = cm.parse(hook(business()))
    retried = cm.parse(
        hook(json.dumps(json.loads(business()), indent=2).encode())
    )  # same message, other bytes
    later = cm.parse(hook(business(timeUtc="2026-11-22T10:05:00")))
    other_text = cm.parse(hook(business("START")))
    assert first is not None and retried is not None and later is not None and other_text is not None
    assert first.message_id == retried.message_id
    assert len({first.message_id, later.message_id, other_text.message_id}) == 3


def test_an_explicit_id_is_used() -> None:
    message = cm.parse(hook(business(id="b8f8e8e2-1b7f-4b3c-9d1e-6a5c4b3a2f10")))
    assert message is not None
    assert message.message_id == "b8f8e8e2-1b7f-4b3c-9d1e-6a5c4b3a2f10"


def test_parse_whatsapp() -> None:
    message = cm.parse(hook(business("Stopp", channel="WhatsApp")))
    assert message is not None
    assert (message.channel, message.text) == ("whatsapp", "Stopp")


@pytest.mark.parametrize(
    "body",
    [
        business(channel="Viber"),
        business(channel="RCS"),
        json.dumps({**json.loads(business()), "from": {"number": ""}}).encode(),
        business(message={"media": {"mediaUri": "https://example.com/x.jpg"}}),
        json.dumps({"STATUS": "2", "REFERENCE": "x", "TO": "004915112345678"}).encode(),
        b"[]",
    ],
)
def test_parse_not_a_message(body: bytes) -> None:
    assert cm.parse(hook(body)) is None


def test_parse_gateway_json() -> None:
    body = json.dumps(
        {
            "reference": "ref-1",
            "from": "004915112345678",
            "to": "004915790000000",
            "body": "HILFE",
            "groupings": ["", "", ""],
        }
    ).encode()
    message = cm.parse(hook(body))
    assert message is not None
    assert (message.sender, message.recipient, message.text, message.channel) == (
        "+4915112345678",
        "+4915790000000",
        "HILFE",
        "sms",
    )


def test_parse_gateway_get_and_form() -> None:
    fields = {"from": "004915112345678", "to": "004915790000000", "message": "STOP", "reference": "r1"}
    query = urlencode({**fields, "secret": SECRET})
    got = cm.parse(hook(raw_query=query, method="GET", content_type=""))
    assert got is not None
    assert (got.sender, got.recipient, got.text) == ("+4915112345678", "+4915790000000", "STOP")
    posted = cm.parse(
        hook(urlencode(fields).encode(), f"secret={SECRET}", content_type="application/x-www-form-urlencoded")
    )
    assert posted is not None
    assert posted.message_id == got.message_id  # the secret is not part of the message
    assert (
        cm.parse(
            hook(
                raw_query=urlencode({"secret": SECRET, "status": "delivered"}), method="GET", content_type=""
            )
        )
        is None
    )


def test_respond_is_a_plain_200() -> None:
    assert cm.INLINE_REPLY is False
    assert cm.respond("ignored") == {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": ""}


# ---- the sample events ------------------------------------------------------------------

CM_EVENTS = sorted(EVENTS.glob("inbound-cm-*.json"))


def event_hook(event: dict[str, Any], provider_conf: dict[str, Any]) -> Webhook:
    """The webhook exactly as functions/inbound/app.py builds it from an HTTP API event."""
    return Webhook.from_request(Request.from_event(event), provider_conf)


@pytest.mark.parametrize("path", CM_EVENTS, ids=lambda p: p.stem)
def test_cm_events_verify_with_the_demo_secret(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    provider_conf = conf()  # what local/tenants/demo.json should hold for cm
    webhook = event_hook(event, provider_conf)
    assert webhook.url.startswith("http://127.0.0.1:3000/v1/demo/inbound/cm?secret=")
    forged = path.stem.endswith("-forged")
    assert cm.verify(webhook, provider_conf, NOW) is not forged
    message = cm.parse(webhook)
    assert message is not None
    assert (message.sender, message.recipient) == ("+4915112345678", "+4915790000000")
    keyword = path.stem.removeprefix("inbound-cm-")
    assert message.text == {"forged": "STOP"}.get(keyword, keyword.upper())


def test_cm_events_have_distinct_message_ids() -> None:
    ids = {}
    for path in CM_EVENTS:
        message = cm.parse(event_hook(json.loads(path.read_text(encoding="utf-8")), conf()))
        assert message is not None
        ids[path.stem] = message.message_id
    genuine = {stem: mid for stem, mid in ids.items() if not stem.endswith("-forged")}
    assert len(set(genuine.values())) == len(genuine)
