"""The tenant's AWS End User Messaging opt-out list in step with the consents here: each
opt-out put on it through the queue, START and new opt-ins taking the number off (at most
once per 30 days), the daily reconciliation finding and fixing drift both ways, idempotent.

The real handlers (publisher, ListSyncFunction, ListReconcileFunction, inbound, pre-send)
on moto, with the local stack's stand-in list (held to the service's shapes by
tests/unit/test_optout_list_api.py) in place of AWS."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from local.optout_list import LocalOptOutLists
from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, inbound, sign_up, states, subject, twilio_event

LIST = "demo-optouts"  # local/tenants/demo.json
OTHER = "+4915199999999"


@pytest.fixture
def optouts(published: Any, clock: Any) -> Iterator[LocalOptOutLists]:
    from smsconsent import list_sync

    lists = LocalOptOutLists(clock)
    list_sync.set_local_client(lists)
    yield lists
    list_sync.set_local_client(None)


def listed(lists: LocalOptOutLists) -> dict[str, bool]:
    return {e["phone"]: e["end_user_opted_out"] for e in lists.shown().get(LIST, [])}


def presend(context: Any, clock: Any) -> dict[str, Any]:
    from functions.presend.app import handler

    event = load_event("presend-http.json")
    at = clock.now.replace(hour=13).strftime("%Y-%m-%dT%H:%M:%SZ")  # no quiet hours in Berlin
    event["body"] = json.dumps({"recipients": [PHONE], "category": "marketing", "send_at": at})
    answer = handler(event, context)
    assert answer["statusCode"] == 200, answer["body"]
    return dict(json.loads(answer["body"])["results"][0])


def reconcile(context: Any) -> dict[str, Any]:
    from functions.list_reconcile.app import handler

    # A scheduled run has up to 900 s (the template's Timeout)
    [summary] = handler({}, dataclasses.replace(context, remaining_ms=900_000))["tenants"]
    return dict(summary)


def evidence_types() -> list[str]:
    from smsconsent import store

    return [e.type for e in store.evidence_of(subject().pk)]


def stop(context: Any, label: str = "stop") -> None:
    assert inbound(context, twilio_event("STOP", label))["statusCode"] == 200


def start(context: Any, label: str = "start") -> None:
    assert inbound(context, twilio_event("START", label))["statusCode"] == 200


def test_a_stop_is_put_on_the_list_once(context: Any, outbox: Any, published: Any, optouts: Any) -> None:
    sign_up(context, outbox, confirm=True)
    assert published.run_list_syncs() == []  # the confirmation: nothing on the list to take off
    assert listed(optouts) == {}
    stop(context)
    assert published.run_list_syncs() == []
    assert listed(optouts) == {PHONE: False}  # put by us, not by the person at AWS
    assert evidence_types()[-1] == "provider_list_put"
    # The same sync again (a redelivered message): nothing more written
    before = evidence_types()
    from smsconsent import list_sync

    assert list_sync.sync("demo", subject().pk) == "in_step"
    assert evidence_types() == before


def test_a_start_takes_the_number_off_and_the_30_day_limit_holds_the_next(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    stop(context)
    published.run_list_syncs()
    clock.advance(hours=1)
    start(context)
    published.run_list_syncs()
    assert listed(optouts) == {}
    assert presend(context, clock)["reason"] == "ok"
    # A second STOP and START within 30 days: AWS takes no second delete yet
    clock.advance(days=2)
    stop(context, "stop-2")
    published.run_list_syncs()
    assert listed(optouts) == {PHONE: False}
    clock.advance(hours=1)
    start(context, "start-2")
    published.run_list_syncs()
    assert listed(optouts) == {PHONE: False}
    answer = presend(context, clock)
    deleted_at = subject().provider_list["deleted_at"]
    allowed = (__import__("smsconsent").clock.parse_iso(deleted_at) + timedelta(days=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert answer["reason"] == "provider_opted_out"
    assert answer["retry_at"] == allowed  # when it can change
    assert states()["sms:marketing"] == "active"  # the consent here is untouched
    # The daily run before then changes nothing; after then, it takes the number off
    assert reconcile(context)["drift_fixed"] == 0
    clock.now = __import__("smsconsent").clock.parse_iso(allowed) + timedelta(minutes=1)
    summary = reconcile(context)
    assert (summary["drift_found"], summary["drift_fixed"], summary["deleted"]) == (1, 1, 1)
    assert listed(optouts) == {}
    assert presend(context, clock)["reason"] == "ok"


def test_reconcile_finds_and_fixes_drift_both_ways_and_is_idempotent(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    from smsconsent import keys, store

    # Ours: PHONE opted out here, but missing from the list (the sync never ran)
    sign_up(context, outbox, confirm=True)
    stop(context)
    published.list_syncs()  # taken off the queue, never run
    # Theirs: a number unknown here that replied STOP at AWS, and one active here that
    # replied STOP at AWS after consenting here
    active = "+4915122222222"
    sign_up(context, outbox, phone=active, confirm=True)
    published.list_syncs()
    clock.advance(hours=1)
    optouts.add_by_person(LIST, OTHER)
    optouts.add_by_person(LIST, active)
    summary = reconcile(context)
    assert summary["listed"] == 2
    assert (summary["drift_found"], summary["drift_fixed"]) == (3, 3)
    assert (summary["put"], summary["opted_out"]) == (1, 2)
    assert listed(optouts) == {PHONE: False, OTHER: True, active: True}
    # The list's opt-outs are recorded here, with their evidence
    for number in (OTHER, active):
        found = store.load_subject("demo", keys.subject_hashes("demo", number))
        assert found is not None and {r["state"] for r in found.consents.values()} == {"opted_out"}
        last = store.evidence_of(found.pk)[-1]
        assert last.type == "optout" and last.data["via"] == "provider_list"
    # Run again: nothing found, nothing written
    published.list_syncs()
    second = reconcile(context)
    assert (second["drift_found"], second["drift_fixed"], second["listed"]) == (0, 0, 3)


def test_an_entry_older_than_the_consent_here_is_taken_off(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    # The person replied STOP at AWS long ago, then signed up here again (double opt-in)
    optouts.add_by_person(LIST, PHONE)
    clock.advance(days=40)
    sign_up(context, outbox, confirm=True)
    assert published.run_list_syncs() == []
    assert listed(optouts) == {}
    assert presend(context, clock)["reason"] == "ok"


def test_someone_elses_entry_over_an_active_consent_holds_marketing(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    sign_up(context, outbox, confirm=True)
    published.run_list_syncs()
    clock.advance(hours=1)
    # An API or console put after the consent: not the person's own STOP, not ours
    optouts.put_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
    summary = reconcile(context)
    assert (summary["drift_found"], summary["drift_fixed"], summary["held"]) == (1, 0, 1)
    answer = presend(context, clock)
    assert (answer["reason"], answer["retry_at"]) == ("provider_opted_out", None)
    assert states()["sms:marketing"] == "active"
    assert reconcile(context)["drift_found"] == 1  # still there, still not ours to judge
    assert evidence_types().count("provider_list_held") == 1  # and recorded once
    # Someone takes it off the list: the next run lifts the hold
    optouts.delete_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
    assert reconcile(context)["drift_fixed"] == 1
    assert presend(context, clock)["reason"] == "ok"


def test_a_tenant_without_a_list_queues_nothing(
    context: Any, outbox: Any, published: Any, optouts: Any
) -> None:
    from smsconsent import store, tenants

    doc = json.loads(json.dumps(store.get_tenant_doc("demo")))
    doc.pop("sms", None)
    store.put_tenant_doc(doc, __import__("smsconsent").clock.now())
    tenants.clear_cache()
    assert store.opt_out_list_tenants() == []
    sign_up(context, outbox, confirm=True)
    stop(context)
    assert published.list_syncs() == []
    assert json.loads(
        json.dumps(__import__("functions.list_reconcile.app", fromlist=["x"]).handler({}, context))
    ) == {"tenants": []}


def test_a_missing_list_is_retried_then_dead_lettered(
    context: Any, outbox: Any, published: Any, clock: Any
) -> None:
    """The queue hands the message back (batch failure); after five receives SQS moves it to
    the dead-letter queue, whose alarm tells someone to fix the setting."""
    from smsconsent import list_sync

    class Missing(LocalOptOutLists):
        def describe_opted_out_numbers(self, **kwargs: Any) -> dict[str, Any]:
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {"Code": "ResourceNotFoundException", "Message": "no list"},
                    "ResourceType": "opt-out-list",
                },  # type: ignore[typeddict-unknown-key]
                "DescribeOptedOutNumbers",
            )

    list_sync.set_local_client(Missing(clock))
    try:
        sign_up(context, outbox, confirm=True)
        published.list_syncs()
        stop(context)
        assert len(published.run_list_syncs()) == 1
        summary = reconcile(context)
        assert summary == {"tenant": "demo", "error": "ListMissing", "complete": False}
    finally:
        list_sync.set_local_client(None)


def test_the_sample_events_run_on_the_real_handlers(context: Any, published: Any, optouts: Any) -> None:
    """events/listsync-sqs.json names a subject not held here: nothing to sync, no failure;
    events/listsync-reconcile.json is what the schedule sends."""
    from functions.list_sync import app
    from tests.fixtures.events import load_event

    assert app.handler(load_event("listsync-sqs.json"), context) == {"batchItemFailures": []}
    long = dataclasses.replace(context, remaining_ms=900_000)
    [summary] = __import__("functions.list_reconcile.app", fromlist=["x"]).handler(
        load_event("listsync-reconcile.json"), long
    )["tenants"]
    assert summary["complete"] and summary["drift_found"] == 0


def test_a_malformed_queued_sync_is_dropped_not_retried(context: Any, published: Any, optouts: Any) -> None:
    from functions.list_sync import app

    bodies = [
        "not json",
        json.dumps({"tenant": "demo"}),
        json.dumps({"tenant": "demo", "subject": "SUBJ#other#x"}),
    ]
    records = [
        {"messageId": str(i), "receiptHandle": str(i), "body": b, "eventSource": "aws:sqs"}
        for i, b in enumerate(bodies)
    ]
    assert app.handler({"Records": records}, context) == {"batchItemFailures": []}


# ---- hostile review: races, stale pages, refusals, a tenant's trouble --------------------------


def test_an_old_entry_does_not_void_a_pending_double_opt_in(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """The person replied STOP at the carrier long ago and signs up here again; the daily
    run comes between the signup and the click. The signup is not turned into an opt-out:
    the click confirms, and the confirmation's sync takes the old entry off."""
    from smsconsent import confirmation

    optouts.add_by_person(LIST, PHONE)
    clock.advance(days=40)
    token = sign_up(context, outbox)
    published.list_syncs()
    summary = reconcile(context)
    assert (summary["drift_found"], summary["opted_out"]) == (0, 0)
    assert states()["sms:marketing"] == "pending"
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    assert published.run_list_syncs() == []
    assert listed(optouts) == {}
    assert presend(context, clock)["reason"] == "ok"


