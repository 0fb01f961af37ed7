"""What the tenant's AWS opt-out list should hold for a number, and what to do when it
holds something else (``optout_list``, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsconsent import optout_list
from smsconsent.clock import iso
from smsconsent.optout_list import Entry, Step, step
from smsconsent.records import new_subject

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PHONE = "+4915112345678"


def subject(demo: Any, **records: str) -> Any:
    """A subject with ``channel_purpose=state`` records, each since T0."""
    found = new_subject("demo", "v1.ab", T0)
    found.phone = PHONE
    for name, state in records.items():
        found.consents[name.replace("_", ":", 1)] = {"state": state, "since": T0.isoformat()}
    return found


def entry(at: datetime, by_person: bool = False) -> Entry:
    return Entry(PHONE, at, by_person)


def test_wanted_follows_the_stop_scope_on_sms(demo: Any) -> None:
    # demo: stop_scope marketing (marketing, newsletter); orders is transactional
    assert (
        optout_list.wanted(subject(demo, sms_marketing="opted_out", sms_newsletter="opted_out"), demo) == "on"
    )
    assert optout_list.wanted(subject(demo, sms_marketing="opted_out", sms_orders="active"), demo) == "on"
    assert (
        optout_list.wanted(subject(demo, sms_marketing="opted_out", sms_newsletter="active"), demo) == "off"
    )
    assert optout_list.wanted(subject(demo, sms_marketing="pending"), demo) is None
    assert optout_list.wanted(subject(demo, sms_marketing="lapsed"), demo) is None
    # WhatsApp opt-outs are not the SMS list's business
    assert optout_list.wanted(subject(demo, whatsapp_marketing="opted_out"), demo) is None
    assert optout_list.wanted(None, demo) is None


@pytest.mark.parametrize(
    ("records", "listed", "expected"),
    [
        # ours missing from the list: put it back
        ({"sms_marketing": "opted_out"}, None, Step.PUT),
        # on the list as it should be
        ({"sms_marketing": "opted_out"}, entry(T0), Step.NOTHING),
        # no consent here, nothing on the list
        ({"sms_marketing": "pending"}, None, Step.NOTHING),
        # the list knows an opt-out we do not: record it
        ({"sms_marketing": "pending"}, entry(T0), Step.RECORD_OPTOUT),
        ({"sms_marketing": "lapsed"}, entry(T0), Step.RECORD_OPTOUT),
        # the person replied STOP to the carrier after consenting here
        ({"sms_marketing": "active"}, entry(T0 + timedelta(days=1), by_person=True), Step.RECORD_OPTOUT),
        # the consent here is newer than the entry (a START, a new opt-in): take it off
        ({"sms_marketing": "active"}, entry(T0 - timedelta(days=1), by_person=True), Step.DELETE),
        ({"sms_marketing": "active"}, entry(T0 - timedelta(days=1)), Step.DELETE),
        # someone else's API or console entry made after the consent: hold, do not judge
        ({"sms_marketing": "active"}, entry(T0 + timedelta(days=1)), Step.HOLD),
    ],
)
def test_step(demo: Any, records: dict[str, str], listed: Entry | None, expected: Step) -> None:
    assert step(subject(demo, **records), demo, listed) is expected


def test_an_unknown_number_on_the_list_is_recorded(demo: Any) -> None:
    assert step(None, demo, entry(T0)) is Step.RECORD_OPTOUT
    assert step(None, demo, None) is Step.NOTHING


def test_our_own_put_after_a_start_is_ours_to_take_off(demo: Any) -> None:
    """A put that raced a START (its time after the consent) is recognised by its time."""
    found = subject(demo, sms_marketing="active")
    later = T0 + timedelta(seconds=1)
    found.provider_list = {"put_at": later.isoformat()}
    assert step(found, demo, entry(later + timedelta(seconds=2))) is Step.DELETE
    assert step(found, demo, entry(later + timedelta(minutes=1))) is Step.HOLD


def test_a_hold_is_cleared_when_the_list_no_longer_holds_the_number(demo: Any) -> None:
    found = subject(demo, sms_marketing="active")
    found.provider_list = {"held": {"since": T0.isoformat(), "until": None, "why": "foreign"}}
    assert step(found, demo, None) is Step.CLEAR_HOLD
    opted_out = subject(demo, sms_marketing="opted_out")
    opted_out.provider_list = dict(found.provider_list)
    assert step(opted_out, demo, entry(T0)) is Step.CLEAR_HOLD  # opted out anyway: no hold needed


def test_the_delete_limit_and_the_hold_record(demo: Any) -> None:
    found = subject(demo, sms_marketing="active")
    assert optout_list.delete_allowed_at(found) is None
    found.provider_list = {"deleted_at": T0.isoformat()}
    assert optout_list.delete_allowed_at(found) == T0 + timedelta(days=30)
    held = optout_list.hold(found, T0, T0 + timedelta(days=30), "delete_limit")
    assert held == {"since": iso(T0), "until": iso(T0 + timedelta(days=30)), "why": "delete_limit"}
    found.provider_list["held"] = held
    renewed = optout_list.hold(found, T0 + timedelta(days=2), None, "foreign")
    assert renewed["since"] == iso(T0)  # held since the first time
    assert optout_list.held_until(found.provider_list) == (True, held["until"])
    assert optout_list.held_until(None) == (False, None)


def test_an_old_entry_waits_for_a_pending_opt_in(demo: Any) -> None:
    """A number that stopped at the carrier long ago and now asked to sign up here: the
    double opt-in is not turned into an opt-out (the confirmation takes the entry off);
    an entry made after the request is the person's later word and is recorded."""
    found = subject(demo, sms_marketing="pending")
    assert step(found, demo, entry(T0 - timedelta(days=40), by_person=True)) is Step.NOTHING
    assert step(found, demo, entry(T0 - timedelta(days=40))) is Step.NOTHING
    assert step(found, demo, entry(T0 + timedelta(minutes=5), by_person=True)) is Step.RECORD_OPTOUT
    # A pending opt-in over an opt-out stands for the opt-out: the number stays listed
    over = subject(demo, sms_marketing="pending")
    over.consents["sms:marketing"]["prior"] = {"state": "opted_out", "since": T0.isoformat()}
    assert step(over, demo, entry(T0 - timedelta(days=40))) is Step.NOTHING
    assert step(over, demo, None) is Step.PUT


