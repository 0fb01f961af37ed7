"""SMS texts: segment counting (GSM-7 and UCS-2) and the confirmation SMS (SPEC rule 2)."""

from __future__ import annotations

from typing import Any

import pytest

from smsconsent import messages
from smsconsent.tenants import Tenant

URL = "http://127.0.0.1:3000/c/" + "Ab3_-" * 4 + "Xy9z"  # a 24-character token

# ---- segments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segments_160_then_153(length: int, expected: int) -> None:
    # Given plain GSM-7 text of a given length
    # Then one SMS holds 160 characters, concatenated ones 153 each
    assert messages.segments("a" * length) == expected


@pytest.mark.parametrize(
    ("length", "expected"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segments_70_then_67(length: int, expected: int) -> None:
    # Given text with one character outside GSM-7 (forcing UCS-2)
    text = "Ж" + "a" * (length - 1)
    # Then one SMS holds 70 UTF-16 units, concatenated ones 67 each
    assert messages.segments(text) == expected


@pytest.mark.parametrize("char", list("^{}\\[~]|€"))
def test_extension_characters_count_twice(char: str) -> None:
    # Given 80 extension characters (160 septets) and then one more
    # Then 80 still fit one SMS and 81 need two (and the text stays GSM-7, not UCS-2)
    assert messages.segments(char * 80) == 1
    assert messages.segments(char * 81) == 2
    assert messages.segments("a" * 159 + char) == 2


def test_german_umlauts_and_sharp_s_are_gsm7() -> None:
    # Given 160 characters of German with ä, ö, ü, Ä, Ö, Ü and ß
    text = ("äöüÄÖÜß " * 20)[:160]
    # Then they fit one GSM-7 SMS (in UCS-2 they would need three)
    assert len(text) == 160
    assert messages.segments(text) == 1


@pytest.mark.parametrize("char", ["😀", "ł", "č", "ş", "ő", "\u201c", "\u2019", "\u2013", "\u2026", "ê", "á"])
def test_non_gsm_character_forces_ucs2(char: str) -> None:
    # Given 100 GSM characters (one segment in GSM-7) and one character outside GSM-7
    text = "a" * 100 + char
    # Then the whole text is UCS-2: more than 70 units need two segments
    assert messages.segments(text) == 2


def test_emoji_counts_two_utf16_units() -> None:
    # Given 35 emoji (70 UTF-16 units, surrogate pairs) and then one more
    # Then 35 fit one SMS and 36 need two
    assert messages.segments("😀" * 35) == 1
    assert messages.segments("😀" * 36) == 2


# ---- the confirmation SMS ------------------------------------------------------------------

EXPECTED = {
    "de": {"frequency": "höchstens 3 SMS in 7 Tagen", "reply": "JA", "costs": "SMS-Kosten"},
    "en": {"frequency": "up to 3 msgs per 7 days", "reply": "YES", "costs": "rates may apply"},
}


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("purposes", [["marketing"], ["marketing", "newsletter"]])
def test_confirmation_sms_says_everything_rule_2_asks(
    demo: Tenant, language: str, purposes: list[str]
) -> None:
    # Given the demo tenant
    # When the confirmation SMS is written
    text = messages.confirmation(demo, purposes, language, URL)
    # Then it names the sender, the frequency, the cost, how to stop, the link and the reply hint
    assert text.startswith("Demo Shop:")
    assert EXPECTED[language]["frequency"] in text
    assert EXPECTED[language]["costs"] in text
    assert "STOP" in text
    assert URL in text
    assert EXPECTED[language]["reply"] in text
    # And it describes what will be sent in the person's language
    for purpose in purposes:
        assert demo.purposes[purpose].description[language] in text
    # And it fits in three segments, with the link intact (followed by a space or the end)
    assert messages.segments(text) <= messages.MAX_SEGMENTS
    after = text.split(URL, 1)[1]
    assert after == "" or after[0] == " "


def test_no_reply_hint_without_confirm_by_reply(demo_doc: dict[str, Any]) -> None:
    # Given a tenant that does not allow confirming by reply
    demo_doc["double_opt_in"]["confirm_by_reply"] = False
    tenant = Tenant.from_dict(demo_doc)
    # When its confirmation SMS is written
    # Then it does not invite a YES/JA reply
    assert "YES" not in messages.confirmation(tenant, ["marketing"], "en", URL)
    assert " JA " not in messages.confirmation(tenant, ["marketing"], "de", URL) + " "


def test_frequency_from_the_tenant_or_generic(demo_doc: dict[str, Any]) -> None:
    # Given a tenant with its own wording of the frequency, and one without cap or wording
    custom = dict(demo_doc, message_frequency={"de": "etwa 2 SMS im Monat", "en": "about 2 msgs a month"})
    uncapped = dict(demo_doc)
    uncapped.pop("frequency_cap")
    # When confirmation texts are written
    # Then the tenant's own wording wins, and without a cap the SMS still says it recurs
    assert "about 2 msgs a month" in messages.confirmation(Tenant.from_dict(custom), ["marketing"], "en", URL)
    assert "etwa 2 SMS im Monat" in messages.confirmation(Tenant.from_dict(custom), ["marketing"], "de", URL)
    assert "recurring msgs" in messages.confirmation(Tenant.from_dict(uncapped), ["marketing"], "en", URL)


@pytest.mark.parametrize("language", ["de", "en"])
def test_absurdly_long_description_falls_back_and_still_fits(demo_doc: dict[str, Any], language: str) -> None:
    # Given a purpose whose description would not fit in three segments
    long_description = "Sonderangebote " * 40
    demo_doc["purposes"]["marketing"]["description"] = {"de": long_description, "en": long_description}
    tenant = Tenant.from_dict(demo_doc)
    # When the confirmation SMS is written
    text = messages.confirmation(tenant, ["marketing"], language, URL)
    # Then it falls back to the generic wording, keeps every required part, and fits
    assert long_description.strip() not in text
    assert "Sonderangebote" not in text
    assert messages._FALLBACK_WHAT[language] in text
    assert URL in text and "STOP" in text and "Demo Shop" in text
    assert messages.segments(text) <= messages.MAX_SEGMENTS


def test_confirmation_contains_no_advertising_wording(demo: Tenant) -> None:
    # Given the demo tenant's confirmation SMS in both languages
    for language in ("de", "en"):
        text = messages.confirmation(demo, ["marketing", "newsletter"], language, URL).lower()
        # Then it carries no sales wording of its own (loose check)
        for word in ("%", "sale", "rabatt", "gratis", "free", "discount", "gutschein"):
            assert word not in text


@pytest.mark.parametrize("language", ["de", "en"])
def test_tenant_name_outside_gsm7_still_fits_three_segments(demo_doc: dict[str, Any], language: str) -> None:
    # Given a tenant named with a Polish letter
    demo_doc["name"] = "Łódź Shop"
    tenant = Tenant.from_dict(demo_doc)
    # When its confirmation SMS is written
    text = messages.confirmation(tenant, ["marketing"], language, URL)
    # Then it still fits in three segments
    assert messages.segments(text) <= messages.MAX_SEGMENTS


@pytest.mark.parametrize(("language", "named"), [("en", "on WhatsApp"), ("de", "per WhatsApp")])
def test_a_whatsapp_confirmation_names_the_channel_it_is_for(demo: Tenant, language: str, named: str) -> None:
    text = messages.confirmation(demo, ["marketing"], language, URL, "whatsapp")
    assert named in text and "by SMS" not in text and "per SMS" not in text
    assert messages.segments(text) <= 3