def test_the_reconciliation_asks_the_list_again_before_acting_on_a_page(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """A page read just before a START whose own sync took the number off: the run does
    not act on the page's word (it would hold the number for 30 days with nothing on the
    list)."""
    sign_up(context, outbox, confirm=True)
    stop(context)
    published.run_list_syncs()
    clock.advance(hours=1)
    read_page = optouts.describe_opted_out_numbers
    fired: list[bool] = []

    def page_then_start(**kwargs: Any) -> dict[str, Any]:
        answer = read_page(**kwargs)
        if "OptedOutNumbers" not in kwargs and not fired:
            fired.append(True)
            start(context)
            published.run_list_syncs()  # the START's sync deletes the entry
        return answer

    optouts.describe_opted_out_numbers = page_then_start
    summary = reconcile(context)
    assert fired and listed(optouts) == {}
    assert (summary["held"], summary["deleted"]) == (0, 0)
    assert not (subject().provider_list or {}).get("held")
    assert presend(context, clock)["reason"] == "ok"


@pytest.mark.parametrize("action", ["put", "delete"])
def test_a_list_change_whose_write_lost_a_race_is_still_recorded(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any, action: str
) -> None:
    """The subject changed between the sync's read and its write (a marketing send's
    contact, say): the retry finds the list already in step, and records what the list
    did all the same (the evidence, and the delete's time the 30-day limit counts from)."""
    from smsconsent import store

    sign_up(context, outbox, confirm=True)
    if action == "delete":
        stop(context)
        published.run_list_syncs()
        clock.advance(hours=1)
        start(context)
    else:
        stop(context)
    method = f"{action}_opted_out_number"
    real = getattr(optouts, method)

    def then_someone_writes(**kwargs: Any) -> dict[str, Any]:
        answer = real(**kwargs)
        found = subject()
        store.commit(store.Change(found, []), clock.now)  # the subject moves on meanwhile
        return dict(answer)

    setattr(optouts, method, then_someone_writes)
    assert published.run_list_syncs() == []
    kind, field = (
        ("provider_list_put", "put_at") if action == "put" else ("provider_list_deleted", "deleted_at")
    )
    assert evidence_types().count(kind) == 1
    assert (subject().provider_list or {}).get(field)


def test_a_put_that_raced_a_start_is_taken_off_again(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """The STOP's sync read the number opted out; a START committed before its put: the
    put's write loses the race, and the retry knows the entry for its own and deletes it."""
    sign_up(context, outbox, confirm=True)
    stop(context)
    clock.advance(seconds=30)
    real_put = optouts.put_opted_out_number

    def start_first(**kwargs: Any) -> dict[str, Any]:
        start(context)
        clock.advance(seconds=1)
        return dict(real_put(**kwargs))

    optouts.put_opted_out_number = start_first
    assert published.run_list_syncs() == []
    assert listed(optouts) == {}
    assert states()["sms:marketing"] == "active"
    assert evidence_types()[-1] == "provider_list_deleted"
    assert presend(context, clock)["reason"] == "ok"


def test_a_refused_delete_is_held_once_not_renewed_every_day(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """AWS refused to take the number off: it is held until the date given, not asked again
    and held 30 days further (with new evidence) every day."""
    from botocore.exceptions import ClientError

    def refuse(**kwargs: Any) -> dict[str, Any]:
        raise ClientError(
            {
                "Error": {"Code": "ConflictException", "Message": "refused"},
                "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
            },  # type: ignore[typeddict-unknown-key]
            "DeleteOptedOutNumber",
        )

    sign_up(context, outbox, confirm=True)
    stop(context)
    published.run_list_syncs()
    clock.advance(hours=1)
    optouts.delete_opted_out_number = refuse
    start(context)
    published.run_list_syncs()
    first = presend(context, clock)
    assert first["reason"] == "provider_opted_out" and first["retry_at"]
    clock.advance(days=1)
    reconcile(context)
    clock.advance(days=1)
    reconcile(context)
    assert presend(context, clock)["retry_at"] == first["retry_at"]
    assert evidence_types().count("provider_list_held") == 1


def test_a_hold_ends_when_the_tenant_stops_naming_a_list(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """Nothing reconciles a list the tenant no longer names: its hold must not keep the
    consent here from marketing for ever."""
    from smsconsent import store, tenants

    sign_up(context, outbox, confirm=True)
    published.run_list_syncs()
    clock.advance(hours=1)
    optouts.put_opted_out_number(OptOutListName=LIST, OptedOutNumber=PHONE)
    reconcile(context)
    assert presend(context, clock)["reason"] == "provider_opted_out"
    doc = json.loads(json.dumps(store.get_tenant_doc("demo")))
    doc.pop("sms")
    store.put_tenant_doc(doc, clock.now)
    tenants.clear_cache()
    assert presend(context, clock)["reason"] == "ok"


def test_one_tenants_trouble_does_not_stop_the_others(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """A list the role may not read (a shared list's ARN, say) or AWS throttling for one
    tenant is that tenant's error in the summary; the next tenant is still reconciled."""
    from botocore.exceptions import ClientError

    from smsconsent import keys, store, tenants
    from tests.fixtures.tenants import demo_tenant_doc

    other = demo_tenant_doc()
    other.update(id="other", inbound_numbers=[], sms={"opt_out_list": "other-optouts"})
    store.put_tenant_doc(other, clock.now)
    tenants.clear_cache()
    optouts.add_by_person("other-optouts", OTHER)
    read_page = optouts.describe_opted_out_numbers

    def denied_for_demo(**kwargs: Any) -> dict[str, Any]:
        if kwargs["OptOutListName"] == LIST:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not yours"}},
                "DescribeOptedOutNumbers",
            )
        return read_page(**kwargs)

    optouts.describe_opted_out_numbers = denied_for_demo
    from functions.list_reconcile.app import handler

    summaries = handler({}, dataclasses.replace(context, remaining_ms=900_000))["tenants"]
    by_tenant = {s["tenant"]: s for s in summaries}
    assert by_tenant["demo"] == {"tenant": "demo", "error": "AccessDeniedException", "complete": False}
    assert by_tenant["other"]["complete"] and by_tenant["other"]["opted_out"] == 1
    found = store.load_subject("other", keys.subject_hashes("other", OTHER))
    assert found is not None and found.consents["sms:marketing"]["state"] == "opted_out"


def test_a_number_that_keeps_changing_is_left_for_the_next_run(
    context: Any, outbox: Any, published: Any, optouts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One number whose every write loses a race: the run goes on with the others and says
    it is not complete, rather than failing the whole run."""
    from smsconsent import keys, store

    busy, calm = "+4915133333333", "+4915144444444"
    optouts.add_by_person(LIST, busy)
    optouts.add_by_person(LIST, calm)
    busy_pks = {store.subject_pk("demo", h) for h in keys.subject_hashes("demo", busy)}
    real_commit = store.commit

    def losing(change: Any, now: Any) -> None:
        if change.subject.pk in busy_pks:
            raise store.Conflict("changed meanwhile")
        real_commit(change, now)

    monkeypatch.setattr(store, "commit", losing)
    summary = reconcile(context)
    assert not summary["complete"]
    assert (summary["opted_out"], summary["failed"]) == (1, 1)
    assert store.load_subject("demo", keys.subject_hashes("demo", calm)) is not None


def test_a_stop_at_the_carrier_is_not_undone_by_a_newer_opt_in_for_another_purpose(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """Marketing consented; the person replies STOP at the carrier (this stack never sees
    it); the same day, before the daily run, they sign up for the newsletter only. The
    confirmation's sync must not delete the person's STOP from the list with marketing
    still active here: marketing is withdrawn, the newsletter kept, then the entry goes."""
    from functions.signup.app import handler
    from smsconsent import confirmation

    sign_up(context, outbox, confirm=True)  # marketing
    published.run_list_syncs()
    clock.advance(hours=1)
    optouts.add_by_person(LIST, PHONE)
    clock.advance(hours=1)
    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": PHONE, "consent": True, "age_confirmed": True, "purposes": "newsletter"}
    )
    assert handler(event, context)["statusCode"] == 202
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    published.run_list_syncs()  # the confirmation's: records the STOP of marketing
    assert states()["sms:marketing"] == "opted_out"
    assert states()["sms:newsletter"] == "active"
    published.run_list_syncs()  # the opt-out's: the entry is older than what is left
    assert listed(optouts) == {}
    assert presend(context, clock)["reason"] == "opted_out"


def test_a_stop_at_the_carrier_leaves_a_newer_signup_open(
    context: Any, outbox: Any, published: Any, optouts: Any, clock: Any
) -> None:
    """As above, but the daily run comes between the newsletter signup and its click: the
    STOP withdraws marketing and the newsletter's link still confirms."""
    from functions.signup.app import handler
    from smsconsent import confirmation

    sign_up(context, outbox, confirm=True)
    published.run_list_syncs()
    clock.advance(hours=1)
    optouts.add_by_person(LIST, PHONE)
    clock.advance(hours=1)
    event = load_event("signup-json.json")
    event["body"] = json.dumps(
        {"phone": PHONE, "consent": True, "age_confirmed": True, "purposes": "newsletter"}
    )
    assert handler(event, context)["statusCode"] == 202
    token = outbox.messages()[-1]["body"].split("/c/")[1].split()[0]
    published.list_syncs()
    assert reconcile(context)["opted_out"] == 1
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "pending"}
    assert confirmation.confirm(token, "198.51.100.1", "ua").status == "confirmed"
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "active"}
