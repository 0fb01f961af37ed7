"""Inbound webhooks against a hostile review (issue 11): re-cut signed requests, tenant
binding, reply pumping, stale timestamps. The real handler on moto, fed signed events."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from tests.fixtures.events import load_event
from tests.fixtures.journeys import (
    OUR_NUMBER,
    PHONE,
    URL,
    inbound,
    signed_up_and_confirmed,
    sns_event,
    states,
    twilio_event,
    twilio_sid,
)

pytestmark = pytest.mark.usefixtures("aws")
ROOT = Path(__file__).resolve().parents[2]


def evidence_types(tenant: str = "demo") -> list[str]:
    from smsconsent import keys, store

    found = store.load_subject(tenant, keys.subject_hashes(tenant, PHONE))
    return [e.type for e in store.evidence_of(found.pk)] if found else []


def error_of(answer: dict[str, Any]) -> tuple[int, str, str]:
    error = json.loads(answer["body"])["error"]
    return answer["statusCode"], error["code"], error["field"]


def put_other_tenant(clock: Any, numbers: list[str]) -> None:
    """A second tenant with the demo's provider secrets and numbers of its own."""
    from smsconsent import store, tenants

    doc = json.loads((ROOT / "local/tenants/demo.json").read_text())
    doc.update(id="other", inbound_numbers=numbers)
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()


def at_tenant(event: dict[str, Any], tenant: str) -> dict[str, Any]:
    path = event["rawPath"].replace("/v1/demo/", f"/v1/{tenant}/")
    event.update(rawPath=path, pathParameters={**event["pathParameters"], "tenant": tenant})
    event["requestContext"]["http"]["path"] = path
    return event


# ---- 1. signed-string shifting ----------------------------------------------------------


def _twilio_signed(pairs: list[tuple[str, str]], signed_as: list[tuple[str, str]]) -> dict[str, Any]:
    """A Twilio webhook carrying ``pairs``, with the signature Twilio made for ``signed_as``."""
    event = twilio_event("START")
    event["body"] = base64.b64encode(urlencode(pairs).encode()).decode()
    event["headers"]["x-twilio-signature"] = RequestValidator("demo-twilio-auth-token").compute_signature(
        URL, dict(signed_as)
    )
    return event


def test_a_recut_twilio_start_keeps_its_signature_but_cannot_undo_a_stop(context, outbox):
    # Given a captured START (MessageSid, then NumMedia=0), and the number opted out since
    sid = twilio_sid("captured-start")
    start = [
        ("AccountSid", "AC" + "1" * 32),
        ("Body", "START"),
        ("From", PHONE),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("To", OUR_NUMBER),
    ]
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    inbound(context, twilio_event("STOP", sid="first-stop"))
    inbound(context, _twilio_signed(start, start))
    inbound(context, twilio_event("STOP", sid="second-stop"))
    assert states()["sms:marketing"] == "opted_out"
    # When NumMedia is folded into MessageSid: the signed bytes, so the signature, unchanged
    recut = [(n, v) for n, v in start if n != "NumMedia"]
    recut[3] = ("MessageSid", sid + "NumMedia0")
    answer = inbound(context, _twilio_signed(recut, start))
    # Then it is refused as malformed, and the STOP stands
    assert error_of(answer) == (400, "invalid_message_id", "MessageSid")
    assert states()["sms:marketing"] == "opted_out"
    assert evidence_types().count("optin_restored") == 1


def test_twilio_sid_fields_must_agree(context, outbox):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    one, other = twilio_sid("one"), twilio_sid("other")
    pairs = [("Body", "STOP"), ("From", PHONE), ("MessageSid", one), ("SmsSid", other), ("To", OUR_NUMBER)]
    answer = inbound(context, _twilio_signed(pairs, pairs))
    assert error_of(answer) == (400, "invalid_message_id", "SmsSid")
    assert states()["sms:marketing"] == "active"


