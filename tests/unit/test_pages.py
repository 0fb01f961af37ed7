"""Every page function escapes what is not its own markup: a tenant name, purpose
descriptions, the controller, a person's reason or device, the undo token, a back link."""

from __future__ import annotations

import pytest

from smsconsent import pages

EVIL = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>"


def _report() -> pages.Report:
    return pages.Report(
        tenant_name=EVIL,
        controller=EVIL,
        phone=EVIL,
        held=True,
        suppressed=False,
        consents=(
            pages.ReportConsent(
                "sms", EVIL, "active", "2026-11-22T10:00:00Z", EVIL, EVIL, EVIL, "2028-05-16T10:00:00Z"
            ),
        ),
        events=(
            pages.ReportEvent(
                "2026-11-22T10:00:00Z", "optout", "sms_keyword", EVIL, (EVIL,), EVIL, EVIL, EVIL, EVIL
            ),
            pages.ReportEvent("2026-11-22T10:00:00Z", EVIL, EVIL),
        ),
        processors=((EVIL, EVIL),),
        token_ttl_hours=48,
        lapse_after_days=540,
        evidence_retention_days=1461,
        evidence_until="2030-11-22T10:00:00Z",
        as_of="2026-11-22T10:00:00Z",
    )


@pytest.mark.parametrize("lang", ["en", "de"])
def test_nothing_outside_our_markup_reaches_a_page_unescaped(lang: str) -> None:
    choices = pages.Choices(EVIL, {"a": EVIL, "b": EVIL}, [EVIL])
    refused = pages.Refused("country_not_allowed", "phone", EVIL, (EVIL,), EVIL)
    rendered = [
        pages.confirm_prompt(lang, EVIL, EVIL),
        pages.optout_prompt(lang, EVIL, choices),
        pages.optout_prompt(lang, EVIL, pages.Choices(EVIL, {"a": EVIL}, None)),
        pages.optout_done(lang, choices, [EVIL], True, EVIL, 15, EVIL),
        pages.undo_outcome(lang, choices, [EVIL], 15, EVIL),
        pages.undo_outcome(lang, choices, [], 15, EVIL),
        pages.outcome(lang, "confirmed", EVIL),
        pages.check_your_phone(lang, 48, True),
        pages.form_refused(lang, refused, EVIL),
        pages.form_refused(lang, pages.Refused("origin_not_allowed", EVIL, EVIL), None),
        pages.access_report(lang, _report()),
        pages.erasure(lang, "suppression_kept", "2030-11-22T10:00:00Z"),
    ]
    for html in rendered:
        assert "<script" not in html and "<img" not in html
        assert html.startswith(f'<!doctype html><html lang="{lang}">')
        assert "<h1" in html and "<main>" in html


def test_a_partial_form_never_posts_without_its_marker() -> None:
    html = pages.optout_prompt("en", "Shop", pages.Choices("Shop", {"a": "A", "b": "B"}, []))
    some = html.split('<form method="post" id="some">', 1)[1].split("</form>", 1)[0]
    assert '<input type="hidden" name="partial" value="1">' in some
    assert 'name="reason"' not in some  # the reason belongs to the everything-button's form
