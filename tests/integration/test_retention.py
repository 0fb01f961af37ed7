"""The retention job on moto with the injected clock: pending expiry, lapse, contact
keeping consent alive, purge, suppression, idempotent re-runs, catch-up, time limit, and
reading only what is due."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, run, sign_up, stop, subject

pytestmark = pytest.mark.usefixtures("aws")


def test_the_scheduler_event_sets_the_runs_now(context, clock):
    from functions.expiry.app import handler

    summary = handler(load_event("expiry-scheduled.json"), context)
    assert summary["now"] == "2026-11-22T03:15:00Z" and summary["complete"] is True


def test_pending_expires_after_the_token_lifetime_and_its_data_goes(context, outbox, clock):
    token = sign_up(context, outbox)
    clock.advance(hours=47)
    assert run(context, clock)["pending_expired"] == 0
    clock.advance(hours=2)
    summary = run(context, clock)
    assert (summary["pending_expired"], summary["deleted"], summary["examined"]) == (1, 1, 1)
    assert subject() is None
    from smsconsent import confirmation, store

    assert store.evidence_of(store.subject_pk("demo", "x")) == []
    assert confirmation.look(token).status == "expired"


def test_expired_request_over_an_opt_out_keeps_the_opt_out_and_drops_ip_and_user_agent(
    context, outbox, clock
):
    sign_up(context, outbox, confirm=True)
    stop()
    clock.advance(minutes=11)
    sign_up(context, outbox)  # a new request over the STOP (maybe not by the owner)
    clock.advance(hours=49)
    summary = run(context, clock)
    assert summary["pending_expired"] == 1
    found = subject()
    assert found.consents["sms:marketing"]["state"] == "opted_out"
    from smsconsent import evidence, store

    events = store.evidence_of(found.pk)
    last_request = [e for e in events if e.type == "optin_requested"][-1]
    assert last_request.pii is None
    assert events[-1].type == "optin_expired"
    assert evidence.verify(events, found.ev_head, found.ev_seq) == (True, "ok")


def test_two_expired_requests_over_a_bare_stop_leave_no_number_ip_or_user_agent(context, outbox, clock):
    # Given an unknown number that texted STOP (a marker of its keyed hash alone), then
    # a signup for it, and after the resend cooldown another one replacing the first link
    stop()
    assert subject().phone is None
    clock.advance(hours=1)
    sign_up(context, outbox)
    clock.advance(minutes=15)
    sign_up(context, outbox)
    assert subject().phone == PHONE and _zones_kept(subject()) is not None
    # When both requests have expired unconfirmed and the job runs
    clock.advance(hours=49)
    assert run(context, clock)["pending_expired"] == 1
    # Then the number is gone again, and so are the IP and user agent of both requests
    found = subject()
    assert found.phone is None and found.pending is None
    assert _zones_kept(found) is None  # the number's time zones go with it
    assert set(found.consents) == {"sms:marketing", "sms:newsletter"}
    assert {r["state"] for r in found.consents.values()} == {"opted_out"}
    from smsconsent import evidence, store

    events = store.evidence_of(found.pk)
    requests = [e for e in events if e.type == "optin_requested"]
    assert len(requests) == 2 and all(e.pii is None for e in requests)
    assert evidence.verify(events, found.ev_head, found.ev_seq) == (True, "ok")


def test_an_expired_request_beside_an_active_consent_keeps_only_the_confirmed_ones_ip(context, outbox, clock):
    from functions.signup.app import handler

    # Given an active marketing consent, then two newsletter requests that expire unconfirmed
    sign_up(context, outbox, confirm=True)
    for _ in range(2):
        clock.advance(minutes=11)
        event = load_event("signup-json.json")
        event["body"] = json.dumps(
            {"phone": PHONE, "consent": True, "age_confirmed": True, "purposes": "newsletter"}
        )
        assert handler(event, context)["statusCode"] == 202
    clock.advance(hours=49)
    assert run(context, clock)["pending_expired"] == 1
    # Then the confirmed request keeps its IP and user agent (the consent's proof); the
    # two that led to nothing keep none, and the number stays (its consent is active)
    from smsconsent import store

    found = subject()
    assert found.phone == PHONE and found.consents["sms:marketing"]["state"] == "active"
    requests = [e for e in store.evidence_of(found.pk) if e.type == "optin_requested"]
    assert [e.pii is not None for e in requests] == [True, False, False]


def test_active_consent_lapses_without_contact(context, outbox, clock):
    sign_up(context, outbox, confirm=True)
    clock.advance(days=539)
    assert run(context, clock)["lapsed"] == 0
    clock.advance(days=2)
    assert run(context, clock)["lapsed"] == 1
    assert subject().consents["sms:marketing"]["state"] == "lapsed"


def test_recorded_contact_keeps_consent_alive(context, outbox, clock):
    from smsconsent import consent, store, tenants

    sign_up(context, outbox, confirm=True)
    clock.advance(days=300)
    found = subject()
    found.last_contact_at = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")  # what presend record=true writes
    store.commit(store.Change(found, [], due=consent.next_due(found, tenants.get("demo"))), clock.now)
    clock.advance(days=260)
    assert run(context, clock)["lapsed"] == 0
    clock.advance(days=281)
    assert run(context, clock)["lapsed"] == 1


def test_purge_after_the_evidence_period_keeps_only_the_suppression_marker(context, outbox, clock):
    sign_up(context, outbox, confirm=True)
    stop()
    clock.advance(days=1460)
    assert run(context, clock)["purged"] == 0
    clock.advance(days=2)
    summary = run(context, clock)
    assert summary["purged"] == 1 and summary["deleted"] == 0
    found = subject()
    assert found.phone is None and found.optout_code is None and found.language is None
    assert _zones_kept(found) is None  # the number's time zones go with it
    assert set(r["state"] for r in found.consents.values()) == {"opted_out"}
    assert all(set(r) == {"state", "since"} for r in found.consents.values())
    from smsconsent import store

    assert store.evidence_of(found.pk) == []
    assert run(context, clock)["examined"] == 0  # nothing due any more


def test_a_lapsed_subject_is_deleted_entirely_after_the_evidence_period(context, outbox, clock):
    sign_up(context, outbox, confirm=True)
    clock.advance(days=541)
    run(context, clock)
    clock.advance(days=1462)
    summary = run(context, clock)
    assert (summary["purged"], summary["deleted"]) == (1, 1)
    assert subject() is None


def test_a_second_run_for_the_same_time_changes_nothing(context, outbox, clock):
    sign_up(context, outbox)
    sign_up(context, outbox, phone="+4915112345679", confirm=True)
    clock.advance(hours=49)
    first = run(context, clock)
    second = run(context, clock)
    assert first["pending_expired"] == 1
    assert {k: second[k] for k in ("pending_expired", "lapsed", "purged", "deleted", "examined")} == {
        "pending_expired": 0,
        "lapsed": 0,
        "purged": 0,
        "deleted": 0,
        "examined": 0,
    }


def test_missed_days_are_caught_up(context, outbox, clock):
    run(context, clock)  # sets the cursor today
    sign_up(context, outbox)
    clock.advance(days=1)
    sign_up(context, outbox, phone="+4915112345679")
    clock.advance(days=5)  # the schedule did not run for days
    summary = run(context, clock)
    assert summary["pending_expired"] == 2 and summary["days"] == 7


def test_a_run_cut_short_by_the_time_limit_finishes_next_run(context, outbox, clock):
    from smsconsent import retention

    for i in range(5):
        sign_up(context, outbox, phone=f"+49151123456{i:02d}")
    clock.advance(hours=49)
    budget = iter([100.0, 100.0, 1.0])  # seconds left: two subjects, then too little
    first = retention.run(clock.now, lambda: next(budget, 1.0))
    assert first["complete"] is False and first["examined"] == 2
    second = retention.run(clock.now, lambda: 100.0)
    assert second["complete"] is True and second["examined"] == 3
    assert first["pending_expired"] + second["pending_expired"] == 5


@pytest.mark.slow
def test_a_run_reads_only_what_is_due(context, clock, dynamo_calls):
    """20,000 subjects, 200 of them due: the run reads about 200 items, not 20,000."""
    from boto3.dynamodb.types import TypeSerializer
    from moto.dynamodb.models import dynamodb_backends

    from smsconsent import clock as clock_module
    from smsconsent import settings

    now = clock.now
    due_day, later_day = now.date(), (now + timedelta(days=300)).date()
    items = []
    for i in range(20_000):
        due = i < 200
        moment = now - timedelta(hours=1) if due else now + timedelta(days=300)
        issued = (now - timedelta(hours=49) if due else now).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append(
            {
                "pk": f"SUBJ#demo#t1.{i:064x}",
                "sk": "SUBJECT",
                "tenant": "demo",
                "consents": json.dumps(
                    {
                        "sms:marketing": {
                            "state": "pending",
                            "since": issued,
                            "issued_at": issued,
                            "token": f"{i}",
                        }
                    }
                ),
                "ev_seq": 0,
                "ev_head": "",
                "created_at": issued,
                "updated_at": issued,
                "version": 1,
                "due_bucket": f"due#{(due_day if due else later_day).isoformat()}",
                "due_at": clock_module.iso(moment),
            }
        )
    # Straight into moto's table (as BatchWriteItem stores them, in a fraction of the time):
    # the test is about what the run reads, not about loading.
    serialize = TypeSerializer().serialize
    backend = dynamodb_backends["123456789012"]["eu-central-1"]
    for item in items:
        backend.put_item(settings.get().table_name, {k: serialize(v) for k, v in item.items()})
    # As if the job ran yesterday: its cursor names yesterday's bucket. (Without a cursor the
    # first run looks back 400 day buckets: cheap on DynamoDB, but moto answers every index
    # Query by walking the whole table.)
    from smsconsent import retention, store

    store.set_job_cursor(retention.JOB, due_day - timedelta(days=1), now)
    dynamo_calls.reset()
    summary = run(context, clock)
    assert summary["examined"] == 200 and summary["pending_expired"] == 200
    # 200 due subjects from the index, plus each one's tenant-free evidence query (empty)
    assert dynamo_calls.items_read <= 210, dynamo_calls
    assert dynamo_calls.operations.get("Scan", 0) == 0


def _zones_kept(found: Any) -> str | None:
    """The subject's item's ``zones`` (derived from the number: kept and dropped with it)."""
    from smsconsent import store

    zones: str | None = store.SubjectItem.get(found.pk, "SUBJECT").zones
    return zones
