"""Every provider's signed events from events/ through the real inbound handler on moto:
a signed STOP opts out, a forged one gets 403 and changes nothing, a replay applies once,
START restores, HELP answers, YES confirms a pending double opt-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, signed_up_and_confirmed

pytestmark = pytest.mark.usefixtures("aws")

PROVIDERS = ["twilio", "vonage", "plivo", "telnyx", "bird", "sinch", "cm", "sns"]


def deliver(context: Any, provider: str, kind: str) -> dict[str, Any]:
    from functions.inbound.app import handler

    answer: dict[str, Any] = handler(load_event(f"inbound-{provider}-{kind}.json"), context)
    return answer


def states() -> dict[str, str]:
    from smsconsent import keys, store

    found = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    return {k: r["state"] for k, r in found.consents.items()} if found else {}


def evidence_types() -> list[str]:
    from smsconsent import keys, store

    found = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    return [e.type for e in store.evidence_of(found.pk)]


def replies(outbox: Any, answer: dict[str, Any]) -> str:
    """What went back to the phone: in the webhook's answer or through the sender."""
    sent = " ".join(m["body"] for m in outbox.messages() if m["kind"] != "confirmation")
    body = answer.get("body", "") if isinstance(answer.get("body"), str) else ""
    return sent + " " + body


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_stop_opts_out_and_a_replay_applies_once(context, outbox, provider):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    first = deliver(context, provider, "stop")
    assert first.get("statusCode", 200) == 200
    assert states()["sms:marketing"] == "opted_out"
    assert "START" in replies(outbox, first)  # the one final confirmation
    sent_before = len(outbox.messages())
    second = deliver(context, provider, "stop")
    assert second == first
    assert evidence_types().count("optout") == 1
    assert len(outbox.messages()) == sent_before  # no second confirmation SMS


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != "sns"])
def test_forged_webhook_is_403_and_changes_nothing(context, outbox, provider):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    before = evidence_types()
    answer = deliver(context, provider, "forged")
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "invalid_signature"
    assert states()["sms:marketing"] == "active" and evidence_types() == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_start_restores_after_stop(context, outbox, provider):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    deliver(context, provider, "stop")
    deliver(context, provider, "start")
    assert states()["sms:marketing"] == "active"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_help_answers_and_changes_nothing(context, outbox, provider):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    answer = deliver(context, provider, "help")
    assert "help@demo.example" in replies(outbox, answer)
    assert states()["sms:marketing"] == "active"


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != "sns"])
def test_yes_confirms_a_pending_double_opt_in(context, outbox, provider):
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    event["body"] = json.dumps({"phone": PHONE, "consent": True, "age_confirmed": True})
    assert handler(event, context)["statusCode"] == 202
    deliver(context, provider, "yes")
    assert states()["sms:marketing"] == "active"
    assert "optin_confirmed" in evidence_types()


def _cm_old_format(text: str) -> dict[str, Any]:
    """CM.com's older gateway format: form fields, no message id and no time."""
    from urllib.parse import urlencode

    event = load_event("inbound-cm-stop.json")
    event["body"] = urlencode(
        {"from": "004915112345678", "to": "004915790000000", "body": text, "reference": ""}
    )
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return event


def test_cms_old_format_stop_start_stop_within_minutes_ends_opted_out(context, outbox, clock):
    from functions.inbound.app import handler

    # Given a confirmed number that texts STOP through CM's old format (no id, no time)
    signed_up_and_confirmed(context, outbox)
    handler(_cm_old_format("STOP"), context)
    assert states()["sms:marketing"] == "opted_out"
    handler(_cm_old_format("STOP"), context)  # CM retrying: applied again, changes nothing
    assert evidence_types().count("optout") == 1
    # When it texts START and, two minutes later, the very same STOP again
    clock.advance(minutes=2)
    handler(_cm_old_format("START"), context)
    assert states()["sms:marketing"] == "active"
    clock.advance(minutes=2)
    handler(_cm_old_format("STOP"), context)
    # Then the second STOP is an opt-out, never taken for a replay of the first
    assert states()["sms:marketing"] == "opted_out"
    assert evidence_types().count("optout") == 2


def test_a_stop_from_a_national_format_sender_reaches_the_signups_subject(context, outbox):
    from functions.inbound.app import handler

    # Given a confirmed +49 number, and Sinch delivering its STOP with the sender in national form
    signed_up_and_confirmed(context, outbox)
    event = load_event("inbound-sinch-stop.json")
    doc = json.loads(event["body"])
    doc.update(**{"from": "015112345678", "id": "01J3D5C3FD8033AABBF57D56E8"})
    event["body"] = json.dumps(doc)
    # When it arrives, Then the tenant's default country reads it: the same subject opts out
    handler(event, context)
    assert states()["sms:marketing"] == "opted_out"
