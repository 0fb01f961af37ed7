"""Every page a person (or a privacy officer) reads, in headless Chromium against the local
stack, at desktop (1280x800) and phone (390x844) size: each is screenshot into
tests/browser/artefacts/ (kept by CI, ignored by git) and audited (``audit``: the lang
attribute, one h1 and no skipped heading level, a label for every control, text contrast of
at least 4.5:1 from the computed styles, and the order Tab walks the controls)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import PHONE, call, confirmation_link, get_json

pytestmark = pytest.mark.browser


def _confirmed(stack: LocalStack, language: str, purposes: str = "marketing,newsletter") -> str:
    """A number signed up in ``language`` for ``purposes`` and confirmed: its opt-out link."""
    body = {
        "phone": PHONE,
        "consent": True,
        "age_confirmed": True,
        "language": language,
        "purposes": purposes,
    }
    assert (
        call(stack, "POST", "/v1/demo/signup", json_body=body, headers={"Accept": "application/json"}).status
        == 202
    )
    request = urllib.request.Request(
        confirmation_link(stack), data=b"", method="POST", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer) == {"status": "confirmed"}
    status, held = get_json(stack, f"/v1/demo/subjects/{quote(PHONE)}")
    assert status == 200
    link: str = held["subject"]["optout_url"]
    return link


def _states(stack: LocalStack) -> dict[str, str]:
    _status, held = get_json(stack, f"/v1/demo/subjects/{quote(PHONE)}")
    return {f"{c['channel']}:{c['purpose']}": c["state"] for c in held["consents"]}


def test_the_preference_page_drops_one_purpose_and_undoes_it(
    stack: LocalStack, page: Any, audit: Any
) -> None:
    link = _confirmed(stack, "en")
    page.goto(link)
    # Each purpose in force can be dropped alone; the note says what continues
    assert page.locator("h1").inner_text() == "Your SMS from Demo Shop"
    assert (
        page.locator("#note").inner_text().startswith("Messages you need, such as order and delivery updates")
    )
    audit(
        page,
        "optout-preferences-en",
        "en",
        tab_order=["purpose-marketing", "purpose-newsletter", "drop", "reason", "unsubscribe"],
    )

    # When only the newsletter is ticked and dropped
    page.get_by_label("The Demo Shop newsletter").check()
    page.locator("#drop").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your choice is saved"
    assert page.locator("#still").inner_text() == "You still get: offers and news from Demo Shop."
    assert _states(stack) == {"sms:marketing": "active", "sms:newsletter": "opted_out"}
    audit(page, "optout-partial-done-en", "en", tab_order=["undo", "manage"])

    # When the undo is clicked, Then the newsletter is back
    token = page.locator("input[name=undo]").get_attribute("value")
    page.locator("#undo").click()
    page.wait_for_load_state()
    assert page.locator("h1").get_attribute("data-status") == "restored"
    assert _states(stack) == {"sms:marketing": "active", "sms:newsletter": "active"}
    audit(page, "optout-restored-en", "en", tab_order=["manage"])

    # And the same undo posted again (a resubmitted form) does nothing
    with page.expect_navigation():
        page.evaluate(
            """([action, token]) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = action;
                const field = document.createElement('input');
                field.type = 'hidden';
                field.name = 'undo';
                field.value = token;
                form.append(field);
                document.body.append(form);
                form.submit();
            }""",
            [link, token],
        )
    assert page.locator("h1").get_attribute("data-status") == "undo_unavailable"
    audit(page, "optout-undo-unavailable-en", "en", tab_order=["manage"])


def test_the_german_preference_page_refuses_a_choice_of_nothing(
    stack: LocalStack, german_page: Any, audit: Any
) -> None:
    link = _confirmed(stack, "de")
    page = german_page
    page.goto(link)
    assert page.locator("h1").inner_text() == "Ihre SMS von Demo Shop"
    audit(
        page,
        "optout-preferences-de",
        "de",
        tab_order=["purpose-marketing", "purpose-newsletter", "drop", "reason", "unsubscribe"],
    )
    # Nothing ticked is never read as "everything"
    page.locator("#drop").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Bitte prüfen Sie Ihre Eingabe"
    assert page.locator("#field").get_attribute("data-field") == "purposes"
    assert set(_states(stack).values()) == {"active"}
    audit(page, "optout-refused-de", "de", tab_order=["back"])
    page.locator("#back").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Ihre SMS von Demo Shop"

    # The whole STOP scope with the one button, and its undo
    page.locator("#unsubscribe").click()
    page.wait_for_load_state()
    assert page.locator("h1").get_attribute("data-status") == "opted_out_now"
    assert set(_states(stack).values()) == {"opted_out"}
    audit(page, "optout-all-done-de", "de", tab_order=["undo", "manage"])


def test_a_refused_signup_names_countries_and_leads_back_to_the_form(
    stack: LocalStack, page: Any, german_page: Any, audit: Any
) -> None:
    for browser_page, lang, text in (
        (page, "en", "This number is from Italy."),
        (german_page, "de", "Diese Nummer ist aus Italien."),
    ):
        browser_page.goto(stack.url + "/")
        browser_page.fill("#phone", "+39 312 345 6789")
        browser_page.check("input[name=consent]")
        browser_page.check("input[name=age_confirmed]")
        browser_page.click("#signup")
        browser_page.wait_for_load_state()
        assert browser_page.locator("h1").get_attribute("data-code") == "country_not_allowed"
        problem = browser_page.locator("#problem").inner_text()
        assert text in problem and " IT" not in problem
        audit(browser_page, f"signup-refused-{lang}", lang, tab_order=["back"])
        browser_page.locator("#back").click()
        browser_page.wait_for_load_state()
        assert browser_page.url == stack.url + "/"


def test_check_your_phone_says_how_long_and_that_a_reply_works(
    stack: LocalStack, page: Any, audit: Any
) -> None:
    page.goto(stack.url + "/v1/demo/signup")
    assert page.locator("#expiry").inner_text() == "The link works for 48 hours."
    assert page.locator("#reply").inner_text() == "You can also reply YES to the SMS instead."
    audit(page, "check-your-phone-en", "en", tab_order=[])


def test_the_confirm_page(stack: LocalStack, german_page: Any, audit: Any) -> None:
    body = {"phone": PHONE, "consent": True, "age_confirmed": True, "language": "de"}
    assert (
        call(stack, "POST", "/v1/demo/signup", json_body=body, headers={"Accept": "application/json"}).status
        == 202
    )
    german_page.goto(confirmation_link(stack))
    audit(german_page, "confirm-de", "de", tab_order=["confirm"])


def test_the_access_report_is_printable_in_the_persons_language(
    stack: LocalStack, page: Any, audit: Any
) -> None:
    link = _confirmed(stack, "de")
    page.goto(link)
    page.get_by_label("Den Demo-Shop-Newsletter").check()
    page.locator("#drop").click()
    page.wait_for_load_state()

    page.goto(f"{stack.url}/v1/demo/subjects/{quote(PHONE)}")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Auskunft über Ihre Daten"
    text = page.locator("main").inner_text()
    assert "Ja, ich möchte Angebote und Neuigkeiten von Demo Shop per SMS erhalten" in text
    assert "Abgemeldet: den Demo-Shop-Newsletter, über den Link in einer SMS" in text
    assert "Amazon Web Services" in text
    assert "sha" not in text.lower() and "token" not in text.lower()
    audit(page, "access-report-de", "de", tab_order=[])
    page.emulate_media(media="print")
    audit(page, "access-report-de-print", "de", tab_order=[], sizes=[(1280, 800)])
    page.pdf(path=str(audit.folder / "access-report-de.pdf"))
    assert (audit.folder / "access-report-de.pdf").stat().st_size > 5000