def test_a_recut_plivo_message_uuid_is_refused(context, outbox):
    from smsconsent.providers import plivo

    # Given Plivo's STOP event, re-cut: the next field folded into MessageUUID
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    event = load_event("inbound-plivo-stop.json")
    raw = base64.b64decode(event["body"]).decode() if event.get("isBase64Encoded") else event["body"]
    from urllib.parse import parse_qsl

    pairs = sorted(parse_qsl(raw, keep_blank_values=True))
    index = next(i for i, (name, _) in enumerate(pairs) if name == "MessageUUID")
    folded_name, folded_value = pairs.pop(index + 1)
    pairs[index] = ("MessageUUID", pairs[index][1] + folded_name + folded_value)
    event["body"], event["isBase64Encoded"] = urlencode(pairs), False
    url = "http://127.0.0.1:3000/v1/demo/inbound/plivo"
    assert plivo.signed_url("POST", url, "", pairs) == plivo.signed_url(
        "POST", url, "", sorted(parse_qsl(raw, keep_blank_values=True))
    )
    # When it arrives, Then it is refused and changes nothing
    assert error_of(inbound(context, event)) == (400, "invalid_message_id", "MessageUUID")
    assert states()["sms:marketing"] == "active"


def _message(message_id: str, text: str, digest: str | None, window: int | None = None) -> Any:
    from smsconsent.providers.base import InboundMessage

    return InboundMessage(
        "telnyx", message_id, PHONE, OUR_NUMBER, text, signed_digest=digest, replay_window=window
    )


def test_the_same_signed_bytes_under_another_id_are_a_replay(context, outbox):
    from smsconsent import inbound as domain
    from smsconsent import tenants

    # Given a number that sent START (signed bytes D), then STOP
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    demo = tenants.get("demo")
    domain.receive(demo, _message("stop-1", "STOP", "a" * 64))
    first = domain.receive(demo, _message("start-1", "START", "b" * 64))
    domain.receive(demo, _message("stop-2", "STOP", "c" * 64))
    # When the START's signed bytes come again under a message id never seen
    again = domain.receive(demo, _message("start-1-recut", "START", "b" * 64))
    # Then it is the START's replay: its answer, nothing applied
    assert again.replay and again.action == first.action
    assert states()["sms:marketing"] == "opted_out"


def test_a_provider_message_applies_at_one_tenant_only(context, outbox, clock):
    from smsconsent import inbound as domain
    from smsconsent import keys, store, tenants

    put_other_tenant(clock, ["+4915790000001"])
    domain.receive(tenants.get("demo"), _message("shared-1", "STOP", None))
    again = domain.receive(tenants.get("other"), _message("shared-1", "STOP", None))
    assert again.replay
    assert store.load_subject("other", keys.subject_hashes("other", PHONE)) is None


def test_a_replay_record_expires_by_its_own_time_not_dynamodbs_deletion(context, outbox, clock):
    from smsconsent import inbound as domain
    from smsconsent import tenants

    # Given a Telnyx message (a five-minute signature window) recorded 31 days ago, whose
    # record DynamoDB has not deleted yet (moto never does)
    demo = tenants.get("demo")
    domain.receive(demo, _message("old-1", "HELP", "d" * 64, window=600))
    assert domain.receive(demo, _message("old-1", "HELP", "d" * 64, window=600)).replay
    clock.advance(days=31)
    # Then it counts as absent, and the message may be recorded afresh
    assert not domain.receive(demo, _message("old-1", "HELP", "d" * 64, window=600)).replay
    assert domain.receive(demo, _message("old-1", "HELP", "d" * 64, window=600)).replay


def test_an_unsigned_time_replay_is_remembered_for_years(context, outbox, clock):
    from smsconsent import inbound as domain
    from smsconsent import tenants

    # A Twilio or Plivo signature has no time: a capture can come back whenever
    demo = tenants.get("demo")
    domain.receive(demo, _message("start-old", "START", "e" * 64, window=None))
    clock.advance(days=3 * 365)
    assert domain.receive(demo, _message("start-old", "START", "e" * 64, window=None)).replay


def test_a_start_replayed_a_decade_later_cannot_undo_a_later_stop(context, outbox, clock):
    # Given a captured Twilio START (its signature carries no time), and a STOP since
    sid = twilio_sid("captured-long-ago")
    start = [
        ("AccountSid", "AC" + "1" * 32),
        ("Body", "START"),
        ("From", PHONE),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("To", OUR_NUMBER),
    ]
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    inbound(context, twilio_event("STOP", sid="first-stop"))
    inbound(context, _twilio_signed(start, start))
    inbound(context, twilio_event("STOP", sid="second-stop"))
    assert states()["sms:marketing"] == "opted_out"
    # When the byte-identical START comes back after more than ten years
    clock.advance(days=3660)
    inbound(context, _twilio_signed(start, start))
    # Then it is a replay: the later STOP stands
    assert states()["sms:marketing"] == "opted_out"
    assert evidence_types().count("optin_restored") == 1


