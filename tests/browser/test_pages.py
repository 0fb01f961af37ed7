"""What a person sees: the demo form, the confirmation page and its button, the outbox,
in headless Chromium against the local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import PHONE, confirmation_link, get_json, sent_messages, sign_up_in

pytestmark = pytest.mark.browser


def test_demo_form_lands_on_check_your_phone(stack: LocalStack, page: Any) -> None:
    # Given the demo form
    page.goto(stack.url + "/")
    assert page.locator("#consent-text").inner_text().startswith("Yes, I want to get offers")
    # The honeypot is off-screen and out of the tab order
    box = page.locator("#website").bounding_box()
    assert box is None or box["x"] + box["width"] <= 0
    assert page.locator("#website").get_attribute("tabindex") == "-1"

    # When a person fills it in and submits
    page.fill("#phone", "0151 12345678")
    page.check("input[name=consent]")
    page.check("input[name=age_confirmed]")
    page.click("#signup")

    # Then they land on the "check your phone" page and the SMS is in the outbox
    page.wait_for_load_state()
    assert page.url == stack.url + "/v1/demo/signup"
    assert page.locator("h1").inner_text() == "Check your phone"
    (message,) = sent_messages(stack)
    assert message["to"] == PHONE
    assert message["kind"] == "confirmation"
    assert "Confirm: " + stack.url + "/c/" in message["body"]  # the page was English, so is the SMS


def test_confirm_button(stack: LocalStack, page: Any, tmp_path: Path) -> None:
    sign_up_in(stack, "en")
    link = confirmation_link(stack)
    token_path = link.removeprefix(stack.url)

    # When the link is opened, Then a Confirm button shows and nothing is confirmed yet
    page.goto(link)
    button = page.locator("button#confirm")
    assert button.is_visible()
    assert button.inner_text() == "Confirm"
    assert get_json(stack, token_path) == (200, {"status": "pending"})
    page.screenshot(path=str(tmp_path / "confirm.png"), full_page=True)
    assert (tmp_path / "confirm.png").stat().st_size > 1000

    # When the button is clicked, Then the page says confirmed
    button.click()
    page.wait_for_load_state()
    heading = page.locator("h1")
    assert heading.get_attribute("data-status") == "confirmed"
    assert heading.inner_text() == "Thank you, you are subscribed"
    assert get_json(stack, token_path) == (200, {"status": "already_confirmed"})

    # And a second visit says already confirmed
    page.goto(link)
    assert page.locator("h1").get_attribute("data-status") == "already_confirmed"
    assert page.locator("h1").inner_text() == "Already confirmed"
    assert page.locator("button#confirm").count() == 0


def test_german_pages(stack: LocalStack, german_page: Any) -> None:
    page = german_page
    page.goto(stack.url + "/")
    assert page.locator("#consent-text").inner_text().startswith("Ja, ich möchte Angebote")
    page.fill("#phone", "0151 12345678")
    page.check("input[name=consent]")
    page.check("input[name=age_confirmed]")
    page.click("#signup")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Bitte prüfen Sie Ihr Telefon"

    page.goto(confirmation_link(stack))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "SMS-Anmeldung bestätigen"
    page.locator("button#confirm", has_text="Bestätigen").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Danke, Ihre Anmeldung ist bestätigt"


def test_outbox_link_opens_the_confirmation_page(stack: LocalStack, page: Any) -> None:
    sign_up_in(stack, "en")
    link = confirmation_link(stack)

    page.goto(stack.url + "/_local/outbox")
    anchor = page.locator(f'a[href="{link}"]')
    assert anchor.count() == 1
    anchor.click()
    page.wait_for_load_state()

    assert page.url == link
    assert page.locator("button#confirm").is_visible()
    assert get_json(stack, link.removeprefix(stack.url)) == (200, {"status": "pending"})
