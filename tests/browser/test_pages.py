"""What a person sees: the demo form, the confirmation page and its button, the outbox,
in headless Chromium against the local stack."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack

pytestmark = pytest.mark.browser

PHONE = "+4915112345678"


def _get_json(stack: LocalStack, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(stack.url + path, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def _signup(stack: LocalStack, language: str) -> None:
    body = {"phone": PHONE, "consent": True, "age_confirmed": True, "language": language}
    request = urllib.request.Request(
        stack.url + "/v1/demo/signup",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202


def _messages(stack: LocalStack) -> list[dict[str, Any]]:
    assert stack.settle(timeout=10)  # queued signups processed (SignupQueue's stand-in)
    status, body = _get_json(stack, "/_local/outbox")
    assert status == 200
    messages: list[dict[str, Any]] = body["messages"]
    return messages


def _link(stack: LocalStack) -> str:
    (message,) = _messages(stack)
    match = re.search(r"http://127\.0\.0\.1:\d+/c/[A-Za-z0-9_-]+", message["body"])
    assert match, message["body"]
    assert match.group(0).startswith(stack.url + "/c/")
    return match.group(0)


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
    (message,) = _messages(stack)
    assert message["to"] == PHONE
    assert message["kind"] == "confirmation"
    assert "Confirm: " + stack.url + "/c/" in message["body"]  # the page was English, so is the SMS


def test_confirm_button(stack: LocalStack, page: Any, tmp_path: Path) -> None:
    _signup(stack, "en")
    link = _link(stack)
    token_path = link.removeprefix(stack.url)

    # When the link is opened, Then a Confirm button shows and nothing is confirmed yet
    page.goto(link)
    button = page.locator("button#confirm")
    assert button.is_visible()
    assert button.inner_text() == "Confirm"
    assert _get_json(stack, token_path) == (200, {"status": "pending"})
    page.screenshot(path=str(tmp_path / "confirm.png"), full_page=True)
    assert (tmp_path / "confirm.png").stat().st_size > 1000

    # When the button is clicked, Then the page says confirmed
    button.click()
    page.wait_for_load_state()
    heading = page.locator("h1")
    assert heading.get_attribute("data-status") == "confirmed"
    assert heading.inner_text() == "Thank you, you are subscribed"
    assert _get_json(stack, token_path) == (200, {"status": "already_confirmed"})

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

    page.goto(_link(stack))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "SMS-Anmeldung bestätigen"
    page.locator("button#confirm", has_text="Bestätigen").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Danke, Ihre Anmeldung ist bestätigt"


def test_outbox_link_opens_the_confirmation_page(stack: LocalStack, page: Any) -> None:
    _signup(stack, "en")
    link = _link(stack)

    page.goto(stack.url + "/_local/outbox")
    anchor = page.locator(f'a[href="{link}"]')
    assert anchor.count() == 1
    anchor.click()
    page.wait_for_load_state()

    assert page.url == link
    assert page.locator("button#confirm").is_visible()
    assert _get_json(stack, link.removeprefix(stack.url)) == (200, {"status": "pending"})