# ---- 2. tenant binding ------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["telnyx", "vonage", "sinch", "bird", "twilio", "plivo", "cm"])
def test_a_webhook_for_another_tenants_number_is_403_unknown_recipient(context, outbox, clock, provider):
    from smsconsent import keys, store

    # Given a second tenant with the same provider secrets and a number of its own, whose
    # URL signed webhooks do not bind (Bird's does: its URL-bound signature fails first)
    put_other_tenant(clock, ["+4915790000001"])
    # When demo's signed STOP is posted at the other tenant's URL
    answer = inbound(context, at_tenant(load_event(f"inbound-{provider}-stop.json"), "other"))
    # Then it is refused, and nothing is written for that tenant
    if provider in ("bird", "twilio", "plivo"):
        assert answer["statusCode"] == 403  # the signature covers the URL
    else:
        assert error_of(answer) == (403, "unknown_recipient", "recipient")
    assert store.load_subject("other", keys.subject_hashes("other", PHONE)) is None


def test_a_recipient_outside_the_tenants_numbers_is_403_even_when_signed(context, outbox):
    # Given a Twilio STOP correctly signed for demo's URL, but written to a number demo lacks
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    event = twilio_event("STOP", sid="elsewhere")
    pairs = [
        ("MessageSid", twilio_sid("elsewhere")),
        ("From", PHONE),
        ("To", "+4915790000999"),
        ("Body", "STOP"),
    ]
    event["body"] = base64.b64encode(urlencode(pairs).encode()).decode()
    event["headers"]["x-twilio-signature"] = RequestValidator("demo-twilio-auth-token").compute_signature(
        URL, dict(pairs)
    )
    assert error_of(inbound(context, event)) == (403, "unknown_recipient", "recipient")
    assert states()["sms:marketing"] == "active"


def test_a_tenant_cannot_take_another_tenants_number_and_a_dropped_one_is_freed(context, clock):
    from smsconsent import store

    with pytest.raises(store.NumberTaken):
        put_other_tenant(clock, [OUR_NUMBER])
    assert store.tenant_of_number(OUR_NUMBER) == "demo"
    assert store.get_tenant_doc("other") is None  # refused whole
    # When demo drops the number, Then it is free for the other tenant
    doc = json.loads((ROOT / "local/tenants/demo.json").read_text())
    doc["inbound_numbers"] = ["+4915790000002"]
    store.put_tenant_doc(doc, clock.now)
    assert store.tenant_of_number(OUR_NUMBER) is None
    put_other_tenant(clock, [OUR_NUMBER])
    assert store.tenant_of_number(OUR_NUMBER) == "other"


def test_a_taken_number_is_named_whether_the_tenant_adds_or_drops_an_opt_out_list(context, clock):
    """The opt-out list registry's item sits between the document and the numbers in the
    transaction: the number at fault is still the one named."""
    from smsconsent import store

    put_other_tenant(clock, ["+4915790000001"])  # names demo.json's opt-out list
    doc = store.get_tenant_doc("other")
    doc.pop("sms")
    doc["inbound_numbers"] = ["+4915790000001", OUR_NUMBER]
    with pytest.raises(store.NumberTaken) as taken:
        store.put_tenant_doc(doc, clock.now)
    assert taken.value.number == OUR_NUMBER
    assert store.opt_out_list_tenants() == ["demo", "other"]  # refused whole


def test_a_short_code_is_written_with_its_country_and_matched_by_its_digits(context, clock):
    from smsconsent import inbound as domain
    from smsconsent import store, tenants

    put_other_tenant(clock, ["+4915790000001", "FR:36111"])
    other = tenants.get("other")
    assert domain.owns_recipient(other, "36111") and domain.owns_recipient(other, "+36111")
    assert not domain.owns_recipient(other, "36112") and not domain.owns_recipient(other, "")
    assert domain.owns_recipient(other, "015790000001")  # national form, the tenant's country
    assert store.tenant_of_number("FR:36111") == "other"


# ---- 3. reply pumping -------------------------------------------------------------------


