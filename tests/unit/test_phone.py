"""Phone numbers: E.164 normalisation, region detection, refusal of what cannot get an SMS."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsconsent import phone

DE_MOBILE = "+4915112345678"


def _digits(ascii_number: str, zero: int) -> str:
    """``ascii_number`` with its digits 0-9 written from another script starting at ``zero``."""
    return ascii_number.translate({ord("0") + i: zero + i for i in range(10)})


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("0151 12345678", "DE"),
        ("015112345678", "DE"),
        ("0151/12345678", "DE"),
        ("0151-123 456 78", "DE"),
        ("+49 (151) 123-45678", None),
        ("+49 (151) 123-45678", "US"),  # an explicit +CC wins over the hint
        ("+49 151 12345678", "DE"),
        ("+4915112345678", None),
        ("004915112345678", "DE"),
        ("00 49 151 12345678", "DE"),
        ("0049 (0)151 12345678", "DE"),
        ("0151 12345678", "de"),  # the hint is case-insensitive
        ("  0151 12345678\t", "DE"),  # surrounding whitespace
        ("tel:+49-151-12345678", None),
    ],
)
def test_german_mobile_in_common_formats_normalises_to_e164(raw: str, hint: str | None) -> None:
    # Given a German mobile number written in one of the usual ways
    # When it is normalised as a mobile number
    number = phone.normalise_mobile(raw, hint)
    # Then it is the one E.164 form, in Germany
    assert number == phone.Phone(e164=DE_MOBILE, region="DE")


@pytest.mark.parametrize(
    "raw",
    ["(212) 555-0123", "212-555-0123", "212.555.0123", "+1 (212) 555-0123", "1 212 555 0123", "2125550123"],
)
def test_us_number_fixed_line_or_mobile_is_accepted(raw: str) -> None:
    # Given a US number (the US plan does not tell mobile and landline apart)
    # When it is normalised with a US hint
    number = phone.normalise_mobile(raw, "US")
    # Then FIXED_LINE_OR_MOBILE counts as able to receive SMS
    assert number == phone.Phone(e164="+12125550123", region="US")


@pytest.mark.parametrize(
    ("raw", "hint", "e164", "region"),
    [
        ("06 12 34 56 78", "FR", "+33612345678", "FR"),
        ("+33 6 12 34 56 78", None, "+33612345678", "FR"),
        ("07400 123456", "GB", "+447400123456", "GB"),
        ("0664 123456", "AT", "+43664123456", "AT"),
        ("078 123 45 67", "CH", "+41781234567", "CH"),
        ("090-1234-5678", "JP", "+819012345678", "JP"),
        ("+43 664 123456", "DE", "+43664123456", "AT"),  # +CC wins over the hint
        ("0033 6 12 34 56 78", "DE", "+33612345678", "FR"),  # DE's "00" prefix, French number
    ],
)
def test_region_is_detected_from_the_number(raw: str, hint: str | None, e164: str, region: str) -> None:
    # Given mobile numbers of several countries
    # When they are normalised
    number = phone.normalise_mobile(raw, hint)
    # Then E.164 and the number's own region come out
    assert (number.e164, number.region) == (e164, region)


def test_normalise_accepts_any_valid_type_and_reports_its_region() -> None:
    # Given a German landline
    # When it is normalised without the mobile requirement
    number = phone.normalise("030 12345678", "DE")
    # Then it is accepted
    assert number == phone.Phone(e164="+493012345678", region="DE")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("+49 30 12345678", "landline (Berlin)"),
        ("030 12345678", "landline, national format"),
        ("+49 800 1234567", "toll-free"),
        ("0800 1234567", "toll-free, national format"),
        ("+49 900 1234567", "premium-rate"),
        ("+49 180 1234567", "shared-cost"),
        ("+49 700 12345678", "personal number"),
        ("+49 164 12345", "pager"),
        ("+33 1 23 45 67 89", "French landline"),
        ("+1 800 234 5678", "US toll-free"),
    ],
)
def test_numbers_that_cannot_get_sms_are_not_mobile(raw: str, kind: str) -> None:
    # Given a valid number that is not a mobile (the kind named in the parameter)
    # When it is normalised as a mobile
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile(raw, "DE")
    # Then it is refused as not_mobile, not as invalid
    assert refused.value.code == "not_mobile", kind


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\t\n",
        None,
        "None",
        "null",
        "undefined",
        "abc",
        "phone",
        "+",
        "+49",
        "0",
        "12",
        "0151",
        "+49 151 1234567a",
        "+999 151 12345678",  # no such country code
        "+49 151 123456789012345",  # too many digits
        "😀",
        "📞📞📞",
        "\u0660",  # one Arabic-Indic zero
        "\uff11\uff12",  # two full-width digits
    ],
)
def test_invalid_input_is_invalid_phone(raw: str | None) -> None:
    # Given something that is no phone number (or no complete one)
    # When it is normalised
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile(raw, "DE")  # type: ignore[arg-type]
    # Then it is refused as invalid_phone (a ValueError subclass with a message)
    assert refused.value.code == "invalid_phone"
    assert isinstance(refused.value, ValueError)
    assert str(refused.value)


def test_input_longer_than_40_characters_is_refused_even_if_it_would_parse() -> None:
    # Given the same valid number padded with inner spaces to exactly 40 and to 41 characters
    at_limit = "+49" + " " * (40 - len("+49") - len("15112345678")) + "15112345678"
    over_limit = "+49" + " " * (41 - len("+49") - len("15112345678")) + "15112345678"
    assert (len(at_limit), len(over_limit)) == (40, 41)
    # When both are normalised
    # Then 40 characters are fine and 41 are refused before parsing
    assert phone.normalise_mobile(at_limit).e164 == DE_MOBILE
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile(over_limit)
    assert refused.value.code == "invalid_phone"


def test_very_long_input_is_refused() -> None:
    # Given kilobytes of digits
    # When they are normalised
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile("1" * 5000, "DE")
    # Then they are refused without trouble
    assert refused.value.code == "invalid_phone"


@pytest.mark.parametrize(
    "raw",
    [
        _digits("0151 12345678", 0xFF10),  # full-width digits (Japanese/Chinese input methods)
        _digits("0151 12345678", 0x0660),  # Arabic-Indic digits
        _digits("0151 12345678", 0x06F0),  # Extended Arabic-Indic (Persian) digits
        _digits("0151 12345678", 0x0966),  # Devanagari digits
    ],
)
def test_unicode_decimal_digits_come_out_as_ascii_e164(raw: str) -> None:
    # Given a number typed with non-ASCII decimal digits
    # When it is normalised
    number = phone.normalise_mobile(raw, "DE")
    # Then the result is plain ASCII E.164 (keys and hashes never see other digits)
    assert number.e164 == DE_MOBILE
    assert number.e164.isascii()


def test_no_region_hint_and_no_plus_is_invalid() -> None:
    # Given a national number and no hint at all
    # When it is normalised
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile("0151 12345678", None)
    # Then it cannot be placed: invalid_phone
    assert refused.value.code == "invalid_phone"


def test_unknown_region_hint_is_invalid_not_a_crash() -> None:
    # Given a national number with a region hint that is no region
    # When it is normalised
    with pytest.raises(phone.PhoneError) as refused:
        phone.normalise_mobile("0151 12345678", "XX")
    # Then invalid_phone
    assert refused.value.code == "invalid_phone"


@pytest.mark.parametrize(
    ("e164", "zones"),
    [
        ("+4915112345678", ("Europe/Berlin",)),
        ("+493012345678", ("Europe/Berlin",)),
        ("+12125550123", ("America/New_York",)),
        ("+13105550123", ("America/Los_Angeles",)),
        ("+33612345678", ("Europe/Paris",)),
    ],
)
def test_time_zones_of_a_number(e164: str, zones: tuple[str, ...]) -> None:
    # Given a number in E.164
    # When its time zones are looked up
    # Then they are the IANA zones of its area
    assert phone.time_zones(e164) == zones


def test_time_zones_never_include_etc_unknown() -> None:
    # Given a US toll-free number (not tied to any one zone)
    # When its zones are looked up
    zones = phone.time_zones("+18002345678")
    # Then "Etc/Unknown" is filtered out (the result may be several zones or empty)
    assert "Etc/Unknown" not in zones


def _valid_numbers() -> list[str]:
    """Every region's example number of every type, and valid random ones of every calling code."""
    import random

    import phonenumbers

    found: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    rng = random.Random(3)
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for _ in range(200):
            text = f"+{code}" + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(6, 11)))
            try:
                number = phonenumbers.parse(text)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                found.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


