"""The per-recipient opt-out page in headless Chromium: the link shows a page (changing
nothing), its Unsubscribe button with an optional reason opts out."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from local.stack import LocalStack
from tests.fixtures.journeys import PHONE, confirmation_link, get_json, sign_up_in

pytestmark = pytest.mark.browser


def _confirm(stack: LocalStack) -> None:
    sign_up_in(stack, "en")
    request = urllib.request.Request(
        confirmation_link(stack), data=b"", method="POST", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer) == {"status": "confirmed"}


def _export(stack: LocalStack) -> dict[str, Any]:
    status, body = get_json(stack, f"/v1/demo/subjects/{quote(PHONE)}")
    assert status == 200
    found: dict[str, Any] = body
    return found


def test_unsubscribe_button_with_a_reason(stack: LocalStack, page: Any, tmp_path: Path) -> None:
    # Given a confirmed number and its opt-out link (as the pre-send footer gives it)
    _confirm(stack)
    link = _export(stack)["subject"]["optout_url"]
    assert link.startswith(stack.url + "/o/") and "4915112345678" not in link

    # When the link is opened, Then the page shows the button and nothing changed yet
    page.goto(link)
    button = page.locator("button#unsubscribe")
    assert button.is_visible() and button.inner_text() == "Unsubscribe"
    page.screenshot(path=str(tmp_path / "optout.png"), full_page=True)
    assert {c["state"] for c in _export(stack)["consents"]} == {"active"}

    # When a reason is typed and the button clicked, Then the page says so and it is done
    page.fill("#reason", "Too many messages")
    button.click()
    page.wait_for_load_state()
    assert page.locator("h1").get_attribute("data-status") == "opted_out_now"
    held = _export(stack)
    assert {c["state"] for c in held["consents"]} == {"opted_out"}
    optout = next(e for e in held["evidence"] if e["type"] == "optout")
    assert optout["data"]["via"] == "link" and optout["personal_data"]["reason"] == "Too many messages"

    # And a second visit says already unsubscribed, with no button
    page.goto(link)
    assert page.locator("h1").get_attribute("data-status") == "already_opted_out"
    assert page.locator("button#unsubscribe").count() == 0