def test_help_and_stop_replies_are_one_of_each_kind_per_number_a_day(context, outbox, clock):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    helps = [inbound(context, twilio_event("HELP", sid=f"help-{i}"))["body"] for i in range(10)]
    assert sum("<Message>" in body for body in helps) == 1
    stops = [inbound(context, twilio_event("STOP", sid=f"stop-{i}"))["body"] for i in range(10)]
    assert sum("<Message>" in body for body in stops) == 1
    assert states()["sms:marketing"] == "opted_out"
    # A replay of the answered STOP still gets its stored answer, and counts nothing
    assert "<Message>" in inbound(context, twilio_event("STOP", sid="stop-0"))["body"]
    # The next day, one of each again
    clock.advance(days=1)
    assert "<Message>" in inbound(context, twilio_event("STOP", sid="stop-next-day"))["body"]


def test_an_opt_out_is_recorded_even_when_its_reply_is_withheld(context, outbox):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    inbound(context, twilio_event("HELP", sid="h"))
    inbound(context, twilio_event("STOP", sid="s1"))
    inbound(context, twilio_event("START", sid="s2"))
    answer = inbound(context, twilio_event("STOP", sid="s3"))
    assert "<Message>" not in answer["body"]  # the second STOP confirmation today
    assert states()["sms:marketing"] == "opted_out"
    assert evidence_types().count("optout") == 2


@pytest.mark.parametrize(
    "sender",
    ["+5351234567", "+447624123456", "+8823421234", "+4930123456"],
    ids=["cuba", "isle-of-man", "international-network", "german-landline"],
)
def test_no_reply_outside_the_allowed_countries_or_to_a_non_mobile(context, outbox, sender):
    from smsconsent import inbound as domain
    from smsconsent import tenants
    from smsconsent.providers.base import InboundMessage

    demo = tenants.get("demo")
    for i in range(10):
        outcome = domain.receive(
            demo, InboundMessage("twilio", twilio_sid(f"{sender}{i}"), sender, OUR_NUMBER, "HELP")
        )
        assert outcome.reply is None
        outcome = domain.receive(
            demo, InboundMessage("twilio", twilio_sid(f"s{sender}{i}"), sender, OUR_NUMBER, "STOP")
        )
        assert outcome.reply is None and outcome.action == "optout"
    assert outbox.messages() == []


def test_sender_replies_are_budgeted_and_never_sent_from_the_webhooks_to(context, outbox):
    # Given no origination identity configured (the demo's), SNS two-way STOPs and HELPs
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    before = len(outbox.messages())
    for i in range(5):
        inbound(context, sns_event("HELP", f"help-{i}"))
    assert [m["kind"] for m in outbox.messages()[before:]] == ["help"]


def test_send_reply_takes_the_origination_identity_from_the_tenant_only(monkeypatch):
    from smsconsent import inbound as domain
    from smsconsent import sender, tenants
    from smsconsent.providers.base import InboundMessage

    sent: list[Any] = []
    monkeypatch.setattr(sender, "deliver", lambda message: sent.append(message) or "id")
    demo = tenants.get("demo")
    message = InboundMessage("telnyx", "m", PHONE, "+4915790000000", "HELP")
    domain.send_reply(demo, message, domain.Outcome("help", "text", "help"))
    assert sent[0].origination_identity is None


# ---- 4. Sinch: an HMAC secret makes the HMAC required ------------------------------------


def test_sinch_with_an_hmac_secret_refuses_the_url_secret_alone(context, outbox, clock):
    from smsconsent import store, tenants

    doc = json.loads((ROOT / "local/tenants/demo.json").read_text())
    doc["providers"]["sinch"]["signature_secret"] = {"value": "sinch-hmac-secret"}
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    answer = inbound(context, load_event("inbound-sinch-stop.json"))  # ?secret=... alone
    assert error_of(answer) == (403, "invalid_signature", "signature")
    assert states()["sms:marketing"] == "active"


# ---- 5. a stale timestamp says so ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "inbound-telnyx-stop.json",
        "inbound-vonage-stop.json",
        "inbound-bird-stop.json",
        "inbound-sinch-stop-signed.json",
    ],
)
def test_a_stale_signed_timestamp_is_403_stale_timestamp(context, outbox, clock, name):
    signed_up_and_confirmed(context, outbox, purposes="marketing")
    clock.advance(days=2)
    answer = inbound(context, load_event(name))
    assert error_of(answer) == (403, "stale_timestamp", "timestamp")
    assert states()["sms:marketing"] == "active"


def test_a_forged_signature_inside_the_window_is_still_invalid_signature(context, outbox):
    answer = inbound(context, load_event("inbound-telnyx-forged.json"))
    assert error_of(answer) == (403, "invalid_signature", "signature")