def test_time_zones_agree_with_phonenumbers_for_every_calling_code_and_type() -> None:
    # Given thousands of valid numbers: examples of every type in every region (Antigua's
    # mobiles, US toll-free, Italian numbers with a leading zero...) and random ones
    from phonenumbers import parse
    from phonenumbers.timezone import time_zones_for_number

    numbers = _valid_numbers()
    assert len(numbers) > 4000
    # When their zones are looked up the fast way (no parse, zones by calling code)
    # Then they are exactly what phonenumbers answers for the parsed number
    wrong = [
        e164
        for e164 in numbers
        if phone.time_zones(e164)
        != tuple(z for z in time_zones_for_number(parse(e164)) if z != "Etc/Unknown")
    ]
    assert not wrong, wrong[:10]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    raw=st.one_of(
        st.text(max_size=45),
        st.from_regex(r"\A[+0-9 ()./-]{0,45}\Z"),
    ),
    hint=st.sampled_from([None, "", "DE", "us", "XX", "ZZ", "001", "ß"]),
)
def test_any_text_gives_a_phone_or_a_phone_error(raw: str, hint: str | None) -> None:
    # Given any text and any hint
    # When it is normalised as a mobile
    try:
        number = phone.normalise_mobile(raw, hint)
    except phone.PhoneError as exc:
        # Then a refusal is always a PhoneError with one of the two codes
        assert exc.code in ("invalid_phone", "not_mobile")
    else:
        # Or the result is E.164 with a two-letter region
        assert number.e164.startswith("+")
        assert number.e164[1:].isdigit() and number.e164.isascii()
        assert len(number.region) == 2


