"""Inbound handler on moto: STOP, START, YES, HELP over a signed Twilio webhook and over
SNS (AWS End User Messaging two-way), exactly once; and the web opt-out link."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import (
    PHONE,
    inbound,
    signed_up_and_confirmed,
    sns_event,
    states,
    subject,
    twilio_event,
    twilio_sid,
)

pytestmark = pytest.mark.usefixtures("aws")


def events_of_type(kind: str) -> list[Any]:
    from smsconsent import store

    return [e for e in store.evidence_of(subject().pk) if e.type == kind]


def test_signed_stop_opts_out_marketing_at_once_and_replies_in_twiml(context, outbox, clock):
    # Given a confirmed number whose last recorded campaign is known
    signed_up_and_confirmed(context, outbox)
    from smsconsent import store

    found = subject()
    found.last_campaign = "black-friday"
    store.commit(store.Change(found, []), clock.now)
    # When it texts STOP through Twilio
    answer = inbound(context, twilio_event("Stop please", sid="SM-stop-1"))
    # Then marketing purposes are withdrawn before the webhook returns; transactional stays
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"].startswith("text/xml")
    assert "<Message>" in answer["body"] and "START" in answer["body"]
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out", "sms:orders": "active"}
    [event] = events_of_type("optout")
    assert event.data["provider_message_id"] == twilio_sid("SM-stop-1") and event.data["provider"] == "twilio"
    assert event.data["campaign"] == "black-friday" and event.data["keyword"] == "STOP"
    assert event.pii == {"text": "Stop please"}


def test_replayed_stop_changes_nothing_and_gets_the_same_answer(context, outbox):
    signed_up_and_confirmed(context, outbox)
    first = inbound(context, twilio_event("STOP", sid="SM-dup"))
    second = inbound(context, twilio_event("STOP", sid="SM-dup"))
    assert first == second
    assert len(events_of_type("optout")) == 1


@pytest.mark.parametrize("forgery", ["wrong token", "no header", "tampered body"])
def test_forged_or_missing_signature_is_403_and_changes_nothing(context, outbox, forgery):
    signed_up_and_confirmed(context, outbox)
    event = twilio_event(
        "STOP", token="not-the-token" if forgery == "wrong token" else "demo-twilio-auth-token"
    )
    if forgery == "no header":
        del event["headers"]["x-twilio-signature"]
    if forgery == "tampered body":
        event["body"] = base64.b64encode(base64.b64decode(event["body"]).replace(b"STOP", b"STAP")).decode()
    answer = inbound(context, event)
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "invalid_signature"
    assert set(states().values()) == {"active"}


def test_start_restores_what_was_active_before_the_stop(context, outbox):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    inbound(context, twilio_event("STOP", sid="SM-1"))
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out"}
    answer = inbound(context, twilio_event("start", sid="SM-2"))
    assert "<Message>" in answer["body"]
    # marketing was active before the STOP; newsletter never was
    assert states() == {"sms:marketing": "active", "sms:newsletter": "opted_out"}
    assert len(events_of_type("optin_restored")) == 1


def test_yes_confirms_a_pending_double_opt_in(context, outbox):
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    handler(event, context)
    answer = inbound(context, twilio_event("Ja!", sid="SM-yes"))
    assert states() == {"sms:marketing": "active"}
    assert "bestätigt" in answer["body"]
    [confirmed] = events_of_type("optin_confirmed")
    assert confirmed.data["via"] == "sms_reply"
    assert subject().optout_code


def test_help_answers_with_the_tenants_help_text_and_changes_nothing(context, outbox):
    signed_up_and_confirmed(context, outbox)
    answer = inbound(context, twilio_event("HILFE", sid="SM-help"))
    assert "help@demo.example" in answer["body"]
    assert set(states().values()) == {"active"}


def test_provider_handled_stop_is_recorded_and_nothing_is_sent(context, outbox):
    signed_up_and_confirmed(context, outbox)
    answer = inbound(context, twilio_event("STOP", sid="SM-h", OptOutType="STOP"))
    assert "<Message>" not in answer["body"]
    assert states()["sms:marketing"] == "opted_out"
    [event] = events_of_type("optout")
    assert event.data["via"] == "provider_keyword"


def test_stop_from_an_unknown_number_leaves_only_a_suppression_marker(context, outbox):
    inbound(context, twilio_event("STOP", sid="SM-unknown"))
    found = subject()
    assert found.phone is None  # the keyed hash alone
    assert set(states().values()) == {"opted_out"}


def test_confirmation_click_after_stop_is_409(context, outbox):
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    handler(event, context)
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    inbound(context, twilio_event("STOP", sid="SM-race"))
    from smsconsent import confirmation

    assert confirmation.confirm(token, "198.51.100.7", "ua").status == "opted_out"


def test_stop_scope_all_withdraws_transactional_too(context, outbox, clock):
    from pathlib import Path

    from smsconsent import store, tenants

    doc = json.loads(Path("local/tenants/demo.json").read_text())
    doc["stop_scope"] = "all"
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    signed_up_and_confirmed(context, outbox)
    inbound(context, twilio_event("STOP", sid="SM-all"))
    assert set(states().values()) == {"opted_out"}


@pytest.mark.parametrize(
    ("text", "opted_out"),
    [
        ("STOPP!", True),
        ("arrêt", True),
        ("Bitte keine SMS mehr", True),
        ("wrong number", True),
        ("Hallo", False),
    ],
)
def test_keyword_variants(context, outbox, text, opted_out):
    signed_up_and_confirmed(context, outbox)
    inbound(context, twilio_event(text, sid=f"SM-{text}"))
    assert (states()["sms:marketing"] == "opted_out") is opted_out


def test_unknown_provider_and_tenant(context):
    event = twilio_event("STOP")
    event["pathParameters"] = {"tenant": "demo", "provider": "carrier-pigeon"}
    answer = inbound(context, event)
    assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (404, "unknown_provider")
    event["pathParameters"] = {"tenant": "nope", "provider": "twilio"}
    assert json.loads(inbound(context, event)["body"])["error"]["code"] == "unknown_tenant"


def test_sns_two_way_stop_opts_out_and_replies_through_the_sender(context, outbox):
    signed_up_and_confirmed(context, outbox)
    before = len(outbox.messages())
    assert inbound(context, sns_event("STOP", "in-1")) == {"handled": 1, "skipped": 0}
    assert states()["sms:marketing"] == "opted_out"
    reply = outbox.messages()[before]
    assert (reply["to"], reply["kind"]) == (PHONE, "optout_confirmation")
    # a replay sends no second reply
    inbound(context, sns_event("STOP", "in-1"))
    assert len(outbox.messages()) == before + 1
    assert inbound(context, sns_event("STOP", "in-2", "+4915790000999")) == {"handled": 0, "skipped": 1}


def test_an_sms_stop_withdraws_whatsapp_marketing_too_and_start_restores_both(context, outbox, clock):
    from functions.signup.app import handler
    from smsconsent import confirmation

    # Given a number with confirmed marketing on SMS and on WhatsApp
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    clock.advance(minutes=11)  # past the resend cooldown
    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": PHONE, "consent": True, "age_confirmed": True, "channel": "whatsapp"}
    )
    assert handler(event, context)["statusCode"] == 202
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.7", "ua").status == "confirmed"
    assert states()["whatsapp:marketing"] == "active"
    # When it texts STOP by SMS
    answer = inbound(context, twilio_event("STOP", sid="SM-stop-all"))
    # Then marketing is withdrawn on every channel, as the reply promises
    assert "keine weiteren Nachrichten" in answer["body"]
    assert states()["sms:marketing"] == states()["whatsapp:marketing"] == "opted_out"
    # And START from the phone restores what the STOP withdrew, on both channels
    inbound(context, twilio_event("START", sid="SM-start-all"))
    assert states()["sms:marketing"] == states()["whatsapp:marketing"] == "active"


def test_a_whatsapp_signup_is_confirmed_by_an_sms_that_names_whatsapp(context, outbox):
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": PHONE, "consent": True, "age_confirmed": True, "channel": "whatsapp"}
    )
    assert handler(event, context)["statusCode"] == 202
    [message] = outbox.messages()
    assert message["kind"] == "confirmation"
    assert "per WhatsApp erhalten" in message["body"] and "per SMS" not in message["body"]


def test_a_yes_reply_is_an_optin_confirmation_in_the_outbox(context, outbox):
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    handler(event, context)
    assert inbound(context, sns_event("Ja", "in-yes")) == {"handled": 1, "skipped": 0}
    assert states() == {"sms:marketing": "active"}
    reply = outbox.messages()[-1]
    assert (reply["kind"], "bestätigt" in reply["body"]) == ("optin_confirmation", True)


def test_a_yes_by_sms_confirms_a_whatsapp_opt_in_whose_sms_asked_for_it(context, outbox):
    from functions.signup.app import handler

    # Given a WhatsApp signup, whose confirmation SMS asks for a reply JA
    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": PHONE, "consent": True, "age_confirmed": True, "channel": "whatsapp"}
    )
    assert handler(event, context)["statusCode"] == 202
    assert "JA" in outbox.messages()[-1]["body"]
    # When the phone replies JA by SMS
    answer = inbound(context, twilio_event("JA", sid="SM-ja-whatsapp"))
    # Then the WhatsApp consent is confirmed, with evidence of the reply and its channel
    assert states() == {"whatsapp:marketing": "active"}
    assert "bestätigt" in answer["body"]
    [confirmed] = events_of_type("optin_confirmed")
    assert (confirmed.data["channel"], confirmed.data["reply_channel"]) == ("whatsapp", "sms")


def optout_visit(
    context: Any, method: str, code: str, body: str = "", accept: str = "application/json"
) -> Any:
    from functions.confirm.app import handler

    event = load_event("confirm-post.json" if method == "POST" else "confirm-get.json")
    event.update(rawPath=f"/o/{code}", pathParameters={"code": code}, routeKey=f"{method} /o/{{code}}")
    event["requestContext"]["http"].update(method=method, path=f"/o/{code}")
    event["headers"]["accept"] = accept
    event["body"] = base64.b64encode(body.encode()).decode()
    return handler(event, context)


def test_web_optout_link_page_and_button(context, outbox):
    signed_up_and_confirmed(context, outbox)
    code = subject().optout_code
    page = optout_visit(context, "GET", code, accept="text/html")
    assert page["statusCode"] == 200 and 'name="reason"' in page["body"]
    assert set(states().values()) == {"active"}  # looking changes nothing
    answer = optout_visit(context, "POST", code, body="reason=zu+viele+SMS")
    assert json.loads(answer["body"]) == {"status": "opted_out"}
    assert states()["sms:marketing"] == "opted_out" and states()["sms:orders"] == "active"
    [event] = events_of_type("optout")
    assert event.data["via"] == "link" and event.pii["reason"] == "zu viele SMS"
    again = optout_visit(context, "POST", code)
    assert json.loads(again["body"]) == {"status": "already_opted_out"}
    assert optout_visit(context, "GET", "nosuchcode0000")["statusCode"] == 404
