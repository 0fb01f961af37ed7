"""The consent state machine on in-memory subjects: opt-in requests, cooldown, token
replacement, confirmation outcomes and when a subject is next due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsconsent import consent, store
from smsconsent.clock import iso
from smsconsent.consent import ACTIVE, LAPSED, OPTED_OUT, PENDING, OptInRequest
from smsconsent.tenants import Tenant

T0 = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)
TEXT = {"id": "signup-sms", "version": "1", "sha256": "0" * 64, "language": "de"}


def _subject() -> store.Subject:
    return store.new_subject("demo", "v1." + "a" * 64, T0)


def _request(*purposes: str, channel: str = "sms", language: str = "de") -> OptInRequest:
    return OptInRequest(
        purposes=list(purposes),
        channel=channel,
        text=TEXT,
        language=language,
        source="form:footer",
        country="DE",
    )


def _sent(subject: store.Subject, at: datetime, channel: str = "sms") -> None:
    """What ``store.mark_sms_sent`` records once the confirmation SMS of ``channel`` went out."""
    assert subject.pending is not None
    subject.pending[channel]["sms_at"] = iso(at)


# ---- request_opt_in --------------------------------------------------------------------------


def test_first_request_opens_a_pending_opt_in_and_sends(demo: Tenant) -> None:
    # Given a new subject
    subject = _subject()
    # When an opt-in for marketing is requested
    decision = consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    # Then one SMS must go out for that purpose
    assert decision.action == "send"
    assert decision.purposes == ["marketing"]
    # And the record is pending on that token, with what the person saw
    record = subject.consents["sms:marketing"]
    assert record["state"] == PENDING
    assert record["token"] == "t1"
    assert record["since"] == iso(T0)
    assert record["issued_at"] == iso(T0)
    assert record["text"] == TEXT
    assert record["source"] == "form:footer"
    assert record["language"] == "de"
    assert "prior" not in record
    # And the open opt-in of its channel names the token, purposes and issue time, not yet sent
    assert subject.pending == {
        "sms": {
            "token": "t1",
            "purposes": ["marketing"],
            "issued_at": iso(T0),
            "sms_at": None,
        }
    }
    assert consent.pending_token(subject, "sms") == "t1"
    assert consent.pending_token(subject, "whatsapp") is None
    assert subject.language == "de"
    assert consent.state_of(subject, "sms", "marketing") == PENDING
    assert consent.state_of(subject, "sms", "newsletter") is None
    assert consent.state_of(None, "sms", "marketing") is None


def test_repeat_within_cooldown_sends_nothing_and_adds_no_purpose_the_sms_never_named(demo: Tenant) -> None:
    # Given an opt-in for marketing whose SMS went out at T0
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    _sent(subject, T0)
    # When the same number signs up again 5 minutes later, now also for the newsletter
    later = T0 + timedelta(minutes=5)
    decision = consent.request_opt_in(subject, demo, _request("marketing", "newsletter"), "t2", later)
    # Then nothing is sent (cooldown) and no new token is opened
    assert decision.action == "cooldown"
    assert decision.purposes == ["marketing"]
    assert subject.pending is not None
    opened = subject.pending["sms"]
    assert opened["token"] == "t1"
    assert opened["sms_at"] == iso(T0)
    assert opened["issued_at"] == iso(T0)
    # And the open opt-in still covers only what its SMS named: a YES or a click on it
    # cannot confirm the newsletter, which waits for a signup after the cooldown
    assert opened["purposes"] == ["marketing"]
    assert "sms:newsletter" not in subject.consents
    assert all(r.get("token") != "t2" for r in subject.consents.values())
    # And a request for the newsletter alone changes nothing
    alone = consent.request_opt_in(subject, demo, _request("newsletter"), "t3", later)
    assert (alone.action, alone.purposes) == ("cooldown", [])
    assert "sms:newsletter" not in subject.consents
    # After the cooldown a new link names both, the marketing request moving over
    after = consent.request_opt_in(subject, demo, _request("newsletter"), "t4", T0 + timedelta(minutes=11))
    assert (after.action, after.purposes) == ("send", ["marketing", "newsletter"])


def test_repeat_just_before_cooldown_end_is_still_cooldown(demo: Tenant) -> None:
    # Given an opt-in whose SMS went out at T0 (cooldown 10 minutes)
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    _sent(subject, T0)
    # When a repeat arrives one second before the cooldown ends
    decision = consent.request_opt_in(
        subject, demo, _request("marketing"), "t2", T0 + timedelta(minutes=10, seconds=-1)
    )
    # Then it is still within the cooldown
    assert decision.action == "cooldown"


def test_repeat_before_the_sms_went_out_opens_a_new_token(demo: Tenant) -> None:
    # Given an opt-in whose SMS never went out (provider failure: no sms_at)
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    # When the caller retries a minute later
    decision = consent.request_opt_in(subject, demo, _request("marketing"), "t2", T0 + timedelta(minutes=1))
    # Then a new token is opened and its SMS must go out (a signup is never swallowed)
    assert decision.action == "send"
    assert subject.pending is not None and subject.pending["sms"]["token"] == "t2"


def test_repeat_after_cooldown_replaces_the_token(demo: Tenant) -> None:
    # Given an opt-in for marketing and the newsletter sent at T0
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing", "newsletter"), "t1", T0)
    _sent(subject, T0)
    # When the number signs up for marketing again after the cooldown
    later = T0 + timedelta(minutes=11)
    decision = consent.request_opt_in(subject, demo, _request("marketing"), "t2", later)
    # Then a new token replaces the old one, carrying every purpose still waiting
    assert decision.action == "send"
    assert decision.purposes == ["marketing", "newsletter"]
    assert subject.pending == {
        "sms": {
            "token": "t2",
            "purposes": ["marketing", "newsletter"],
            "issued_at": iso(later),
            "sms_at": None,
        }
    }
    assert {r["token"] for r in subject.consents.values()} == {"t2"}
    # And the old token no longer confirms anything, the new one does
    assert consent.confirm(subject, demo, "t1", later + timedelta(minutes=1)).status == "expired"
    outcome = consent.confirm(subject, demo, "t2", later + timedelta(minutes=1))
    assert outcome.status == "confirmed"
    assert outcome.purposes == ["marketing", "newsletter"]


def test_cooldown_never_outlives_the_token(demo_doc: dict[str, Any]) -> None:
    # Given a tenant with a cooldown longer than the token's life
    demo_doc["double_opt_in"] = {"token_ttl_hours": 1, "resend_cooldown_minutes": 120}
    tenant = Tenant.from_dict(demo_doc)
    subject = _subject()
    consent.request_opt_in(subject, tenant, _request("marketing"), "t1", T0)
    _sent(subject, T0)
    # When the number signs up again after the token expired but within the cooldown
    decision = consent.request_opt_in(
        subject, tenant, _request("marketing"), "t2", T0 + timedelta(minutes=61)
    )
    # Then a new token is sent (an expired link would leave the person stuck)
    assert decision.action == "send"


def test_request_for_active_purposes_changes_nothing(demo: Tenant) -> None:
    # Given a confirmed marketing consent
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=3))
    before = {k: dict(v) for k, v in subject.consents.items()}
    # When the number signs up for marketing again
    decision = consent.request_opt_in(subject, demo, _request("marketing"), "t2", T0 + timedelta(days=1))
    # Then nothing happens: no SMS, no pending opt-in, records unchanged
    assert decision.action == "none"
    assert subject.pending is None
    assert subject.consents == before


def test_request_for_an_active_and_a_new_purpose_asks_only_for_the_new_one(demo: Tenant) -> None:
    # Given a confirmed marketing consent
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=3))
    # When the number signs up for marketing and newsletter
    decision = consent.request_opt_in(
        subject, demo, _request("marketing", "newsletter"), "t2", T0 + timedelta(days=1)
    )
    # Then only the newsletter is asked for; marketing stays active
    assert decision.action == "send"
    assert decision.purposes == ["newsletter"]
    assert consent.state_of(subject, "sms", "marketing") == ACTIVE
    assert subject.consents["sms:newsletter"]["token"] == "t2"


def test_channels_are_separate_consents(demo: Tenant) -> None:
    # Given a confirmed SMS marketing consent
    subject = _subject()
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0)
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=3))
    # When the same purpose is requested on WhatsApp
    decision = consent.request_opt_in(
        subject, demo, _request("marketing", channel="whatsapp"), "w1", T0 + timedelta(hours=1)
    )
    # Then it is a new opt-in on its own channel
    assert decision.action == "send"
    assert consent.state_of(subject, "whatsapp", "marketing") == PENDING
    assert consent.state_of(subject, "sms", "marketing") == ACTIVE


def test_pending_opt_in_over_an_opt_out_remembers_the_stop(demo: Tenant) -> None:
    # Given a subject that opted out of marketing
    subject = _subject()
    stopped = {"state": OPTED_OUT, "since": iso(T0), "via": "keyword", "keyword": "STOP"}
    subject.consents["sms:marketing"] = dict(stopped)
    # When a new signup for marketing arrives
    decision = consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0 + timedelta(days=1))
    # Then the record is pending, and keeps the opt-out as its prior state
    assert decision.action == "send"
    record = subject.consents["sms:marketing"]
    assert record["state"] == PENDING
    assert record["prior"] == stopped
    # And a replacing token later keeps the same prior (the STOP is not forgotten)
    consent.request_opt_in(subject, demo, _request("marketing"), "t2", T0 + timedelta(days=2))
    assert subject.consents["sms:marketing"]["prior"] == stopped
    assert subject.consents["sms:marketing"]["token"] == "t2"


def test_confirming_over_an_opt_out_drops_the_prior(demo: Tenant) -> None:
    # Given a new opt-in over an earlier opt-out
    subject = _subject()
    subject.consents["sms:marketing"] = {"state": OPTED_OUT, "since": iso(T0)}
    consent.request_opt_in(subject, demo, _request("marketing"), "t1", T0 + timedelta(days=1))
    # When it is confirmed (a new confirmed double opt-in)
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(days=1, minutes=2))
    # Then the record is active and no longer carries the old opt-out
    assert outcome.status == "confirmed"
    assert subject.consents["sms:marketing"]["state"] == ACTIVE
    assert "prior" not in subject.consents["sms:marketing"]


# ---- confirm ------------------------------------------------------------------------------


def _opened(demo: Tenant, *purposes: str) -> store.Subject:
    subject = _subject()
    consent.request_opt_in(subject, demo, _request(*purposes), "t1", T0)
    _sent(subject, T0)
    return subject


def test_confirm_activates_every_purpose_of_the_token(demo: Tenant) -> None:
    # Given an open opt-in for marketing and newsletter
    subject = _opened(demo, "marketing", "newsletter")
    at = T0 + timedelta(minutes=7)
    # When its token confirms
    outcome = consent.confirm(subject, demo, "t1", at)
    # Then both purposes are active, and the open opt-in is closed
    assert outcome.status == "confirmed"
    assert outcome.purposes == ["marketing", "newsletter"]
    assert outcome.channel == "sms"
    assert subject.pending is None
    for purpose in ("marketing", "newsletter"):
        record = subject.consents[f"sms:{purpose}"]
        assert record["state"] == ACTIVE
        assert record["since"] == record["confirmed_at"] == iso(at)
        assert record["confirmed_token"] == "t1"
        assert "token" not in record
        # And the evidence of what was shown stays with the record
        assert record["text"] == TEXT


def test_confirm_twice_is_already_confirmed(demo: Tenant) -> None:
    # Given a confirmed opt-in
    subject = _opened(demo, "marketing")
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=7))
    before = {k: dict(v) for k, v in subject.consents.items()}
    # When the same token confirms again (a double tap, much later)
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(days=30))
    # Then it is already_confirmed and nothing changes
    assert outcome.status == "already_confirmed"
    assert outcome.purposes == ["marketing"]
    assert subject.consents == before


def test_confirm_at_the_end_of_the_token_life_is_expired(demo: Tenant) -> None:
    # Given an opt-in issued at T0 with a 48 h token life
    subject = _opened(demo, "marketing")
    ttl = timedelta(hours=demo.token_ttl_hours)
    # When it is confirmed exactly at T0 + 48 h
    outcome = consent.confirm(subject, demo, "t1", T0 + ttl)
    # Then it is expired and nothing changes
    assert outcome.status == "expired"
    assert consent.state_of(subject, "sms", "marketing") == PENDING
    assert subject.pending is not None
    # And one second earlier it would still have confirmed
    assert consent.confirm(subject, demo, "t1", T0 + ttl - timedelta(seconds=1)).status == "confirmed"


def test_stop_after_the_request_wins_over_the_link(demo: Tenant) -> None:
    # Given an open opt-in, then a STOP that set the record to opted_out (token kept)
    subject = _opened(demo, "marketing")
    subject.consents["sms:marketing"]["state"] = OPTED_OUT
    # When the link is confirmed afterwards
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=5))
    # Then the answer is opted_out and the record stays opted out
    assert outcome.status == "opted_out"
    assert outcome.purposes == ["marketing"]
    assert consent.state_of(subject, "sms", "marketing") == OPTED_OUT


def test_stop_on_one_of_two_purposes_still_wins(demo: Tenant) -> None:
    # Given an open opt-in for two purposes, one of them stopped afterwards
    subject = _opened(demo, "marketing", "newsletter")
    subject.consents["sms:newsletter"]["state"] = OPTED_OUT
    # When the link is confirmed
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=5))
    # Then nothing is confirmed: STOP always wins
    assert outcome.status == "opted_out"
    assert consent.state_of(subject, "sms", "marketing") == PENDING


def test_confirm_of_a_lapsed_consent_is_expired(demo: Tenant) -> None:
    # Given a confirmed consent that has since lapsed
    subject = _opened(demo, "marketing")
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=5))
    subject.consents["sms:marketing"]["state"] = LAPSED
    # When its old link is used again
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(days=600))
    # Then it is expired (a lapsed consent needs a new double opt-in)
    assert outcome.status == "expired"
    assert consent.state_of(subject, "sms", "marketing") == LAPSED


def test_confirm_without_a_subject_or_with_a_foreign_token_is_expired(demo: Tenant) -> None:
    # Given an open opt-in
    subject = _opened(demo, "marketing")
    # When a token that is not this subject's confirms, or the subject is gone
    # Then the answer is expired, and nothing changes
    assert consent.confirm(subject, demo, "other", T0).status == "expired"
    assert consent.confirm(None, demo, "t1", T0).status == "expired"
    assert consent.state_of(subject, "sms", "marketing") == PENDING


def test_token_of_a_record_without_open_opt_in_is_expired(demo: Tenant) -> None:
    # Given a pending record whose open opt-in was removed (expired and being reverted)
    subject = _opened(demo, "marketing")
    subject.pending = None
    # When its token confirms (its life ended: expiry is decided by the record's issue time)
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(hours=demo.token_ttl_hours))
    # Then it is expired
    assert outcome.status == "expired"
    assert consent.state_of(subject, "sms", "marketing") == PENDING


# ---- next_due --------------------------------------------------------------------------------


def test_next_due_of_a_pending_opt_in_is_its_expiry(demo: Tenant) -> None:
    # Given an open opt-in issued at T0
    subject = _opened(demo, "marketing")
    # Then it is next due when its token expires
    assert consent.next_due(subject, demo) == T0 + timedelta(hours=48)


def test_next_due_of_an_active_consent_is_its_lapse(demo: Tenant) -> None:
    # Given a consent confirmed at T1
    subject = _opened(demo, "marketing")
    t1 = T0 + timedelta(minutes=5)
    consent.confirm(subject, demo, "t1", t1)
    # Then it is due when it lapses without contact
    assert consent.next_due(subject, demo) == t1 + timedelta(days=540)
    # And a later marketing contact moves the lapse
    contact = T0 + timedelta(days=100)
    subject.last_contact_at = iso(contact)
    assert consent.next_due(subject, demo) == contact + timedelta(days=540)


def test_next_due_with_contact_older_than_confirmation_counts_from_confirmation(demo: Tenant) -> None:
    # Given a last contact before a newer confirmation (e.g. newsletter confirmed later)
    subject = _opened(demo, "marketing")
    t1 = T0 + timedelta(days=10)
    subject.last_contact_at = iso(T0)
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=5))
    subject.consents["sms:marketing"]["since"] = iso(t1)
    # Then the lapse counts from the newer of the two
    assert consent.next_due(subject, demo) == t1 + timedelta(days=540)


def test_next_due_is_the_earliest_of_pending_and_active(demo: Tenant) -> None:
    # Given an active marketing consent and a pending newsletter opt-in
    subject = _opened(demo, "marketing")
    consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=5))
    later = T0 + timedelta(days=3)
    consent.request_opt_in(subject, demo, _request("newsletter"), "t2", later)
    # Then the pending expiry comes first
    assert consent.next_due(subject, demo) == later + timedelta(hours=48)


@pytest.mark.parametrize("state", [OPTED_OUT, LAPSED])
def test_next_due_of_ended_consents_without_pending_is_none_for_lapse(demo: Tenant, state: str) -> None:
    # Given only an ended consent and no open opt-in
    subject = _subject()
    subject.consents["sms:marketing"] = {"state": state, "since": iso(T0)}
    # Then there is no lapse or pending expiry to schedule: only the purge of its evidence
    assert consent.next_due(subject, demo) == consent.purge_at(subject, demo)
    assert consent.next_due(subject, demo) == T0 + timedelta(days=demo.evidence_retention_days)


def test_transactional_active_purpose_never_lapses(demo: Tenant) -> None:
    # Given an active transactional purpose only
    subject = _subject()
    subject.consents["sms:orders"] = {"state": ACTIVE, "since": iso(T0), "confirmed_at": iso(T0)}
    # Then nothing is due (lapse applies to marketing only)
    assert consent.next_due(subject, demo) is None


def test_empty_subject_is_never_due(demo: Tenant) -> None:
    assert consent.next_due(_subject(), demo) is None


# ---- two channels at once --------------------------------------------------------------------


def _sms_then_whatsapp(demo: Tenant) -> store.Subject:
    """An SMS opt-in sent at T0, then a WhatsApp opt-in for the same purpose a minute later."""
    subject = _opened(demo, "marketing")
    consent.request_opt_in(
        subject, demo, _request("marketing", channel="whatsapp"), "w1", T0 + timedelta(minutes=1)
    )
    return subject


def test_whatsapp_signup_does_not_expire_the_sms_link(demo: Tenant) -> None:
    # Given an SMS opt-in, then a WhatsApp opt-in for the same purpose a minute later
    subject = _sms_then_whatsapp(demo)
    # When the SMS link is confirmed a minute after that (well within 48 h)
    outcome = consent.confirm(subject, demo, "t1", T0 + timedelta(minutes=2))
    # Then the SMS consent is confirmed (no newer token was issued for it)
    assert outcome.status == "confirmed"
    assert consent.state_of(subject, "sms", "marketing") == ACTIVE


def test_an_orphaned_pending_record_still_expires(demo: Tenant) -> None:
    # Given an SMS opt-in, then a WhatsApp opt-in that is confirmed
    subject = _sms_then_whatsapp(demo)
    consent.confirm(subject, demo, "w1", T0 + timedelta(minutes=2))
    assert consent.state_of(subject, "sms", "marketing") == PENDING
    # And the SMS record has no open opt-in left (as a single open opt-in per subject left it)
    subject.pending = None
    # When the retention schedule is computed
    due = consent.next_due(subject, demo)
    # Then the pending SMS record is due no later than its token's expiry
    assert due is not None
    assert due <= T0 + timedelta(hours=demo.token_ttl_hours)
