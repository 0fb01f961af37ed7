"""The opt-out page on moto through the real confirm handler: keep or drop each purpose,
the one button that withdraws the whole STOP scope, the undo (short-lived, bound to the
code and the opt-out it takes back, evidenced, never over a STOP), and refused form posts
as pages in the person's language."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import PHONE, signed_up_and_confirmed, states, stop, subject

pytestmark = pytest.mark.usefixtures("aws")

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def visit(
    context: Any,
    method: str,
    code: str,
    form: list[tuple[str, str]] | None = None,
    accept: str = BROWSER,
    language: str = "en-GB,en;q=0.8",
) -> dict[str, Any]:
    from functions.confirm.app import handler

    event = load_event("confirm-post.json" if method == "POST" else "confirm-get.json")
    event.update(rawPath=f"/o/{code}", pathParameters={"code": code}, routeKey=f"{method} /o/{{code}}")
    event["requestContext"]["http"].update(method=method, path=f"/o/{code}")
    event["headers"].update({"accept": accept, "accept-language": language})
    event["body"] = base64.b64encode(urlencode(form or []).encode()).decode()
    answer: dict[str, Any] = handler(event, context)
    return answer


def check(context: Any, purpose: str) -> dict[str, Any]:
    from functions.presend.app import handler

    event = load_event("presend-http.json")
    event["body"] = json.dumps({"recipients": [PHONE], "category": "marketing", "purpose": purpose})
    result: dict[str, Any] = json.loads(handler(event, context)["body"])["results"][0]
    return result


def evidence_types() -> list[str]:
    from smsconsent import store

    return [e.type for e in store.evidence_of(subject().pk)]


def undo_token(page: str) -> str:
    marker = 'name="undo" value="'
    assert marker in page, page
    return page.split(marker, 1)[1].split('"', 1)[0]


@pytest.fixture
def code(context: Any, outbox: Any) -> str:
    signed_up_and_confirmed(context, outbox)  # marketing, newsletter (marketing) and orders
    found: str = subject().optout_code
    return found


def test_the_page_offers_each_purpose_in_force_and_says_transactional_messages_continue(context, code):
    page = visit(context, "GET", code)
    assert page["statusCode"] == 200
    body = page["body"]
    assert 'name="purposes" value="marketing"' in body and 'name="purposes" value="newsletter"' in body
    assert 'value="orders"' not in body  # transactional: not in the STOP scope, not offered
    # in the person's language (German: the signup's), with the transactional note
    assert '<html lang="de">' in body
    assert 'id="note"' in body and "Bestell- und Versandinfos" in body
    assert 'name="partial" value="1"' in body and 'id="unsubscribe"' in body
    assert set(states().values()) == {"active"}  # looking changes nothing


def test_dropping_one_of_two_purposes_leaves_the_other_and_the_pre_send_check_follows(context, code, clock):
    # When the person drops only the newsletter
    answer = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    # Then the page says what stopped and what still comes, with an undo
    assert answer["statusCode"] == 200
    assert "Sie erhalten nicht mehr: den Demo-Shop-Newsletter." in answer["body"]
    assert "Sie erhalten weiterhin: Angebote und Neuigkeiten von Demo Shop." in answer["body"]
    assert 'id="undo"' in answer["body"]
    assert states() == {"sms:marketing": "active", "sms:newsletter": "opted_out", "sms:orders": "active"}
    # And the pre-send check answers accordingly
    assert check(context, "newsletter")["reason"] == "opted_out"
    assert check(context, "marketing")["allowed"] is True
    # And the evidence names the purposes the person chose, by the link
    from smsconsent import store

    [event] = [e for e in store.evidence_of(subject().pk) if e.type == "optout"]
    assert event.data["via"] == "link" and event.data["purposes"] == ["newsletter"]
    assert event.data["consents"] == ["sms:newsletter"]


def test_json_post_with_purposes_names_what_it_withdrew(context, code):
    from functions.confirm.app import handler

    event = load_event("confirm-post.json")
    event.update(rawPath=f"/o/{code}", pathParameters={"code": code}, routeKey="POST /o/{code}")
    event["requestContext"]["http"].update(path=f"/o/{code}")
    event["headers"].update({"accept": "application/json", "content-type": "application/json"})
    event["isBase64Encoded"] = False
    event["body"] = json.dumps({"purposes": ["newsletter"]})
    answer = handler(event, context)
    assert (answer["statusCode"], json.loads(answer["body"])) == (
        200,
        {"status": "opted_out", "purposes": ["newsletter"]},
    )


def test_post_without_purposes_withdraws_the_whole_stop_scope_as_before(context, code):
    answer = visit(context, "POST", code, [("reason", "too many")])
    assert answer["statusCode"] == 200 and 'data-status="opted_out_now"' in answer["body"]
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out", "sms:orders": "active"}
    assert check(context, "marketing")["reason"] == "opted_out"


@pytest.mark.parametrize(
    ("form", "code_", "field"),
    [
        ([("partial", "1"), ("purposes", "holidays")], "unknown_purpose", "purposes"),
        ([("partial", "1"), ("purposes", "orders")], "invalid_field", "purposes"),  # not in the STOP scope
        ([("partial", "1")], "invalid_field", "purposes"),  # nothing ticked is never "everything"
        ([("purposes", "")], "invalid_field", "purposes"),
        ([("purposes", "x" * 300)], "unknown_purpose", "purposes"),
    ],
)
def test_a_refused_form_post_is_a_page_with_the_field_and_changes_nothing(context, code, form, code_, field):
    answer = visit(context, "POST", code, form, language="de-DE,de;q=0.9")
    assert answer["statusCode"] == 422
    assert answer["headers"]["Content-Type"].startswith("text/html")
    body = answer["body"]
    assert f'data-code="{code_}"' in body and f'data-field="{field}"' in body
    assert '<html lang="de">' in body and "Zurück zum Formular" in body and f'href="/o/{code}"' in body
    assert set(states().values()) == {"active"}


def test_an_inactive_purpose_is_refused_after_it_was_dropped(context, code):
    visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    answer = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    assert answer["statusCode"] == 422 and 'data-field="purposes"' in answer["body"]
    assert evidence_types().count("optout") == 1


def test_a_refused_json_post_stays_json(context, code):
    answer = visit(context, "POST", code, [("purposes", "holidays")], accept="application/json")
    assert answer["statusCode"] == 422
    assert json.loads(answer["body"])["error"] == {
        "code": "unknown_purpose",
        "message": "unknown purpose: holidays",
        "field": "purposes",
    }


def test_undo_brings_back_what_the_page_dropped_once_with_its_own_evidence(context, code):
    dropped = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    token = undo_token(dropped["body"])
    answer = visit(context, "POST", code, [("undo", token)])
    assert answer["statusCode"] == 200 and 'data-status="restored"' in answer["body"]
    assert "Sie erhalten wieder: den Demo-Shop-Newsletter." in answer["body"]
    assert set(states().values()) == {"active"}
    assert check(context, "newsletter")["allowed"] is True
    assert evidence_types()[-2:] == ["optout", "optout_undone"]
    from smsconsent import store

    last = store.evidence_of(subject().pk)[-1]
    assert last.data == {"consents": ["sms:newsletter"], "via": "link", "undoes": last.seq - 1}
    assert last.pii and last.pii["ip"] == "203.0.113.10"
    assert "undo_seq" not in subject().consents["sms:newsletter"]
    # A replay of the same undo does nothing
    again = visit(context, "POST", code, [("undo", token)])
    assert again["statusCode"] == 409 and 'data-status="undo_unavailable"' in again["body"]
    assert evidence_types()[-1] == "optout_undone" and evidence_types().count("optout_undone") == 1


def test_undo_of_the_whole_scope_brings_back_only_what_was_in_force(context, code):
    dropped = visit(context, "POST", code, [])
    visit(context, "POST", code, [("undo", undo_token(dropped["body"]))])
    assert set(states().values()) == {"active"}


def test_a_forged_undo_does_nothing(context, code):
    dropped = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    token = undo_token(dropped["body"])
    seq, _, digest = token.partition(".")
    forged = [
        f"{seq}.{digest[:-4]}beef",  # another digest
        f"{int(seq) - 1}.{digest}",  # another event
        f"{seq}.v9.{digest.partition('.')[2]}",  # a pepper version that does not exist
        "1.x",
        "",
        "not-a-token",
    ]
    for fake in forged:
        answer = visit(context, "POST", code, [("undo", fake)], accept="application/json")
        assert (answer["statusCode"], json.loads(answer["body"])) == (409, {"status": "undo_unavailable"})
    assert states()["sms:newsletter"] == "opted_out"
    assert "optout_undone" not in evidence_types()


def test_an_undo_token_of_one_code_does_nothing_for_another(context, outbox, code, clock):
    dropped = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    token = undo_token(dropped["body"])
    other = "+4915112345679"
    from tests.fixtures.journeys import sign_up

    sign_up(context, outbox, phone=other, confirm=True)
    from smsconsent import keys, store

    other_code = store.load_subject("demo", keys.subject_hashes("demo", other)).optout_code
    answer = visit(context, "POST", other_code, [("undo", token)], accept="application/json")
    assert answer["statusCode"] == 409
    assert states()["sms:newsletter"] == "opted_out"


def test_an_undo_after_the_window_does_nothing(context, code, clock):
    dropped = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    clock.advance(minutes=15)
    answer = visit(context, "POST", code, [("undo", undo_token(dropped["body"]))])
    assert answer["statusCode"] == 409
    assert states()["sms:newsletter"] == "opted_out"


@pytest.mark.parametrize("partial", [True, False])
def test_an_undo_after_an_sms_stop_does_nothing(context, code, clock, partial):
    # Given the page's opt-out (of one purpose, or of everything: then the STOP finds
    # nothing left in force to withdraw)
    form = [("partial", "1"), ("purposes", "newsletter")] if partial else []
    dropped = visit(context, "POST", code, form)
    clock.advance(minutes=1)
    # When the person also texts STOP, and then clicks the undo
    stop()
    answer = visit(context, "POST", code, [("undo", undo_token(dropped["body"]))])
    # Then nothing comes back: the STOP's opt-out is no one's to undo
    assert answer["statusCode"] == 409
    assert states() == {"sms:marketing": "opted_out", "sms:newsletter": "opted_out", "sms:orders": "active"}
    assert "optout_undone" not in evidence_types()
    assert evidence_types()[-1] == "optout"


def test_start_after_the_page_still_restores_and_voids_the_undo(context, code, clock):
    dropped = visit(context, "POST", code, [])
    from tests.fixtures.journeys import inbound, twilio_event

    inbound(context, twilio_event("START", sid="SM-start"))
    assert states()["sms:marketing"] == "active"
    answer = visit(context, "POST", code, [("undo", undo_token(dropped["body"]))])
    assert answer["statusCode"] == 409
    assert "optout_undone" not in evidence_types()


def test_the_undo_is_published_as_consent_restored(context, code):
    from smsconsent import events, store

    dropped = visit(context, "POST", code, [("partial", "1"), ("purposes", "newsletter")])
    visit(context, "POST", code, [("undo", undo_token(dropped["body"]))])
    last = store.evidence_of(subject().pk)[-1]
    event = events.cloud_event(
        "demo",
        "key",
        {"type": last.type, "at": last.at, "seq": last.seq, "data": last.data, "hash": last.hash},
        PHONE,
    )
    assert event is not None and event["type"] == "consent.restored"
    assert (event["data"]["via"], event["data"]["purposes"]) == ("link", ["newsletter"])


def test_a_stop_inside_the_window_is_recorded_and_published_as_its_own_opt_out(context, code, clock):
    visit(context, "POST", code, [])
    stop()
    from smsconsent import store

    last = store.evidence_of(subject().pk)[-1]
    assert last.type == "optout" and last.data["via"] == "sms_keyword"
    assert sorted(last.data["consents"]) == ["sms:marketing", "sms:newsletter"]


def test_a_stop_after_the_window_changes_nothing_as_any_repeated_stop(context, code, clock):
    visit(context, "POST", code, [])
    clock.advance(minutes=20)
    stop()
    assert evidence_types().count("optout") == 1


def test_the_partial_opt_out_event_of_the_events_folder(context, code):
    from functions.confirm.app import handler

    event = load_event("optout-partial.json")
    event.update(rawPath=f"/o/{code}", pathParameters={"code": code})
    event["requestContext"]["http"]["path"] = f"/o/{code}"
    answer = handler(event, context)
    assert answer["statusCode"] == 200 and 'data-status="opted_out_now"' in answer["body"]
    assert states()["sms:newsletter"] == "opted_out" and states()["sms:marketing"] == "active"
