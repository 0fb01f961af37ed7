"""The pure parts of consent events and delivery reports: which evidence becomes which
event and what it holds; which provider code means what."""

from __future__ import annotations

import pytest

from smsconsent import delivery_codes, events

EVIDENCE = {"type": "optout", "at": "2026-11-22T10:00:00Z", "seq": 3, "hash": "ab" * 32}


def test_every_published_evidence_type_maps_to_a_spec_type() -> None:
    spec = {
        "consent.requested",
        "consent.confirmed",
        "consent.opted_out",
        "consent.restored",
        "consent.lapsed",
        "consent.expired",
        "consent.imported",
        "subject.erased",
        "number.unreachable",
    }
    assert set(events.EVENT_TYPES) == spec
    assert (
        events.cloud_event("demo", "k", {**EVIDENCE, "type": "optin_repeated_nope", "data": {}}, None) is None
    )


def test_an_opt_out_across_channels_names_them_all_and_no_single_channel() -> None:
    data = {"consents": ["whatsapp:marketing", "sms:marketing", "sms:newsletter"], "via": "sms_keyword"}
    event = events.cloud_event("demo", "key", {**EVIDENCE, "data": data}, "+4915112345678")
    assert event is not None
    assert event["data"]["channel"] is None
    assert event["data"]["purposes"] == ["marketing", "newsletter"]
    assert event["data"]["consents"] == sorted(data["consents"])
    assert event["id"] == events.event_id("demo", "key", EVIDENCE["hash"]) and len(event["id"]) == 36
    other = events.cloud_event("demo", "other-key", {**EVIDENCE, "data": data}, None)
    assert other is not None and other["id"] != event["id"]  # the same change elsewhere


def test_free_text_and_token_hashes_never_reach_an_event() -> None:
    data = {"purposes": ["marketing"], "channel": "sms", "token_sha256": "t" * 64, "reason_given": True}
    event = events.cloud_event("demo", "key", {**EVIDENCE, "type": "optin_confirmed", "data": data}, None)
    assert event is not None
    assert "t" * 64 not in str(event) and event["data"]["reason"] is None


@pytest.mark.parametrize(
    ("subscribed", "wanted"), [(["*"], True), (["consent.opted_out"], True), ([], False)]
)
def test_subscriptions_get_what_they_asked_for(subscribed: list[str], wanted: bool) -> None:
    assert events.wanted(subscribed, "consent.opted_out") is wanted


@pytest.mark.parametrize(
    ("provider", "code", "action"),
    [
        ("twilio", "21610", "opted_out"),
        ("telnyx", "40300", "opted_out"),
        ("aws", "DESTINATION_PHONE_NUMBER_OPTED_OUT", "opted_out"),
        ("plivo", "200", "opted_out"),
        ("twilio", "30005", "unreachable"),
        ("telnyx", "40001", "unreachable"),
        ("aws", "TEXT_INVALID", "unreachable"),
        ("twilio", "40300", "none"),  # Telnyx's opt-out code means nothing at Twilio
        ("telnyx", "21610", "none"),
        ("vonage", "9", "none"),  # ambiguous at Vonage
        ("twilio", "30004", "none"),
        ("twilio", None, "none"),
        ("nobody", "21610", "none"),
        ("twilio", " 21610 ", "opted_out"),
    ],
)
def test_codes_are_read_per_provider(provider: str, code: str | None, action: str) -> None:
    assert delivery_codes.classify(provider, code) == action