def test_a_stop_in_the_same_second_as_the_consent_wins(demo: Any) -> None:
    """Times here are kept to the second: a person's STOP at the carrier in the second of
    the consent cannot be told to be older, so it is recorded, never deleted."""
    found = subject(demo, sms_marketing="active")
    assert step(found, demo, entry(T0, by_person=True)) is Step.RECORD_OPTOUT
    assert step(found, demo, entry(T0 + timedelta(milliseconds=400), by_person=True)) is Step.RECORD_OPTOUT


def test_a_refused_delete_is_not_asked_again_before_its_hold_ends(demo: Any) -> None:
    found = subject(demo, sms_marketing="active")
    until = T0 + timedelta(days=30)
    found.provider_list = {"held": {"since": iso(T0), "until": iso(until), "why": "delete_refused"}}
    assert optout_list.delete_allowed_at(found) == until
    found.provider_list["deleted_at"] = iso(T0 - timedelta(days=1))
    assert optout_list.delete_allowed_at(found) == until
    found.provider_list["held"] = {"since": iso(T0), "until": None, "why": "foreign"}
    assert optout_list.delete_allowed_at(found) == T0 + timedelta(days=29)


def test_a_stop_at_the_carrier_withdraws_the_older_consent_a_newer_one_does_not_revive(demo: Any) -> None:
    """Marketing consented, then a STOP at the carrier this stack never saw, then a new
    newsletter opt-in: the newer consent must not take the person's STOP off the list and
    revive marketing. The STOP withdraws what it came after; the newsletter stays."""
    found = subject(demo, sms_marketing="active", sms_newsletter="active")
    found.consents["sms:newsletter"]["since"] = iso(T0 + timedelta(days=2))
    stop_at = entry(T0 + timedelta(days=1), by_person=True)
    assert step(found, demo, stop_at) is Step.RECORD_OPTOUT
    assert optout_list.stopped(found, demo, stop_at) == ["marketing"]
    # Once marketing is opted out, the entry is older than every consent left: taken off
    found.consents["sms:marketing"] = {"state": "opted_out", "since": iso(T0 + timedelta(days=3))}
    assert step(found, demo, stop_at) is Step.DELETE
    # Someone else's entry between the two consents is not the person's word: as before
    assert step(found, demo, entry(T0 + timedelta(days=1))) is Step.DELETE


def test_what_recording_an_entry_withdraws(demo: Any) -> None:
    stop_at = entry(T0 + timedelta(days=1), by_person=True)
    # A plain STOP: everything in the scope (every channel, records made where missing)
    assert optout_list.withdrawn(None, demo, stop_at) is None
    assert optout_list.withdrawn(subject(demo, sms_marketing="active"), demo, stop_at) is None
    assert optout_list.withdrawn(subject(demo, sms_marketing="lapsed"), demo, stop_at) is None
    # A newer consent stands: only what the entry came after
    mixed = subject(demo, sms_marketing="active", sms_newsletter="active")
    mixed.consents["sms:newsletter"]["since"] = iso(T0 + timedelta(days=2))
    assert optout_list.withdrawn(mixed, demo, stop_at) == {"marketing"}
    # So does a newer signup waiting for its click
    asked = subject(demo, sms_marketing="active", sms_newsletter="pending")
    asked.consents["sms:newsletter"]["since"] = iso(T0 + timedelta(days=2))
    assert optout_list.withdrawn(asked, demo, stop_at) == {"marketing"}
    # Changed since the step was decided (all of it given after the entry): nothing
    later = subject(demo, sms_marketing="active")
    later.consents["sms:marketing"]["since"] = iso(T0 + timedelta(days=2))
    assert optout_list.withdrawn(later, demo, stop_at) == set()
    only_asked = subject(demo, sms_marketing="pending")
    only_asked.consents["sms:marketing"]["since"] = iso(T0 + timedelta(days=2))
    assert optout_list.withdrawn(only_asked, demo, stop_at) == set()