def test_every_region_phonenumbers_knows_has_a_country_name_in_english_and_german() -> None:
    import phonenumbers

    from smsconsent import phone

    for region in phonenumbers.SUPPORTED_REGIONS:
        for language in ("en", "de"):
            name = phone.country_name(region, language)
            assert name and name != region, (region, language)
    assert [phone.country_name(r, "de") for r in ("DE", "AT", "CZ", "US")] == [
        "Deutschland",
        "Österreich",
        "Tschechien",
        "Vereinigte Staaten",
    ]
    assert phone.country_name("MK", "en") == "North Macedonia"
    assert phone.country_name("FR", "fr") == "France"  # English for a language without names
    assert phone.country_name("QQ", "en") == "QQ"


def test_the_country_names_table_is_what_its_generator_writes_where_iso_codes_is_installed() -> None:
    from tools import gen_country_names

    if not gen_country_names.ISO_CODES.exists():
        # The generator's source is a Debian package; the table itself is committed.
        assert gen_country_names.TABLE.exists()
        return
    assert gen_country_names.main(["--check"]) == 0, "run: .venv/bin/python -m tools.gen_country_names"


@pytest.mark.parametrize(
    "e164", ["+4915112345678", "+12125550123", "+13055550123", "+61412345678", "+80012345678"]
)
def test_stored_zones_give_back_the_number_s_zones_from_this_release_only(e164: str) -> None:
    # Given a number's zones as a subject's item keeps them
    stored = phone.stored_zones(e164)
    # When they are read back, Then they are time_zones(e164), empty included
    assert phone.zones_from_stored(stored) == phone.time_zones(e164)
    # And what another phonenumbers release wrote is not trusted
    assert phone.zones_from_stored("pn0.0.0|" + stored.partition("|")[2]) is None
    assert phone.zones_from_stored("garbage") is None
