"""The privacy function's pages on moto: the access report (Accept: text/html) a privacy
officer hands to the person, and the erasure's answer in words."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.fixtures.events import load_event
from tests.fixtures.journeys import sign_up, stop, subject

pytestmark = pytest.mark.usefixtures("aws")

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def call(context: Any, name: str, accept: str = HTML, language: str = "en-US,en;q=0.9") -> dict[str, Any]:
    from functions.privacy.app import handler

    event = load_event(name)
    event["headers"].update({"accept": accept, "accept-language": language})
    answer: dict[str, Any] = handler(event, context)
    return answer


def test_the_access_report_is_a_page_in_the_persons_language_without_hashes(context, outbox):
    sign_up(context, outbox, confirm=True)
    answer = call(context, "privacy-export.json")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    page = answer["body"]
    # German, the language of the signup, whatever the officer's browser says
    assert '<html lang="de">' in page and "Auskunft über Ihre Daten" in page
    # the controller, the number, each consent with the exact wording the person saw
    assert "Demo Shop GmbH, Musterstraße 1, 10115 Berlin, privacy@demo.example" in page
    assert "+4915112345678" in page
    assert (
        "<blockquote>Ja, ich möchte Angebote und Neuigkeiten von Demo Shop per SMS erhalten (höchstens 3 SMS "
        "in 7 Tagen). Ich kann mich jederzeit mit STOP abmelden.</blockquote>"
    ) in page
    assert "aktiv seit 22.11.2026" in page and "Text signup-sms, Version 1" in page
    # when and how: the signup (with its IP) and the confirmation by link
    assert "Anmeldung: Angebote und Neuigkeiten von Demo Shop, über die Website von Demo Shop" in page
    assert (
        "Einwilligung bestätigt: Angebote und Neuigkeiten von Demo Shop, über den Link in einer SMS" in page
    )
    assert "IP-Adresse 198.51.100." in page
    # retention periods and who processes the data
    assert "48 Stunden" in page and "540 Tagen" in page and "1461 Tage" in page
    assert "Amazon Web Services" in page and "Twilio Inc.: Empfang Ihrer SMS-Antworten" in page
    # no internal hashes, keys or tokens
    found = subject()
    assert found.pk.rsplit("#", 1)[-1].split(".", 1)[1] not in page
    assert not re.search(r"[0-9a-f]{32}", page), "a hash is in the report"
    assert "sha256" not in page.lower() and "token" not in page.lower()


def test_the_access_report_after_an_opt_out_says_when_and_how(context, outbox):
    sign_up(context, outbox, confirm=True)
    stop()
    page = call(context, "privacy-export.json")["body"]
    assert (
        "abgemeldet am 22.11.2026" in page
        and "Abgemeldet: Angebote und Neuigkeiten von Demo Shop und den Demo-Shop-Newsletter, per SMS (STOP)"
        in page
    )
    assert "bis zum 22.11.2030" in page  # the evidence period after the consent ended


def test_the_access_report_of_an_erased_number_says_only_the_marker_is_left(context, outbox):
    sign_up(context, outbox, confirm=True)
    stop()
    call(context, "privacy-erase.json", accept="application/json")
    page = call(context, "privacy-export.json")["body"]
    assert (
        '<html lang="en">' in page
    )  # the person's language went with the erasure: the browser's, of the tenant's
    assert "We hold no personal data about this number any more" in page
    assert "+4915112345678" not in page
    assert "Personal data erased" in page


def test_the_access_report_of_an_unknown_number_says_nothing_is_held(context):
    page = call(context, "privacy-export.json", language="de")["body"]
    assert "Zu dieser Nummer speichern wir keine personenbezogenen Daten." in page


def test_json_stays_the_default_of_the_access_route(context, outbox):
    sign_up(context, outbox, confirm=True)
    answer = call(context, "privacy-export.json", accept="*/*")
    assert answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["held"] is True


def test_the_erasure_answers_in_words_what_was_kept_and_why(context, outbox):
    sign_up(context, outbox, confirm=True)
    stop()
    answer = call(context, "privacy-erase.json", accept="application/json")
    body = json.loads(answer["body"])
    assert body["outcome"] == "suppression_kept" and "suppression marker is kept" in body["summary"]
    assert [k["what"] for k in body["kept"]] == ["suppression_marker", "evidence"]
    assert all(k["why"] and k["detail"] for k in body["kept"])
    again = json.loads(call(context, "privacy-erase.json", accept="application/json")["body"])
    assert again["held"] is True and again["outcome"] == "already_erased"
    assert "nothing more was erased" in again["summary"]
    page = call(context, "privacy-erase.json", language="de")
    assert page["statusCode"] == 200 and 'data-status="already_erased"' in page["body"]
    assert "Behalten bis zum 22.11.2030" in page["body"]


def test_the_erasure_of_an_unknown_number_says_nothing_was_held(context):
    body = json.loads(call(context, "privacy-erase.json", accept="application/json")["body"])
    assert (body["held"], body["outcome"], body["kept"]) == (False, "nothing_held", [])
    assert body["summary"] == "Nothing was held on this number, so nothing was erased."


def test_the_report_event_of_the_events_folder(context, outbox):
    from functions.privacy.app import handler

    sign_up(context, outbox, confirm=True)
    answer = handler(load_event("privacy-report-html.json"), context)
    assert answer["statusCode"] == 200 and "Auskunft über Ihre Daten" in answer["body"]
