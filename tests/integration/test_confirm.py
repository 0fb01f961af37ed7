"""Confirmation handler on moto, fed events/: GET shows, only POST confirms, every outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import visit

pytestmark = pytest.mark.usefixtures("aws")

PHONE = "+4915112345678"


def sign_up(context: Any, outbox: Any, **extra: Any) -> str:
    """Sign the number up and return the token from its confirmation SMS."""
    from functions.signup.app import handler

    event = load_event("signup-json.json")
    body = {
        "phone": PHONE,
        "consent": True,
        "age_confirmed": True,
        "purposes": "marketing,newsletter",
        **extra,
    }
    event["body"] = json.dumps(body)
    assert handler(event, context)["statusCode"] == 202
    return str(outbox.messages()[-1]["body"].split("/c/")[1].split()[0])


def status_of(answer: dict[str, Any]) -> tuple[int, str]:
    return answer["statusCode"], json.loads(answer["body"])["status"]


def states() -> dict[str, str]:
    from smsconsent import keys, store

    subject = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    return {k: r["state"] for k, r in subject.consents.items()}


def test_get_and_head_show_the_page_and_change_nothing(context, outbox):
    token = sign_up(context, outbox)
    page = visit(context, "GET", token, accept="text/html")
    assert page["statusCode"] == 200
    assert '<form method="post">' in page["body"] and "<button" in page["body"]
    assert token not in page["body"]
    assert page["headers"]["Referrer-Policy"] == "no-referrer"
    head = visit(context, "HEAD", token, accept="text/html")
    assert head["statusCode"] == 200 and head["body"] == ""
    assert status_of(visit(context, "GET", token)) == (200, "pending")
    assert states() == {"sms:marketing": "pending", "sms:newsletter": "pending"}


def test_post_confirms_once_then_already_confirmed(context, outbox, clock):
    token = sign_up(context, outbox)
    clock.advance(hours=1)
    assert status_of(visit(context, "POST", token)) == (200, "confirmed")
    assert states() == {"sms:marketing": "active", "sms:newsletter": "active"}
    assert status_of(visit(context, "POST", token)) == (200, "already_confirmed")
    assert status_of(visit(context, "GET", token)) == (200, "already_confirmed")
    from smsconsent import evidence, keys, store

    subject = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    events = store.evidence_of(subject.pk)
    assert [e.type for e in events] == ["optin_requested", "optin_confirmed"]
    assert events[1].data["via"] == "link" and events[1].at == "2026-11-22T11:00:00Z"
    assert evidence.verify(events, subject.ev_head, subject.ev_seq) == (True, "ok")
    assert subject.optout_code and len(subject.optout_code) >= 16  # issued at confirmation


def test_confirm_post_event_from_events_folder(context, outbox):
    from functions.confirm.app import handler

    answer = handler(load_event("confirm-post.json"), context)
    assert answer["statusCode"] == 404 and "text/html" in answer["headers"]["Content-Type"]
    assert handler(load_event("confirm-get.json"), context)["statusCode"] == 404


@pytest.mark.parametrize(
    "token", ["Zm9vYmFyYmF6cXV4MDEyMzQ1", "short", "x" * 300, "ÄÖÜ-🌍-token-0000000000", ""]
)
def test_unknown_token_is_404(context, token):
    assert status_of(visit(context, "POST", token)) == (404, "unknown_token")
    assert status_of(visit(context, "GET", token)) == (404, "unknown_token")


def test_expired_token_is_410(context, outbox, clock):
    token = sign_up(context, outbox)
    clock.advance(hours=48)
    assert status_of(visit(context, "GET", token)) == (410, "expired")
    assert status_of(visit(context, "POST", token)) == (410, "expired")
    assert states() == {"sms:marketing": "pending", "sms:newsletter": "pending"}


def test_replaced_token_is_410_and_the_new_one_confirms(context, outbox, clock):
    old = sign_up(context, outbox)
    clock.advance(minutes=11)
    new = sign_up(context, outbox)
    assert old != new
    assert status_of(visit(context, "POST", old)) == (410, "expired")
    assert status_of(visit(context, "POST", new)) == (200, "confirmed")


def test_stop_before_the_click_wins_with_409(context, outbox, clock):
    token = sign_up(context, outbox)
    # A STOP arrives (the inbound flow sets the records opted_out, keeping their token).
    from smsconsent import keys, store

    subject = store.load_subject("demo", keys.subject_hashes("demo", PHONE))
    for record in subject.consents.values():
        record["state"] = "opted_out"
    subject.pending = None
    store.commit(store.Change(subject, []), clock.now)
    assert status_of(visit(context, "POST", token)) == (409, "opted_out")
    assert status_of(visit(context, "GET", token)) == (409, "opted_out")
    assert set(states().values()) == {"opted_out"}


def test_a_confirm_racing_a_change_is_decided_on_fresh_state(context, outbox, monkeypatch):
    # Given a subject that changes between the confirm's read and its write
    token = sign_up(context, outbox)
    from smsconsent import store

    real_commit = store.commit
    calls = {"n": 0}

    def commit_after_a_stop(change: Any, now: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            fresh = store.load_subject_by_pk(change.subject.pk)
            for record in fresh.consents.values():
                record["state"] = "opted_out"
            fresh.pending = None
            real_commit(store.Change(fresh, []), now)  # the STOP lands first
        real_commit(change, now)

    monkeypatch.setattr(store, "commit", commit_after_a_stop)
    # When the confirmation is posted; Then its stale write is refused and STOP wins
    assert status_of(visit(context, "POST", token)) == (409, "opted_out")
    assert set(states().values()) == {"opted_out"}


def test_html_outcome_pages_in_german_and_english(context, outbox):
    token = sign_up(context, outbox, language="en")
    confirmed = visit(context, "POST", token, accept="text/html")
    assert confirmed["statusCode"] == 200 and 'data-status="confirmed"' in confirmed["body"]
    assert 'lang="en"' in confirmed["body"]
    unknown = visit(context, "GET", "Zm9vYmFyYmF6cXV4MDEyMzQ1", accept="text/html")
    assert unknown["statusCode"] == 404 and 'lang="de"' in unknown["body"]  # from Accept-Language


def test_a_whole_journey_makes_one_dynamodb_client(context, outbox, clock, monkeypatch):
    # Given a process that has made no DynamoDB client yet, counting the clients it makes
    import botocore.session

    from smsconsent import store

    store.bind()
    made: list[str] = []
    create_client = botocore.session.Session.create_client

    def counting(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        return create_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    # When a signup, a page view and a confirmation touch every kind of item (tenant,
    # rate counters, subject, evidence, token, code, last SMS)
    token = sign_up(context, outbox)
    clock.advance(hours=1)
    visit(context, "GET", token)
    assert status_of(visit(context, "POST", token)) == (200, "confirmed")
    # Then pynamodb's models shared one client (each made its own before: ~45 ms apiece
    # on a cold start)
    assert made == ["dynamodb"]
