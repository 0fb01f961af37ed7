"""Consent events out: each committed change -> exactly one event (CloudEvents 1.0) on the
stack's bus, derived from the stream of the table; nothing for a change that did not
commit; nothing lost when the publisher fails midway."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.journeys import PHONE, run, sign_up, stop, subject

CLOUD_KEYS = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"}
DATA_KEYS = {
    "tenant",
    "phone",
    "channel",
    "purposes",
    "consents",
    "via",
    "keyword",
    "campaign",
    "reason",
    "provider",
    "seq",
}


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def test_a_signup_a_confirmation_and_a_stop_each_publish_one_event_in_seq_order(
    published: Any, context: Any, outbox: Any
) -> None:
    # Given a person who signs up, confirms and texts STOP
    sign_up(context, outbox, confirm=True)
    stop()
    # When the stream is published
    events = published.events()
    # Then three CloudEvents, one per change, in order, with the subject's number
    assert _types(events) == ["consent.requested", "consent.confirmed", "consent.opted_out"]
    seqs = [e["data"]["seq"] for e in events]
    assert seqs == sorted(set(seqs)) and [s % 1000 for s in seqs] == [1, 2, 3]
    assert len({e["id"] for e in events}) == 3
    key = subject().pk.rsplit("#", 1)[-1]
    for event in events:
        assert set(event) == CLOUD_KEYS
        assert set(event["data"]) == DATA_KEYS
        assert event["specversion"] == "1.0"
        assert event["source"] == "sms-consent/demo"
        assert event["subject"] == key
        assert event["datacontenttype"] == "application/json"
        assert event["data"]["tenant"] == "demo"
        assert event["data"]["phone"] == PHONE
    optout = events[2]["data"]
    assert optout["via"] == "sms_keyword" and optout["keyword"] == "STOP" and optout["provider"] == "twilio"
    assert "marketing" in optout["purposes"] and optout["channel"] == "sms"
    # And nothing secret or personal beyond the number: no token hash, no message text
    text = json.dumps(events)
    assert "token" not in text and subject().pk not in text


def test_publishing_the_same_records_again_gives_the_same_ids(
    published: Any, context: Any, outbox: Any
) -> None:
    # Given a change whose stream record is handed to the publisher twice (Lambda's retry)
    sign_up(context, outbox)
    records = published.stream
    from functions.publisher import app

    def twice(event: dict[str, Any]) -> Any:
        app.handler(event, context)
        return app.handler(event, context)

    records.feed(twice)
    events = published.events()
    # Then the event arrives twice with one id: consumers drop the copy by id
    assert _types(events) == ["consent.requested", "consent.requested"]
    assert events[0]["id"] == events[1]["id"]
    assert events[0] == events[1]


def test_a_change_that_did_not_commit_publishes_nothing(published: Any, context: Any, outbox: Any) -> None:
    # Given a confirmed subject, and a STOP whose transaction loses its race
    sign_up(context, outbox, confirm=True)
    published.events()
    from smsconsent import store

    real = store.subjects.TransactWrite

    class Failing(real):  # type: ignore[misc, valid-type]
        def _commit(self) -> Any:
            from pynamodb.exceptions import TransactWriteError

            raise TransactWriteError("injected")

    store.subjects.TransactWrite = Failing
    try:
        with pytest.raises(Exception):  # noqa: B017 - whichever way the failure surfaces
            stop()
    finally:
        store.subjects.TransactWrite = real
    # Then no event for it; the next committed change publishes with the next seq
    assert published.events()[2:] == []
    stop()
    assert _types(published.events()[2:]) == ["consent.opted_out"]
    assert published.seen[2]["data"]["seq"] % 1000 == 3


def test_a_publisher_that_fails_between_reading_and_sending_loses_nothing(
    published: Any, context: Any, outbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three changes in the stream, and a bus that fails on its second call
    sign_up(context, outbox, confirm=True)
    stop()
    from smsconsent import publishing

    client = publishing._events_client()
    real = client.put_events
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutEvents")
        return real(**kwargs)

    monkeypatch.setattr(client, "put_events", flaky)
    # When the publisher runs and the bus throttles it
    published.publish()
    assert published.received() == []
    # Then the records stay in the stream's hands and the next run publishes them all once
    events = published.events()
    assert _types(events) == ["consent.requested", "consent.confirmed", "consent.opted_out"]


def test_a_bus_that_refuses_one_entry_is_retried_from_that_entry(
    published: Any, context: Any, outbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(context, outbox, confirm=True)
    stop()
    from smsconsent import publishing

    client = publishing._events_client()
    real = client.put_events
    calls = {"n": 0}

    def partial(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            return real(**kwargs)
        entries = kwargs["Entries"]
        real(**{**kwargs, "Entries": entries[:1]})  # the first goes out, the second is refused
        return {
            "FailedEntryCount": len(entries) - 1,
            "Entries": [{"EventId": "x"}] + [{"ErrorCode": "InternalFailure"}] * (len(entries) - 1),
        }

    monkeypatch.setattr(client, "put_events", partial)
    published.publish()
    assert _types(published.received()) == ["consent.requested"]
    events = published.events()
    assert _types(events) == ["consent.requested", "consent.confirmed", "consent.opted_out"]


def test_lapse_expiry_and_erasure_publish_their_events_and_the_erased_carry_no_number(
    published: Any, context: Any, outbox: Any, clock: Any
) -> None:
    from smsconsent import keys, phone, privacy, tenants

    # Given one number that signs up and never confirms, and one that confirms
    other = "+4915112345679"
    sign_up(context, outbox, phone=other)
    sign_up(context, outbox, confirm=True)
    # When the pending one expires and the confirmed one lapses
    clock.advance(days=3)
    run(context, clock)
    clock.advance(days=600)
    run(context, clock)
    # And the lapsed one is erased
    tenant = tenants.get("demo")
    privacy.erase(tenant, phone.normalise(PHONE, "DE"))
    events = published.events()
    by_type = {e["type"]: e for e in events}
    assert _types(events).count("consent.expired") == 1
    expired = by_type["consent.expired"]
    assert expired["data"]["phone"] is None and expired["data"]["reason"] == "not_confirmed"
    assert expired["data"]["purposes"] == events[0]["data"]["purposes"]
    lapsed = by_type["consent.lapsed"]
    assert lapsed["data"]["reason"] == "no_marketing_contact" and lapsed["data"]["via"] == "retention"
    erased = by_type["subject.erased"]
    assert erased["data"]["phone"] is None and erased["data"]["via"] == "privacy"
    assert erased["subject"] == keys.subject_hashes("demo", PHONE)[0]
    # And every event published after the erasure (the lapse's too) carries no number
    assert lapsed["data"]["phone"] is None
    assert erased["data"]["seq"] > lapsed["data"]["seq"]


def test_two_new_numbers_opted_out_in_one_second_get_different_ids(published: Any, context: Any) -> None:
    # Two numbers we hold nothing on, opted out by an operator in the same second: their
    # chains start alike (same genesis, data and time), their events must not share an id
    from smsconsent import phone, privacy, tenants

    tenant = tenants.get("demo")
    for number in ("+4915112345670", "+4915112345671"):
        privacy.opt_out(tenant, phone.normalise(number, "DE"), None)
    events = published.events()
    assert [e["type"] for e in events] == ["consent.opted_out", "consent.opted_out"]
    assert events[0]["id"] != events[1]["id"]


def test_seq_keeps_growing_after_an_erasure_and_a_new_signup(
    published: Any, context: Any, outbox: Any, clock: Any
) -> None:
    from smsconsent import phone, privacy, tenants

    # Given a subject with three events, erased whole (it never opted out)
    sign_up(context, outbox, confirm=True)
    privacy.erase(tenants.get("demo"), phone.normalise(PHONE, "DE"))
    # When the number signs up again and texts STOP (a new chain, counted from 1 again)
    clock.advance(minutes=10)
    sign_up(context, outbox, confirm=True)
    stop()
    events = published.events()
    assert _types(events) == [
        "consent.requested",
        "consent.confirmed",
        "subject.erased",
        "consent.requested",
        "consent.confirmed",
        "consent.opted_out",
    ]
    # Then a consumer ordering by seq still puts the STOP last
    seqs = [e["data"]["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e["subject"] for e in events}) == 1


def test_an_erasure_published_after_the_number_signed_up_again_carries_no_number(
    published: Any, context: Any, outbox: Any, clock: Any
) -> None:
    from smsconsent import phone, privacy, tenants

    sign_up(context, outbox)
    privacy.erase(tenants.get("demo"), phone.normalise(PHONE, "DE"))
    clock.advance(minutes=1)
    sign_up(context, outbox)  # before the publisher caught up
    erased = [e for e in published.events() if e["type"] == "subject.erased"]
    assert len(erased) == 1 and erased[0]["data"]["phone"] is None
